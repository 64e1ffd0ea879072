"""Incremental MkDocs builds: after any edit, `site/` is byte for byte what a full build gives.

A markdown-only edit rebuilds only the changed page (`generator/site/incremental.py`); an edit
that changes the nav, a page's nav title, the set of pages, or a site left damaged, rebuilds
everything. Each case is checked against a from-scratch `mkdocs build` of the same staged docs.
"""

from __future__ import annotations

import filecmp
import json
import time
from pathlib import Path

import pytest

from generator.site import cache as cache_module
from generator.site.build import build_course
from tests.pipeline_support import copy_course, edit_cell, make_course

pytestmark = [pytest.mark.kernel, pytest.mark.site, pytest.mark.slow]

LESSON_1 = "01-adding-numbers.ipynb"
LESSON_2 = "02-reading-data.ipynb"


@pytest.fixture(scope="module")
def built_twice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture course built twice, so both `site/` and `build/next-site/` are whole sites
    (the second build edits a markdown cell, so it is not "nothing changed"); built once for
    the module, each test edits a copy (`course`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cache_module, "generator_digest", lambda: "pinned")
        course = make_course(tmp_path_factory.mktemp("incremental-mkdocs"))
        build_course(course, jobs=2)
        _edit_markdown(course, LESSON_2, "A first edit.")
        build_course(course, jobs=2)
    return course


@pytest.fixture
def course(built_twice: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of `built_twice` of the test's own, built with the same generator digest."""
    monkeypatch.setattr(cache_module, "generator_digest", lambda: "pinned")
    return copy_course(built_twice, tmp_path / "course")


def _edit_markdown(course: Path, lesson: str, sentence: str) -> None:
    """Add `sentence` to the lesson's last markdown cell."""
    path = course / "lessons" / lesson
    nb = json.loads(path.read_text(encoding="utf-8"))
    index = max(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown")
    source = "".join(nb["cells"][index]["source"])
    edit_cell(path, index, f"{source}\n\n{sentence}")


def _full_build(course: Path, target: Path) -> Path:
    """What `mkdocs build` makes of the staged docs from scratch, into `target`, with the
    search snippets tidied as every build of the site tidies them."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    from generator.site.search_index import tidy_search_index

    config = load_config(config_file=str(course / "build" / "mkdocs.yml"), site_dir=str(target))
    build(config)
    tidy_search_index(target)
    return target


def _differences(left: Path, right: Path) -> list[str]:
    """Files that differ, or are only on one side, between two directory trees."""
    found: list[str] = []

    def walk(cmp: filecmp.dircmp, prefix: str) -> None:
        found.extend(f"{prefix}{name} (only in site/)" for name in cmp.left_only)
        found.extend(f"{prefix}{name} (only in the full build)" for name in cmp.right_only)
        _, mismatch, errors = filecmp.cmpfiles(cmp.left, cmp.right, cmp.common_files, shallow=False)
        found.extend(f"{prefix}{name}" for name in mismatch + errors)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(left, right), "")
    return found


def _assert_like_full_build(course: Path, tmp_path: Path) -> None:
    full = _full_build(course, tmp_path / "full-site")
    assert _differences(course / "site", full) == []


def _mtime(course: Path, page: str) -> int:
    return (course / "site" / page).stat().st_mtime_ns


def test_a_markdown_edit_rebuilds_that_page_only(course: Path, tmp_path: Path) -> None:
    before = time.time_ns()
    _edit_markdown(course, LESSON_1, "An edited sentence, found by search: quokka.")
    report = build_course(course, jobs=2)
    assert report.site_built
    page = (course / "site" / "lessons" / "01-adding-numbers" / "index.html").read_text()
    assert "quokka" in page
    index = (course / "site" / "search" / "search_index.json").read_text()
    assert "quokka" in index and "Reading data" in index  # the edited page and the others
    # Incremental: the pages the edit did not touch were not written again.
    assert _mtime(course, "lessons/01-adding-numbers/index.html") > before
    assert _mtime(course, "notation/index.html") < before
    _assert_like_full_build(course, tmp_path)


def test_two_edits_in_a_row_each_give_the_full_site(course: Path, tmp_path: Path) -> None:
    _edit_markdown(course, LESSON_1, "The first of two edits.")
    build_course(course, jobs=2)
    _edit_markdown(course, LESSON_2, "The second of two edits.")
    build_course(course, jobs=2)
    _assert_like_full_build(course, tmp_path)
    _edit_markdown(course, LESSON_1, "A third edit.")
    build_course(course, jobs=2)
    assert (
        "A third edit."
        in (course / "site" / "lessons" / "01-adding-numbers" / "index.html").read_text()
    )
    _assert_like_full_build(course, tmp_path / "again")


def test_a_new_lesson_title_is_in_every_page_nav(course: Path, tmp_path: Path) -> None:
    edit_cell(course / "lessons" / LESSON_1, 0, "# Adding up numbers\n\nRetitled.")
    build_course(course, jobs=2)
    notation = (course / "site" / "notation" / "index.html").read_text()
    assert "Adding up numbers" in notation
    _assert_like_full_build(course, tmp_path)


def test_a_hand_written_page_retitled_is_in_every_page_nav(course: Path, tmp_path: Path) -> None:
    notation = course / "docs" / "notation.md"
    text = notation.read_text(encoding="utf-8")
    first, rest = text.split("\n", 1)
    assert first.startswith("# ")
    notation.write_text(f"# Symbols and indices\n{rest}", encoding="utf-8")
    build_course(course, jobs=2)
    lesson = (course / "site" / "lessons" / "01-adding-numbers" / "index.html").read_text()
    assert "Symbols and indices" in lesson
    _assert_like_full_build(course, tmp_path)


def test_a_removed_lesson_disappears(course: Path, tmp_path: Path) -> None:
    (course / "lessons" / LESSON_2).unlink()
    build_course(course, jobs=2)
    assert not (course / "site" / "lessons" / "02-reading-data").exists()
    assert "02-reading-data" not in (course / "site" / "index.html").read_text()
    _assert_like_full_build(course, tmp_path)


def test_a_damaged_spare_site_is_rebuilt_whole(course: Path, tmp_path: Path) -> None:
    spare = course / "build" / "next-site"
    (spare / "notation" / "index.html").unlink()  # as an interrupted or meddled-with build
    _edit_markdown(course, LESSON_1, "After the damage.")
    build_course(course, jobs=2)
    assert (course / "site" / "notation" / "index.html").is_file()
    _assert_like_full_build(course, tmp_path)


def test_an_interrupted_build_leads_to_a_full_one(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from generator.site import incremental

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    _edit_markdown(course, LESSON_1, "Interrupted.")
    with monkeypatch.context() as patch:
        patch.setattr(incremental, "merge_search_index", interrupted)
        with pytest.raises(KeyboardInterrupt):
            build_course(course, jobs=2)
    assert json.loads((course / "build" / "sites.json").read_text()) == {}
    build_course(course, jobs=2)
    assert (
        "Interrupted."
        in (course / "site" / "lessons" / "01-adding-numbers" / "index.html").read_text()
    )
    _assert_like_full_build(course, tmp_path)
