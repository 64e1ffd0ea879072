"""The lesson pipeline with real kernels: cache hits and misses, failures, timeouts, parallelism."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator.site import cache as cache_module
from generator.site.build import build_course
from generator.site.execute import ExecutionFailed, KernelError
from tests.pipeline_support import (
    Events,
    copy_course,
    edit_cell,
    make_course,
    notebook,
    write_notebook,
)

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

LESSON_1 = "01-adding-numbers.ipynb"
LESSON_2 = "02-reading-data.ipynb"


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the fixture course; the generator's digest is pinned (other work on the
    generator while the tests run must not look like a change)."""
    monkeypatch.setattr(cache_module, "generator_digest", lambda: "pinned")
    return make_course(tmp_path)


@pytest.fixture(scope="module")
def built_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture course built once for the module (a cold build: both lessons run)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cache_module, "generator_digest", lambda: "pinned")
        course = make_course(tmp_path_factory.mktemp("built"))
        build_course(course, jobs=2)
    return course


@pytest.fixture
def built(built_once: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the built course (site, cache and all), the generator's digest
    pinned as it was for the build."""
    monkeypatch.setattr(cache_module, "generator_digest", lambda: "pinned")
    return copy_course(built_once, tmp_path / "built")


def _build(course: Path, **options) -> tuple[object, Events]:
    events = Events()
    report = build_course(course, progress=events, jobs=2, **options)
    return report, events


def _page(course: Path, lesson: str) -> str:
    return (course / "build" / "docs" / "lessons" / lesson.replace(".ipynb", ".md")).read_text()


def test_cold_build_executes_every_lesson_and_renders_outputs(course: Path) -> None:
    report, events = _build(course)
    assert events.started() == [LESSON_1, LESSON_2]
    assert [row.status for row in report.rows] == ["executed", "executed"]
    assert "total 45" in _page(course, LESSON_1)
    assert "(02-reading-data/cell-3-0.png)" in _page(course, LESSON_2)
    assert (course / "site" / "lessons" / "02-reading-data" / "cell-3-0.png").is_file()
    assert (course / "site" / "notebooks" / LESSON_1).is_file()


def test_nothing_changed_starts_no_kernel_and_no_site_build(built: Path) -> None:
    index = built / "site" / "index.html"
    before = index.stat().st_mtime_ns
    report, events = _build(built)
    assert events.started() == []
    assert report.nothing_changed and not report.site_built
    assert index.stat().st_mtime_ns == before


def test_markdown_edit_rerenders_without_a_kernel(built: Path) -> None:
    edit_cell(built / "lessons" / LESSON_1, 2, "The sum, written with **a new sentence**.")
    report, events = _build(built)
    assert events.started() == []
    assert report.site_built
    page = _page(built, LESSON_1)
    assert "**a new sentence**" in page and "total 45" in page


@pytest.mark.parametrize(
    "change, executed",
    [
        ("code", [LESSON_1]),
        # Any file in the lessons folder may be read or imported by any lesson.
        ("data", [LESSON_1, LESSON_2]),
        ("generator", [LESSON_1, LESSON_2]),
        ("versions", [LESSON_1, LESSON_2]),
    ],
)
def test_cache_misses(
    built: Path, monkeypatch: pytest.MonkeyPatch, change: str, executed: list[str]
) -> None:
    if change == "code":
        edit_cell(built / "lessons" / LESSON_1, 1, "total = sum(range(10))\nprint('sum', total)")
    elif change == "data":
        (built / "lessons" / "data" / "points.csv").write_text("1\n2\n3\n")
    elif change == "generator":
        monkeypatch.setattr(cache_module, "generator_digest", lambda: "edited")
        monkeypatch.setattr(cache_module, "package_digest", lambda: "edited")
    else:
        monkeypatch.setattr(cache_module, "versions_digest", lambda: "upgraded")
    _, events = _build(built)
    assert events.started() == executed
    if change == "code":
        assert "sum 45" in _page(built, LESSON_1)
    if change == "data":
        assert "3 rows" in _page(built, LESSON_2)


def test_failing_cell_names_lesson_cell_and_error_and_keeps_site(built: Path) -> None:
    site_index = (built / "site" / "index.html").read_bytes()
    write_notebook(
        built / "lessons" / "03-broken.ipynb",
        notebook(("markdown", "# Broken"), ("code", "x = 1"), ("code", "y = x / 0\nprint(y)")),
    )
    with pytest.raises(ExecutionFailed) as info:
        _build(built)
    message = info.value.format_message()
    assert "03-broken.ipynb, cell 3, line 1: ZeroDivisionError: division by zero" in message
    assert "->  y = x / 0\n    print(y)" in message
    log = built / "build" / "logs" / "03-broken.log"
    assert f"full traceback: {log}" in message and "ZeroDivisionError" in log.read_text()
    assert (built / "site" / "index.html").read_bytes() == site_index


def test_keep_going_renders_an_error_page(built: Path) -> None:
    write_notebook(
        built / "lessons" / "03-broken.ipynb",
        notebook(("markdown", "# Broken"), ("code", "raise ValueError('no good')")),
    )
    report, _ = _build(built, keep_going=True)
    assert [row.status for row in report.rows] == ["cached", "cached", "failed"]
    assert report.failures and "ValueError: no good" in report.failures[0]
    page = _page(built, "03-broken.ipynb")
    assert "This lesson failed to build" in page
    assert (built / "site" / "lessons" / "03-broken" / "index.html").is_file()


def test_timeout_names_the_cell(course: Path) -> None:
    write_notebook(
        course / "lessons" / "03-slow.ipynb",
        notebook(("markdown", "# Slow"), ("code", "import time\ntime.sleep(60)"), timeout=2),
    )
    # How promptly the build stops after the timeout: benchmarks/timeout.py.
    with pytest.raises(ExecutionFailed, match=r"03-slow.ipynb, cell 2: timed out after 2 s"):
        _build(course)


def test_kernel_that_cannot_start(course: Path) -> None:
    write_notebook(
        course / "lessons" / "03-odd.ipynb",
        notebook(("markdown", "# Odd"), ("code", "1"), kernel="no-such-kernel"),
    )
    with pytest.raises(KernelError, match=r"03-odd.ipynb: kernel 'no-such-kernel' cannot start"):
        _build(course)


def test_lessons_run_in_parallel(course: Path) -> None:
    for path in (course / "lessons").glob("*.ipynb"):
        path.unlink()
    for n in (1, 2):
        write_notebook(
            course / "lessons" / f"1{n}-sleep-{n}.ipynb",
            notebook(
                ("markdown", f"# Sleep {n}"),
                (
                    "code",
                    "import json, time\nstart = time.time()\ntime.sleep(3)\n"
                    f"json.dump([start, time.time()], open('span-{n}.json', 'w'))",
                ),
            ),
        )
    _build(course)
    spans = [json.loads((course / "lessons" / f"span-{n}.json").read_text()) for n in (1, 2)]
    (a0, a1), (b0, b1) = spans
    assert max(a0, b0) < min(a1, b1), f"the two lessons did not overlap: {spans}"


def test_corrupt_cache_entry_is_re_executed(built: Path) -> None:
    entry = built / ".course-cache" / "executed" / "01-adding-numbers" / "executed.ipynb"
    entry.write_text('{"cells": [')
    _, events = _build(built)
    assert events.started() == []  # nothing changed: the site is as it was
    edit_cell(built / "lessons" / LESSON_1, 2, "Edited prose.")
    _, events = _build(built)
    assert events.started() == [LESSON_1]
    assert "total 45" in _page(built, LESSON_1)


def test_interrupted_build_then_rebuild_gives_right_pages(course: Path) -> None:
    write_notebook(
        course / "lessons" / "03-long.ipynb",
        notebook(("markdown", "# Long"), ("code", "import time\ntime.sleep(20)\nprint('slept')")),
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "generator.cli", "build", "--jobs", "3"],
        cwd=course,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while (
        time.time() < deadline
        and not (
            course / ".course-cache" / "executed" / "01-adding-numbers" / "entry.json"
        ).is_file()
    ):
        time.sleep(0.2)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode == 130
    assert not (course / "site").exists()
    edit_cell(course / "lessons" / "03-long.ipynb", 1, "print('quick')")
    report, _ = _build(course)
    assert {row.status for row in report.rows} <= {"executed", "cached"}
    assert "quick" in _page(course, "03-long.ipynb")
    assert "total 45" in _page(course, LESSON_1)
    assert list((course / ".course-cache" / "tmp").glob("*")) == []


@pytest.mark.tensorflow
@pytest.mark.site
def test_renderer_change_rerenders_pages_without_a_kernel(tmp_path: Path) -> None:
    """Defect 4 of issue 20: a change to how a page looks re-executed every lesson. With a copy
    of the generator whose Markdown renderer is then edited, the rebuild starts no kernel and
    the model page and the lesson's model box both show the edit."""
    from tests.pipeline_support import FIXTURES, ROOT

    lesson = FIXTURES / "model_lesson" / "03-a-tiny-model.ipynb"
    (tmp_path / "course").mkdir()
    course = make_course(tmp_path / "course", (lesson,))
    shutil.copytree(ROOT / "generator", tmp_path / "pkg" / "generator")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "pkg"), "TF_CPP_MIN_LOG_LEVEL": "3"}

    def build() -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "generator.cli", "build", "-j", "2"],
            cwd=course,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done

    assert "running" in build().stderr
    renderer = tmp_path / "pkg" / "generator" / "render" / "markdown.py"
    text = renderer.read_text()
    assert 'f"{h}# Checks"' in text
    renderer.write_text(text.replace('f"{h}# Checks"', 'f"{h}# Checks against Keras, edited"'))
    done = build()
    assert "running" not in done.stderr and "cached" in done.stderr, done.stderr
    docs = course / "build" / "docs"
    assert "# Checks against Keras, edited" in (docs / "models" / "tiny.md").read_text()
    lesson_page = (docs / "lessons" / "03-a-tiny-model.md").read_text()
    assert "**Checks against Keras, edited**" in lesson_page
