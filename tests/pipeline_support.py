"""Helpers for the pipeline tests: a throw-away copy of the fixture course, notebook edits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def make_course(target: Path, extra_lessons: tuple[Path, ...] = ()) -> Path:
    """The fixture course (two lessons, no TensorFlow) with the repository's docs and config."""
    shutil.copy(ROOT / "mkdocs.yml", target / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", target / "docs")
    shutil.copytree(FIXTURES / "course" / "lessons", target / "lessons")
    for lesson in extra_lessons:
        shutil.copy(lesson, target / "lessons" / lesson.name)
    return target


def copy_course(course: Path, target: Path) -> Path:
    """A copy of a built course at `target`, its execution cache, staged docs, sites and their
    times included (a build records no path of its own, so the copy builds as the original
    would). Tests that all start from one built course copy it, not build it again."""
    shutil.copytree(course, target, symlinks=True)
    return target


def notebook(*cells: tuple[str, str], **course: object) -> dict:
    """A version-4 notebook from `("markdown"|"code", source)` pairs."""
    nb_cells = []
    for index, (kind, text) in enumerate(cells):
        cell = {"cell_type": kind, "id": f"c{index}", "metadata": {}, "source": text}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        nb_cells.append(cell)
    metadata = {
        "kernelspec": {
            "display_name": "Python 3",
            "language": "python",
            "name": course.pop("kernel", "python3"),
        }
    }
    if course:
        metadata["course"] = course
    return {"cells": nb_cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def write_notebook(path: Path, nb: dict) -> Path:
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path


def edit_cell(path: Path, index: int, new_source: str) -> None:
    """Replace the source of cell `index` of the notebook at `path`."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["cells"][index]["source"] = new_source
    write_notebook(path, nb)


class Events:
    """Records the build's progress events: which lessons started a kernel."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def __call__(self, lesson, state: str) -> None:
        self.events.append((lesson.path.name, state))

    def started(self) -> list[str]:
        return sorted(name for name, state in self.events if state == "running")


def course_cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """`course ARGS` in a fresh process, as a user runs it; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "generator.cli", *args],
        cwd=cwd,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_course(*args: str, cwd: Path) -> subprocess.Popen:
    """`course ARGS` started in the background (stdout and stderr to pipes, as text)."""
    return subprocess.Popen(
        [sys.executable, "-m", "generator.cli", *args],
        cwd=cwd,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def fake_model_lesson() -> dict:
    """A lesson that writes a model's files where `publish()` would (no TensorFlow needed)."""
    return notebook(
        ("markdown", "# Fake model\n\nA lesson that publishes the files of a model."),
        (
            "code",
            "import json, os\nfrom pathlib import Path\n"
            "out = Path(os.environ['COURSE_ARTIFACTS'])\n"
            "(out / 'tiny.md').write_text('# tiny\\n\\nThe page of **tiny**.\\n')\n"
            "(out / 'tiny.keras').write_bytes(b'PK not really a model')\n"
            "(out / 'tiny.json').write_text(json.dumps({'name': 'tiny', 'checks': []}))",
        ),
    )
