"""Incremental Zensical builds: after any edit, `site/` is byte for byte what a full build gives.

A markdown-only edit rebuilds only the changed page, beside stubs of the others
(`generator/site/zensical_site.py`); an edit that changes the nav, a page's nav title, the set of
pages, or a site left damaged, rebuilds everything. Each case is checked against a from-scratch
`zensical build --clean` of the same staged docs, with the config `course build` leaves behind.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator.site import cache as cache_module
from generator.site import zensical_site
from generator.site.build import build_course
from generator.site.engines import SiteError
from tests.pipeline_support import copy_course, edit_cell, make_course
from tests.test_incremental_build import LESSON_1, LESSON_2, _differences, _edit_markdown

pytestmark = [pytest.mark.kernel, pytest.mark.site, pytest.mark.slow]

ZENSICAL = "zensical"
PAGE_1 = Path("lessons") / "01-adding-numbers" / "index.html"


def _build(course: Path) -> bool:
    return build_course(course, jobs=2, engine=ZENSICAL).site_built


@pytest.fixture(scope="module")
def built_twice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture course built twice by Zensical, so both `site/` and the spare are whole
    sites (the second build edits a markdown cell, so it is not "nothing changed"); built once
    for the module, each test edits a copy (`course`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cache_module, "generator_digest", lambda: "pinned")
        course = make_course(tmp_path_factory.mktemp("incremental-zensical"))
        _build(course)
        _edit_markdown(course, LESSON_2, "A first edit.")
        _build(course)
    return course


@pytest.fixture
def course(built_twice: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of `built_twice` of the test's own, built with the same generator digest."""
    monkeypatch.setattr(cache_module, "generator_digest", lambda: "pinned")
    return copy_course(built_twice, tmp_path / "course")


def _full_build(course: Path) -> Path:
    """What `zensical build --clean` makes of the staged docs from scratch (into
    `build/zensical-site/`), with the search snippets tidied as every build tidies them."""
    from generator.site.search_index import tidy_search_index

    target = course / "build" / "zensical-site"
    assert not target.exists()
    config = course / "build" / "zensical.yml"
    subprocess.run(
        [sys.executable, "-m", "zensical", "build", "--clean", "--strict", "-f", str(config)],
        cwd=config.parent,
        check=True,
        capture_output=True,
    )
    tidy_search_index(target)
    return target


def _assert_like_full_build(course: Path) -> None:
    full = _full_build(course)
    try:
        assert _differences(course / "site", full) == []
    finally:
        import shutil

        shutil.rmtree(full)


def _partial_builds(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The changed files of every partial build from now on (a full build adds nothing)."""
    calls: list[list[str]] = []
    partial = zensical_site.partial_build

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - passes through
        done = partial(*args, **kwargs)
        if done:
            calls.append(sorted(args[-1]))
        return done

    monkeypatch.setattr(zensical_site, "partial_build", spy)
    return calls


def test_a_markdown_edit_rebuilds_that_page_only(
    course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    partial = _partial_builds(monkeypatch)
    before = time.time_ns()
    _edit_markdown(course, LESSON_1, "An edited sentence, found by search: quokka.")
    assert _build(course)
    # The spare is the site before last: it lacks this edit and the fixture's edit of lesson 2.
    assert partial == [
        [
            "lessons/01-adding-numbers.md",
            "lessons/02-reading-data.md",
            "notebooks/01-adding-numbers.ipynb",
            "notebooks/02-reading-data.ipynb",
        ]
    ]
    assert "quokka" in (course / "site" / PAGE_1).read_text()
    index = json.loads((course / "site" / "search.json").read_text())
    found = {item["location"].split("#")[0] for item in index["items"] if "quokka" in item["text"]}
    assert found == {"lessons/01-adding-numbers/"}
    assert any(item["title"] == "Reading data" for item in index["items"])  # the others kept
    assert (course / "site" / PAGE_1).stat().st_mtime_ns > before
    assert (course / "site" / "notation" / "index.html").stat().st_mtime_ns < before
    _assert_like_full_build(course)


def test_two_edits_in_a_row_each_give_the_full_site(
    course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    partial = _partial_builds(monkeypatch)
    _edit_markdown(course, LESSON_1, "The first of two edits.")
    _build(course)
    _edit_markdown(course, LESSON_2, "The second of two edits.")
    _build(course)
    _assert_like_full_build(course)
    _edit_markdown(course, LESSON_1, "A third edit.")
    _build(course)
    assert "A third edit." in (course / "site" / PAGE_1).read_text()
    assert len(partial) == 3
    _assert_like_full_build(course)


def test_a_link_into_a_page_not_rebuilt_is_checked(
    course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stubs keep the anchors of the pages they stand for: a link from the edited page to
    one resolves as in a full build, and a link to a missing one fails the build."""
    partial = _partial_builds(monkeypatch)
    page = (course / "site" / "notation" / "index.html").read_text()
    anchor = sorted(zensical_site.anchors(course / "site" / "notation" / "index.html"))[0]
    assert f'id="{anchor}"' in page
    _edit_markdown(course, LESSON_1, f"See [the notation](../notation.md#{anchor}).")
    _build(course)
    assert len(partial) == 1
    _assert_like_full_build(course)
    _edit_markdown(course, LESSON_1, "See [nothing](../notation.md#no-such-anchor).")
    before = (course / "site" / PAGE_1).read_bytes()
    one_line = (
        r"^zensical build --strict failed: "
        r"anchor does not exist \(lessons/01-adding-numbers\.md:\d+:\d+\)$"
    )
    with pytest.raises(SiteError, match=one_line):
        _build(course)
    assert (course / "site" / PAGE_1).read_bytes() == before


def test_a_new_lesson_title_is_in_every_page_nav(course: Path) -> None:
    edit_cell(course / "lessons" / LESSON_1, 0, "# Adding up numbers\n\nRetitled.")
    _build(course)
    assert "Adding up numbers" in (course / "site" / "notation" / "index.html").read_text()
    _assert_like_full_build(course)


def test_a_hand_written_page_retitled_is_in_every_page_nav(course: Path) -> None:
    notation = course / "docs" / "notation.md"
    first, rest = notation.read_text(encoding="utf-8").split("\n", 1)
    assert first.startswith("# ")
    notation.write_text(f"# Symbols and indices\n{rest}", encoding="utf-8")
    _build(course)
    assert "Symbols and indices" in (course / "site" / PAGE_1).read_text()
    _assert_like_full_build(course)


def test_a_removed_lesson_disappears(course: Path) -> None:
    (course / "lessons" / LESSON_2).unlink()
    _build(course)
    assert not (course / "site" / "lessons" / "02-reading-data").exists()
    assert "02-reading-data" not in (course / "site" / "index.html").read_text()
    _assert_like_full_build(course)


def test_a_damaged_spare_site_is_rebuilt_whole(
    course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    partial = _partial_builds(monkeypatch)
    spare = course / "build" / zensical_site.PROJECT / zensical_site.SPARE
    (spare / "notation" / "index.html").unlink()  # as an interrupted or meddled-with build
    _edit_markdown(course, LESSON_1, "After the damage.")
    _build(course)
    assert partial == []
    assert (course / "site" / "notation" / "index.html").is_file()
    _assert_like_full_build(course)


def test_an_interrupted_build_leads_to_a_full_one(
    course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - any signature
        raise KeyboardInterrupt

    _edit_markdown(course, LESSON_1, "Interrupted.")
    with monkeypatch.context() as patch:
        patch.setattr(zensical_site, "merge_search_index", interrupted)
        with pytest.raises(KeyboardInterrupt):
            _build(course)
    record = course / "build" / zensical_site.PROJECT / "sites.json"
    assert json.loads(record.read_text()) == {}
    _build(course)
    assert "Interrupted." in (course / "site" / PAGE_1).read_text()
    _assert_like_full_build(course)


def test_a_lost_anchor_rebuilds_every_page(course: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page not rebuilt may link to an anchor the edit removed: only a full build checks."""
    partial = _partial_builds(monkeypatch)
    assert 'id="exercises"' in (course / "site" / PAGE_1).read_text()
    edit_cell(course / "lessons" / LESSON_1, 4, "## Practice\n\n1. What is 1 + 1?")
    _build(course)
    assert partial == []
    assert 'id="practice"' in (course / "site" / PAGE_1).read_text()
    _assert_like_full_build(course)


def test_a_site_built_by_mkdocs_in_between_is_not_updated(
    course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A MkDocs build swaps its own spare with `site/`: the Zensical spare is still the one
    its record describes (updated), and after that swap it holds MkDocs' site (rebuilt)."""
    _edit_markdown(course, LESSON_1, "Built by MkDocs.")
    assert build_course(course, jobs=2).site_built
    partial = _partial_builds(monkeypatch)
    _edit_markdown(course, LESSON_1, "Built by Zensical again.")
    _build(course)
    assert len(partial) == 1
    _assert_like_full_build(course)
    _edit_markdown(course, LESSON_2, "And then updated.")
    _build(course)
    assert len(partial) == 1  # the spare is MkDocs' site now: a full build
    _assert_like_full_build(course)
    _edit_markdown(course, LESSON_2, "Updated at last.")
    _build(course)
    assert len(partial) == 2
    _assert_like_full_build(course)


def test_a_theme_whose_pages_cannot_be_read_rebuilds_every_page(
    course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stubs need the content of the pages they stand for; a page layout they do not know (a
    new theme) makes every build a full one."""
    import re

    partial = _partial_builds(monkeypatch)
    monkeypatch.setattr(zensical_site, "ARTICLE", re.compile(r"<article class=\"elsewhere\">"))
    _edit_markdown(course, LESSON_1, "A new theme.")
    _build(course)
    assert partial == []
    assert "A new theme." in (course / "site" / PAGE_1).read_text()
    _assert_like_full_build(course)
