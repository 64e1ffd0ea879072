"""The package's layout: folders are pipeline stages, and imports point down the stack only.

Every import counts, at module level or inside a function, so a cycle cannot hide behind a lazy
import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "generator"

#: The stages from the bottom of the stack up; a module may import from its own stage or below.
STAGES = ("exceptions", "model", "layers", "equation", "torch", "render", "site", "cli", "__init__")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for target in targets:
                parts = target.split(".")
                for end in range(len(parts), 1, -1):
                    candidate = ".".join(parts[:end])
                    if candidate in modules:
                        if candidate != name and not name.startswith(candidate + "."):
                            found.add(candidate)
                        break
        graph[name] = found
    return graph


def _stage(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    return STAGES.index(top)


def test_every_module_belongs_to_a_stage():
    unknown = [m for m in _imports() if (m.split(".") + ["__init__"])[1] not in STAGES]
    assert not unknown, f"modules outside the stages {STAGES}: {unknown}"


def test_imports_point_down_the_stack():
    upward = [
        f"{module} -> {target}"
        for module, targets in _imports().items()
        for target in targets
        if _stage(target) > _stage(module)
    ]
    assert not upward, "imports that point up the stack:\n" + "\n".join(sorted(upward))


def test_no_import_cycle():
    graph = _imports()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("lesson", sorted((PACKAGE.parent / "lessons").glob("*.ipynb")))
def test_lessons_use_only_public_names(lesson):
    import json

    import generator

    for cell in json.loads(lesson.read_text(encoding="utf-8"))["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("generator"):
                assert node.module == "generator", f"{lesson.name} imports {node.module}"
                for alias in node.names:
                    assert alias.name in generator.__all__, f"{lesson.name}: {alias.name}"
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("generator.") for a in node.names), lesson.name


TESTS = Path(__file__).resolve().parent


def _skip_calls() -> list[tuple[str, int, str]]:
    """Each `pytest.skip(...)` and `pytest.importorskip(...)` of the tests: file, line, call."""
    found = []
    for path in sorted(TESTS.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("skip", "importorskip")
            ):
                found.append((path.name, node.lineno, ast.get_source_segment(text, node) or ""))
    return found


def test_torch_is_skipped_for_one_reason_in_one_place():
    """Every test needing PyTorch imports it through `torch_support.import_torch`."""
    elsewhere = [
        (name, line)
        for name, line, call in _skip_calls()
        if "torch" in call and name != "torch_support.py"
    ]
    assert not elsewhere, elsewhere


def test_no_test_skips_when_code_is_missing():
    """A renamed module or function must fail a test, not skip it (`find_spec`/`hasattr`)."""
    guarded = []
    for path in sorted(TESTS.glob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        if path.name != Path(__file__).name and (
            'find_spec("generator' in text or "is not written yet" in text
        ):
            guarded.append(path.name)
    assert not guarded, guarded
