"""The pipeline's parts that need no kernel: lessons, pages, staging, the CLI's imports."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from generator.site.cache import ExecutionCache
from generator.site.lessons import LessonError, find_lessons, new_lesson, read_lesson
from generator.site.mkdocs import CoursePaths, SiteError, stage
from generator.site.pages import lesson_page
from tests.pipeline_support import ROOT, make_course, notebook, write_notebook


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("01-bad-json.ipynb", "{not json", "malformed notebook, not valid JSON"),
        ("01-no-cells.ipynb", '{"nbformat": 4}', "malformed notebook, it has no list of cells"),
        ("01-old.ipynb", '{"nbformat": 3, "cells": []}', "a version 3 notebook; only version 4"),
        (
            "01-v3.ipynb",
            '{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]}',
            "a version 3 notebook; only version 4 is supported (convert it: jupyter nbconvert",
        ),
        (
            "01-number-source.ipynb",
            '{"nbformat": 4, "cells": [{"cell_type": "code", "source": 12}]}',
            "the source of cell 1 is not text",
        ),
        (
            "01-odd-cell.ipynb",
            '{"nbformat": 4, "cells": [{"cell_type": "x"}]}',
            "cell 1 has no valid cell_type",
        ),
        ("01-untitled.ipynb", json.dumps(notebook(("code", "1"))), "has no heading"),
        ("lesson.ipynb", "{}", "must be NN-slug.ipynb"),
    ],
)
def test_malformed_notebook_is_one_clear_error(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(LessonError) as info:
        read_lesson(path)
    assert str(path) in info.value.format_message()
    assert message in info.value.format_message()


def test_missing_lessons_directory(tmp_path: Path) -> None:
    with pytest.raises(LessonError, match="no lessons directory"):
        find_lessons(tmp_path / "lessons")


def test_lessons_in_order_with_titles(tmp_path: Path) -> None:
    make_course(tmp_path)
    new = new_lesson(tmp_path / "lessons", "Recurrent layers: a function through time")
    assert new.name == "03-recurrent-layers-a-function-through-time.ipynb"
    lessons = find_lessons(tmp_path / "lessons")
    assert [(lesson.number, lesson.title) for lesson in lessons] == [
        (1, "Adding numbers"),
        (2, "Reading data"),
        (3, "Recurrent layers: a function through time"),
    ]


def test_markdown_from_current_notebook_outputs_from_cache(tmp_path: Path) -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    executed = notebook(("markdown", "# Old title"), ("code", "print(1)"), ("code", "plot()"))
    executed["cells"][1]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": "1\n"},
        {
            "output_type": "stream",
            "name": "stderr",
            "text": "I0000 00:00:1 port.cc:153] oneDNN custom operations are on.\n",
        },
    ]
    executed["cells"][2]["outputs"] = [
        {
            "output_type": "display_data",
            "metadata": {},
            "data": {"image/png": png, "text/plain": "<Figure>"},
        }
    ]
    current = write_notebook(
        tmp_path / "01-x.ipynb",
        notebook(
            ("markdown", "# New title"),
            ("code", "print(1)"),
            ("markdown", "More prose."),
            ("code", "plot()"),
        ),
    )
    page = lesson_page(read_lesson(current), executed, "../notebooks/01-x.ipynb", "../models")
    assert page.markdown.startswith("# New title\n\n[Download this lesson as a notebook]")
    assert "```text\n1\n```" in page.markdown and "oneDNN" not in page.markdown
    assert "More prose." in page.markdown
    assert "![Output of cell 4](01-x/cell-4-0.png)" in page.markdown
    assert page.images == {"01-x/cell-4-0.png": b"\x89PNG fake"}


def test_cache_lookup_misses_on_incomplete_entry(tmp_path: Path) -> None:
    lesson_path = write_notebook(tmp_path / "01-x.ipynb", notebook(("markdown", "# X")))
    lesson = read_lesson(lesson_path)
    cache = ExecutionCache(tmp_path / "cache")
    tmp = cache.new_entry()
    entry = cache.store(lesson, "k1", tmp, {"cells": []}, 1.0)
    assert cache.lookup(lesson, "k1") == entry
    assert cache.lookup(lesson, "k2") is None
    (entry.directory / "entry.json").unlink()
    assert cache.lookup(lesson, "k1") is None


def test_lessons_run_from_inside_a_running_event_loop(tmp_path: Path) -> None:
    """A notebook, or a test session driving a browser, already runs an event loop."""
    import asyncio

    from generator.site.cache import execution_key
    from generator.site.execute import run_lessons

    cells = notebook(("markdown", "# X"), ("code", "1 + 1"))
    (tmp_path / "lessons").mkdir()
    lesson = read_lesson(write_notebook(tmp_path / "lessons" / "01-x.ipynb", cells))
    cache = ExecutionCache(tmp_path / "cache")
    entry = cache.store(lesson, execution_key(lesson), cache.new_entry(), {"cells": []}, 1.0)

    async def inside_a_loop() -> list:
        return run_lessons([lesson], cache, jobs=1, log_dir=tmp_path / "logs")

    (run,) = asyncio.run(inside_a_loop())
    assert run.entry == entry and run.failure is None


def test_generated_page_never_overwrites_a_hand_written_one(tmp_path: Path) -> None:
    make_course(tmp_path)
    (tmp_path / "docs" / "lessons").mkdir()
    (tmp_path / "docs" / "lessons" / "01-adding-numbers.md").write_text("# Mine\n")
    with pytest.raises(SiteError, match="docs/lessons/01-adding-numbers.md"):
        stage(CoursePaths.at(tmp_path), {"lessons/01-adding-numbers.md": "# Generated\n"})
    assert (tmp_path / "docs" / "lessons" / "01-adding-numbers.md").read_text() == "# Mine\n"


def test_help_does_not_import_tensorflow() -> None:
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom generator.cli import main\n"
        "for cmd in ([], ['build'], ['serve'], ['new'], ['clean']):\n"
        "    assert CliRunner().invoke(main, [*cmd, '--help']).exit_code == 0\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_shipped_lessons_are_committed_without_outputs() -> None:
    for path in sorted((ROOT / "lessons").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for index, cell in enumerate(nb["cells"], start=1):
            if cell["cell_type"] == "code":
                assert cell.get("outputs") == [], f"{path.name}, cell {index} has outputs"
                assert cell.get("execution_count") is None, f"{path.name}, cell {index} ran"


class _SavedModel:
    """Stands in for a Keras model: `publish` only needs its name and `save`."""

    name = "stub"

    def save(self, path: Path) -> None:
        Path(path).write_bytes(b"keras")


def _stub_math(passed: bool):
    from generator.equation.analyze import ModelMath
    from generator.layers.derive import Check
    from generator.model.graph import ModelGraph, TensorRecord

    graph = ModelGraph(
        "stub", "Sequential", (TensorRecord("x", (None, 2)),), (TensorRecord("x", (None, 2)),), ()
    )
    return ModelMath(graph, (), checks=(Check("total parameters vs Keras", passed, "0 vs 1"),))


@pytest.mark.parametrize("passed", [True, False])
def test_publish_writes_artifacts_or_names_the_failed_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, passed: bool
) -> None:
    import generator.equation.analyze
    from generator.exceptions import CheckFailed
    from generator.site.publish import publish

    monkeypatch.setattr(
        generator.equation.analyze,
        "analyze_model",
        lambda model, sample=None, settings=None: _stub_math(passed),
    )
    monkeypatch.setenv("COURSE_ARTIFACTS", str(tmp_path))
    if not passed:
        with pytest.raises(CheckFailed, match="model 'stub': check 'total parameters vs Keras'"):
            publish(_SavedModel())
        assert list(tmp_path.iterdir()) == []
        return
    publish(_SavedModel(), name="my model")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "my-model.json",
        "my-model.keras",
        "my-model.math.pickle",
    ]
    data = json.loads((tmp_path / "my-model.json").read_text())
    assert data["name"] == "my model" and data["checks"][0]["passed"]
    from generator.site.site_pages import published_page

    assert published_page(tmp_path, "my-model").startswith("# Model `my model`")


@pytest.mark.parametrize(
    "code, line, expected",
    [
        (
            "a = 1\nb = 2\nc = 3\nd = 4\ne = 5",
            3,
            ["    ...", "    b = 2", "->  c = 3", "    d = 4", "    ..."],
        ),
        ("a = 1\nb = 2\nc = 3\nd = 4", 1, ["->  a = 1", "    b = 2", "    c = 3", "    ..."]),
        ("a = 1\nb = 2\nc = 3\nd = 4", 4, ["    ...", "    b = 2", "    c = 3", "->  d = 4"]),
        ("\n\na = 1\nb = 2", None, ["    a = 1", "    b = 2"]),  # a timeout: no failing line
    ],
)
def test_quoted_lines_surround_the_failing_line(code: str, line, expected: list[str]) -> None:
    from generator.site.execute import quoted_lines

    assert quoted_lines(code, line) == expected


def test_error_summary_keeps_the_paragraphs_before_the_arguments() -> None:
    from generator.exceptions import error_summary

    text = (
        "ValueError: Exception encountered when calling Dense.call().\n\n"
        "Input 0 is incompatible: expected axis -1 to have value 4\n\n"
        "Arguments received by Dense.call():\n  • inputs=tf.Tensor(shape=(1, 3))"
    )
    assert error_summary(text) == (
        "ValueError: Exception encountered when calling Dense.call(). "
        "Input 0 is incompatible: expected axis -1 to have value 4"
    )


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two renames"])
def test_swap_in_replaces_the_site_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool
) -> None:
    from generator.site import mkdocs

    if not exchange:
        monkeypatch.setattr(mkdocs, "_exchange", lambda a, b: False)
    build = tmp_path / "build"
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("old")
    (build / "site-1234").mkdir(parents=True)
    (build / "site-1234" / "index.html").write_text("new")
    mkdocs.swap_in(build / "site-1234", tmp_path / "site")
    assert (tmp_path / "site" / "index.html").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "site"]
    assert list(build.iterdir()) == []


def test_swap_in_refuses_a_site_that_is_a_file(tmp_path: Path) -> None:
    from generator.site.mkdocs import swap_in

    (tmp_path / "site").write_text("my notes")
    (tmp_path / "new").mkdir()
    with pytest.raises(SiteError, match=r"site: is a file, not the site directory"):
        swap_in(tmp_path / "new", tmp_path / "site")
    assert (tmp_path / "site").read_text() == "my notes"


def test_serve_watcher_survives_any_exception(tmp_path: Path) -> None:
    """A rebuild that raises, then a snapshot that cannot be read: the watcher reports both
    and goes on to the next change."""
    import threading

    from generator.site import serve as serve_module

    paths = CoursePaths.at(make_course(tmp_path))
    stop = threading.Event()
    calls: list[str] = []

    def rebuild() -> None:
        calls.append("rebuild")
        if len(calls) == 1:
            raise RuntimeError("a rebuild that blew up")
        stop.set()

    lesson = paths.lessons / "01-adding-numbers.ipynb"
    seen = serve_module._snapshot(paths)
    real_snapshot = serve_module._snapshot
    snapshots = iter([OSError("disk gone"), None, None])

    def snapshot(p: CoursePaths) -> dict:
        problem = next(snapshots, None)
        if isinstance(problem, OSError):
            raise problem
        lesson.touch()
        return real_snapshot(p)

    serve_module.POLL_SECONDS, old = 0.01, serve_module.POLL_SECONDS
    try:
        serve_module._snapshot = snapshot
        serve_module.watch_and_rebuild(paths, seen, rebuild, stop)
    finally:
        serve_module._snapshot, serve_module.POLL_SECONDS = real_snapshot, old
    assert calls == ["rebuild", "rebuild"]


def test_serve_refuses_a_bad_address_in_one_line(tmp_path: Path) -> None:
    from generator.exceptions import CourseError
    from generator.site.serve import SiteVersion, site_server

    with pytest.raises(CourseError, match="expected HOST:PORT"):
        site_server(tmp_path, "localhost", SiteVersion())
    taken = site_server(tmp_path, "127.0.0.1:0", SiteVersion())
    try:
        port = taken.server_address[1]
        with pytest.raises(CourseError, match=f"127.0.0.1:{port}: cannot serve there"):
            site_server(tmp_path, f"127.0.0.1:{port}", SiteVersion())
    finally:
        taken.server_close()
