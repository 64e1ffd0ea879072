"""Builds that never lose a site: the lock, atomic swaps, damaged cache entries, Ctrl-C, clean."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from pathlib import Path

import pytest

from tests.pipeline_support import (
    copy_course,
    course_cli,
    edit_cell,
    fake_model_lesson,
    make_course,
    notebook,
    start_course,
    write_notebook,
)

pytestmark = [pytest.mark.slow, pytest.mark.kernel, pytest.mark.site]

LESSON_1 = "01-adding-numbers.ipynb"


def _html(course: Path, page: str) -> str:
    return (course / "site" / page / "index.html").read_text(encoding="utf-8")


def _assert_site_whole(course: Path) -> None:
    """`site/` is a directory holding the home page and every lesson's page, and no build
    left an old site behind."""
    site = course / "site"
    assert site.is_dir() and not site.is_symlink()
    assert (site / "index.html").is_file()
    for lesson in (course / "lessons").glob("*.ipynb"):
        assert (site / "lessons" / lesson.stem / "index.html").is_file(), lesson.name
    assert list(course.glob(".site.old-*")) == []
    # A swap without renameat2 renames the old site aside (`next-site-old`) before removing it.
    assert list((course / "build").rglob("*-old")) == []


def _error_line(stderr: str) -> str:
    """The one error line, checking it is the only line and that no traceback was printed."""
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture(scope="module")
def built_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture course plus a lesson publishing a model's files, built once by `course`."""
    course = make_course(tmp_path_factory.mktemp("built"))
    write_notebook(course / "lessons" / "03-fake-model.ipynb", fake_model_lesson())
    done = course_cli("build", cwd=course)
    assert done.returncode == 0, done.stderr
    return course


@pytest.fixture
def course(built_once: Path, tmp_path: Path) -> Path:
    """A private copy of the built course (site, cache and all)."""
    return copy_course(built_once, tmp_path / "course")


# 1. Two builds at once ---------------------------------------------------------------------


def _wait_for_lock_holder(course: Path, pid: int, seconds: float = 60) -> None:
    lock = course / "build" / ".lock"
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if json.loads(lock.read_text()).get("pid") == pid:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"process {pid} never took the build lock")


def _slow_lesson(course: Path, seconds: float = 4) -> None:
    write_notebook(
        course / "lessons" / "04-slow.ipynb",
        notebook(("markdown", "# Slow"), ("code", f"import time\ntime.sleep({seconds})\n'slept'")),
    )


def test_second_build_waits_for_the_first(course: Path) -> None:
    _slow_lesson(course)
    first = start_course("build", cwd=course)
    _wait_for_lock_holder(course, first.pid)
    second = course_cli("build", cwd=course)
    _, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err
    assert second.returncode == 0, second.stderr
    assert re.search(
        rf"^waiting for the build started at \d\d:\d\d by process {first.pid}$",
        second.stderr,
        re.MULTILINE,
    ), second.stderr
    # The first build did the work; the second found the site up to date.
    assert "site/ is up to date" in second.stderr
    _assert_site_whole(course)
    assert "slept" in _html(course, "lessons/04-slow")


def test_no_wait_fails_at_once_with_one_line(course: Path) -> None:
    _slow_lesson(course)
    first = start_course("build", cwd=course)
    _wait_for_lock_holder(course, first.pid)
    started = time.perf_counter()
    second = course_cli("build", "--no-wait", cwd=course)
    assert time.perf_counter() - started < 20
    assert second.returncode == 1
    line = _error_line(second.stderr)
    assert line.startswith("Error: ") and f"by process {first.pid} is still running" in line
    clean = course_cli("clean", cwd=course)  # nor does `course clean` pull the floor away
    assert clean.returncode == 1
    assert f"by process {first.pid} is still running" in _error_line(clean.stderr)
    first.communicate(timeout=120)
    assert first.returncode == 0
    _assert_site_whole(course)


def test_two_builds_started_together_both_succeed(course: Path) -> None:
    """The issue's `course build & course build & wait` after a prose edit."""
    edit_cell(course / "lessons" / LESSON_1, 2, "Prose edited **while two builds race**.")
    builds = [start_course("build", cwd=course) for _ in range(2)]
    results = [build.communicate(timeout=120) for build in builds]
    assert [build.returncode for build in builds] == [0, 0], [err for _, err in results]
    _assert_site_whole(course)
    assert "while two builds race" in _html(course, "lessons/01-adding-numbers")
    assert list((course / ".course-cache" / "tmp").glob("*")) == []


# 2. Damaged cache entries ------------------------------------------------------------------

ENTRY = Path(".course-cache/executed/03-fake-model")


def _rewrite_digests(entry: Path) -> None:
    """Make the damage pass the digest check: what an entry written by a faulty writer is."""
    from generator.site.cache import _entry_files

    info = json.loads((entry / "entry.json").read_text())
    info["files"] = _entry_files(entry)
    (entry / "entry.json").write_text(json.dumps(info))


DAMAGES = {
    "empty page": ("artifacts/tiny.md", "", False, "artifacts/tiny.md does not match its digest"),
    "truncated JSON": ("artifacts/tiny.json", '{"name": "ti', False, "does not match its digest"),
    "cells not objects": (
        "executed.ipynb",
        '{"cells": [1, 2, 3]}',
        True,
        "executed.ipynb has a cell that is not an object",
    ),
    "JSON artifact a list": ("artifacts/tiny.json", "[]", True, "is not a JSON object"),
    "deleted model file": ("artifacts/tiny.keras", None, False, "tiny.keras is missing"),
    "entry.json garbage": ("entry.json", "{no", False, "entry.json does not parse"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_cache_entry_is_re_executed_never_served(course: Path, damage: str) -> None:
    name, content, redigest, reason = DAMAGES[damage]
    target = course / ENTRY / name
    if content is None:
        target.unlink()
    else:
        target.write_text(content)
    if redigest:
        _rewrite_digests(course / ENTRY)
    edit_cell(course / "lessons" / LESSON_1, 2, "Another lesson's prose changed.")

    done = course_cli("build", cwd=course)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("damaged cache entry") == 1 and reason in done.stderr
    assert "executed  03-fake-model.ipynb" in done.stderr
    _assert_site_whole(course)
    model_page = _html(course, "models/tiny")
    assert "The page of <strong>tiny</strong>" in model_page and "tiny.keras" in model_page
    assert (course / "site" / "models" / "tiny.keras").read_bytes() == b"PK not really a model"

    edit_cell(course / "lessons" / LESSON_1, 2, "And changed again.")
    again = course_cli("build", cwd=course)
    assert again.returncode == 0 and "damaged" not in again.stderr  # said once, then repaired
    assert "cached  03-fake-model.ipynb" in again.stderr


# 5. Ctrl-C and errors of the operating system ----------------------------------------------


def test_ctrl_c_stops_the_kernels_and_exits_130(course: Path) -> None:
    before = (course / "site" / "index.html").read_bytes()
    write_notebook(
        course / "lessons" / "04-long.ipynb",
        notebook(
            ("markdown", "# Long"),
            ("code", "import os, time\nopen('kernel.pid', 'w').write(str(os.getpid()))"),
            ("code", "time.sleep(60)"),
        ),
    )
    build = start_course("build", cwd=course)
    pid_file = course / "lessons" / "kernel.pid"
    deadline = time.time() + 60
    while not pid_file.is_file() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1)
    build.send_signal(signal.SIGINT)
    _, stderr = build.communicate(timeout=60)
    assert build.returncode == 130
    assert "Traceback" not in stderr and "AssertionError" not in stderr
    assert stderr.strip().splitlines()[-1] == (
        "interrupted: course build stopped (kernels shut down, site/ left as it was)"
    )
    kernel = int(pid_file.read_text())
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):
        os.kill(kernel, 0)
    assert (course / "site" / "index.html").read_bytes() == before
    assert list((course / ".course-cache" / "tmp").glob("*")) == []


def test_os_error_is_one_line_naming_the_path(course: Path) -> None:
    shutil.rmtree(course / "build")
    (course / "build").write_text("not a directory")
    done = course_cli("build", cwd=course)
    assert done.returncode == 1
    assert _error_line(done.stderr) == f"Error: {course / 'build'}: File exists"


# 6. Leftovers and a `site` that is not a directory -----------------------------------------


def _leftovers(course: Path) -> list[Path]:
    made = [
        course / ".site.old-1a2b3c4d" / "index.html",
        course / "build" / "site-5e6f7a8b" / "index.html",
        course / ".course-cache" / "tmp" / "4242-deadbeef" / "artifacts" / "x.json",
    ]
    for path in made:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("left over")
    return made


def test_clean_removes_every_leftover(course: Path) -> None:
    _leftovers(course)
    done = course_cli("clean", cwd=course)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in course.iterdir()) == ["docs", "lessons", "mkdocs.yml"]


def test_build_removes_leftovers_of_interrupted_builds(course: Path) -> None:
    _leftovers(course)
    done = course_cli("build", cwd=course)
    assert done.returncode == 0, done.stderr
    assert "site/ is up to date" in done.stderr
    _assert_site_whole(course)
    assert list((course / ".course-cache" / "tmp").glob("*")) == []


@pytest.mark.parametrize("kind", ["file", "symlink"])
@pytest.mark.parametrize("command", ["build", "clean"])
def test_site_that_is_not_a_directory_is_an_error(course: Path, kind: str, command: str) -> None:
    shutil.rmtree(course / "site")
    elsewhere = course.parent / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("mine")
    if kind == "file":
        (course / "site").write_text("my notes")
    else:
        (course / "site").symlink_to(elsewhere)
    edit_cell(course / "lessons" / LESSON_1, 2, "Changed prose.")
    done = course_cli(command, cwd=course)
    assert done.returncode == 1
    what = "is a file" if kind == "file" else "is a symbolic link"
    assert _error_line(done.stderr).startswith(f"Error: {course / 'site'}: {what}")
    if kind == "file":
        assert (course / "site").read_text() == "my notes"
    else:
        assert (course / "site").readlink() == elsewhere
    assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.txt"]
    assert (course / "build").is_dir() and (course / ".course-cache").is_dir()
