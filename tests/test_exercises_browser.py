"""In-page exercises in headless Chromium, on a built page of both engines: a wrong answer and a
right one typed in, the verdict read back; hidden cells stay hidden; the search index reads."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from browser_support import ConsoleLog, launched_chromium, offline_context, search_index, serve_site

from tests.pipeline_support import FIXTURES, make_course

pytestmark = [
    pytest.mark.browser,
    pytest.mark.site,
    pytest.mark.kernel,
    pytest.mark.tensorflow,
    pytest.mark.slow,
]

LESSON = FIXTURES / "exercise_lesson" / "03-try-it.ipynb"
PAGE = "lessons/03-try-it/"
ENGINES = ("mkdocs", "zensical")


@pytest.fixture(scope="module")
def browser():
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def sites(browser, tmp_path_factory) -> dict[str, Path]:
    """The fixture course with the exercise lesson, built by each engine (`course build`)."""
    course = make_course(tmp_path_factory.mktemp("course"), extra_lessons=(LESSON,))
    built = {}
    for engine in ENGINES:
        done = subprocess.run(
            [sys.executable, "-m", "generator.cli", "build", "--engine", engine],
            cwd=course,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        assert done.returncode == 0, f"{engine}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
        # A directory of this module's own: `course.parent` is the run's base directory under
        # `-n 0`, where conftest keeps the real course's `site-ENGINE`.
        built[engine] = tmp_path_factory.mktemp(f"exercises-site-{engine}") / "site"
        os.rename(course / "site", built[engine])
    return built


def _answer(page, form, text: str) -> str:
    form.locator("input[name=answer]").fill(text)
    form.locator("button[type=submit]").click()
    page.wait_for_function(
        "(form) => form.dataset.verdict !== undefined", arg=form.element_handle(), timeout=5000
    )
    verdict = form.locator(".naf-verdict").inner_text()
    form.evaluate("(form) => { delete form.dataset.verdict; }")
    return verdict


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("arrive", ["load", "instant navigation"])
def test_a_wrong_and_a_right_answer(sites, browser, engine, arrive) -> None:
    console = ConsoleLog()
    wide = arrive != "load"  # the navigation's links show at 1280 px; a phone reads the page
    size = {"width": 1280, "height": 800} if wide else {"width": 390, "height": 844}
    context, guard = offline_context(browser, viewport=size)
    try:
        page = context.new_page()
        console.attach(page)
        with serve_site(sites[engine]) as url:
            if arrive == "load":
                page.goto(url + PAGE, wait_until="load")
            else:  # from the home page through the theme's instant navigation: no load event
                page.goto(url, wait_until="load")
                page.locator(f'a[href$="{PAGE}"]:visible').first.click()
                page.wait_for_url(re.compile(re.escape(PAGE) + "$"))
            page.wait_for_selector("form.naf-exercise[data-ready]", timeout=10_000)
            shape, count = page.locator("form.naf-exercise").all()
            assert "Not quite" in _answer(page, shape, "(4, 4, 1)")
            assert "Right" in _answer(page, shape, "4x4x2")
            assert "Right" in _answer(page, shape, "(None, 4, 4, 2)")
            assert "Not quite" in _answer(page, count, "18")
            assert "Right" in _answer(page, count, "20")
            text = page.locator("article").inner_text()
    finally:
        context.close()
    assert not guard.blocked and not console.errors, (guard.blocked, console.errors)
    assert "Its output shape?" in text and "Its number of parameters?" in text
    for hidden in ("setup-cell-marker", "os.environ", "setup printed this", "Checks for the"):
        assert hidden not in text, hidden
    assert "4, 4, 2" not in text and "(4, 4, 2)" not in text


@pytest.mark.parametrize("engine", ENGINES)
def test_the_page_holds_the_hash_not_the_answer(sites, engine) -> None:
    html = (sites[engine] / PAGE / "index.html").read_text(encoding="utf-8")
    assert html.count('class="naf-exercise"') == 2
    shown = re.sub(r"[0-9a-f]{64}", "", html)
    assert "4, 4, 2" not in shown and "count_params() ==" not in shown
    assert "javascripts/exercises.js" in html


@pytest.mark.parametrize("engine", ENGINES)
def test_search_snippets_show_formulas_as_text(sites, engine) -> None:
    entries = search_index(sites[engine])
    text = " ".join(str(e.get("text", "")) + " " + str(e.get("title", "")) for e in entries)
    assert "Σ_(u=0)^(k_h-1)" in text
    for tex in ("\\sum", "\\(", "\\[", "\\times", "\\frac"):
        assert tex not in text, tex
