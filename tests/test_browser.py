"""The built course in headless Chromium, offline: every page renders, navigation, search, theme."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ConsoleLog,
    OfflineGuard,
    PageReport,
    inspect_page,
    math_count,
    pages_under,
    search_word,
    serve_site,
    site_pages,
)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "build" / "screenshots"
NARROW = {"width": 390, "height": 844}
WIDE = {"width": 1280, "height": 800}
# A missing browser skips, except where the browser tests must run (CI sets this).
REQUIRE_BROWSER = os.environ.get("COURSE_REQUIRE_BROWSER") == "1"


def _unavailable(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} (COURSE_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def course_site() -> Path:
    """The built site: `course build` of the real lessons, once per session.

    `COURSE_SITE=DIR` tests an already built site instead (no build).
    """
    prebuilt = os.environ.get("COURSE_SITE")
    if prebuilt:
        return Path(prebuilt).resolve()
    course = shutil.which("course", path=str(Path(sys.executable).parent)) or shutil.which("course")
    if course is None:
        pytest.fail("the `course` command is not installed (pip install -e .[dev])", pytrace=False)
    result = subprocess.run(
        [course, "build"], cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    if result.returncode != 0:
        pytest.fail(f"course build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}",
                    pytrace=False)
    return ROOT / "site"


@pytest.fixture(scope="session")
def site_url(course_site: Path):
    """The built site served on 127.0.0.1."""
    with serve_site(course_site) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright, with a fresh profile."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e .[dev])")
    if not CHROMIUM.exists():
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
            )
        except Error as error:
            _unavailable(f"Chromium at {CHROMIUM} does not start: {error}")
        yield chromium
        chromium.close()


@pytest.fixture
def offline(browser):
    """A fresh browser context that lets no request leave 127.0.0.1; yields (context, guard)."""
    guard = OfflineGuard()
    context = browser.new_context(viewport=WIDE)
    guard.attach(context)
    yield context, guard
    context.close()


def _open(context, url: str):
    page = context.new_page()
    console = ConsoleLog()
    console.attach(page)
    page.goto(url, wait_until="load")
    return page, console


def _render(context, site_url: str, name: str) -> PageReport:
    page, console = _open(context, urljoin(site_url, name))
    try:
        return inspect_page(page, name, console)
    finally:
        page.close()


def test_site_has_lessons_and_models(course_site):
    assert (course_site / "index.html").is_file()
    assert pages_under(course_site, "lessons"), "no lesson pages under site/lessons/"
    assert pages_under(course_site, "models"), "no model pages under site/models/"


def test_every_page_renders_offline(course_site, site_url, offline):
    context, guard = offline
    reports = [_render(context, site_url, name) for name in site_pages(course_site)]
    problems = [line for report in reports for line in report.problems()]
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
    assert not guard.blocked, "requests that would leave the machine:\n" + "\n".join(guard.blocked)
    assert sum(report.arithmatex for report in reports) > 0, "no math on any page"


def _math_page_pair(course_site: Path) -> tuple[str, str]:
    """A page and the next lesson, which holds math: consecutive lessons when possible."""
    lessons = pages_under(course_site, "lessons")
    for first, second in zip(lessons, lessons[1:], strict=False):
        if math_count(course_site, second):
            return first, second
    with_math = [name for name in lessons if math_count(course_site, name)]
    assert with_math, "no lesson page holds math"
    return "", with_math[0]


def test_instant_navigation_retypesets_math(course_site, site_url, offline):
    context, guard = offline
    start, target = _math_page_pair(course_site)
    page, console = _open(context, urljoin(site_url, start))
    inspect_page(page, start, console)
    page.evaluate("window.__sameDocument = true")
    target_path = urlsplit(urljoin(site_url, target)).path
    footer = page.locator("a.md-footer__link--next")
    if footer.count() and urlsplit(footer.first.evaluate("a => a.href")).path == target_path:
        footer.first.click()
    else:
        page.locator(f'a[href$="{target.rstrip("/").rsplit("/", 1)[-1]}/"]:visible').first.click()
    page.wait_for_url(lambda url: urlsplit(url).path == target_path)
    report = inspect_page(page, target, console)
    assert page.evaluate("window.__sameDocument === true"), (
        "the click reloaded the page: no instant navigation (mkdocs.yml needs the theme feature "
        "navigation.instant and a site_url)"
    )
    assert report.arithmatex == math_count(course_site, target)
    assert not report.problems(), "\n".join(report.problems())
    assert not guard.blocked, "\n".join(guard.blocked)


def test_search_finds_a_lesson_by_a_word_in_it(course_site, site_url, offline):
    context, guard = offline
    lesson = pages_under(course_site, "lessons")[0]
    word = search_word(course_site, lesson)
    page, console = _open(context, site_url)
    search = page.locator("input.md-search__input")
    if not search.is_visible():
        page.locator('label[for="__search"]:visible').first.click()
    search.click()
    search.press_sequentially(word)
    results = page.locator(".md-search-result__item a")
    results.first.wait_for(timeout=15_000)
    found = {urlsplit(href).path for href in results.evaluate_all("as => as.map(a => a.href)")}
    assert urlsplit(urljoin(site_url, lesson)).path in found, f"searched {word!r}, got {found}"
    assert not console.errors, "\n".join(console.errors)
    assert not guard.blocked, "\n".join(guard.blocked)


def _scheme(page) -> tuple[str, str]:
    return tuple(page.evaluate(
        "() => [document.body.getAttribute('data-md-color-scheme'),"
        " getComputedStyle(document.body).backgroundColor]"
    ))


def _toggle_scheme(page) -> None:
    page.locator('[data-md-component="palette"] label:not([hidden])').first.click()


def test_light_dark_toggle(course_site, site_url, offline):
    context, _ = offline
    page, console = _open(context, site_url)
    light, light_background = _scheme(page)
    _toggle_scheme(page)
    dark, dark_background = _scheme(page)
    assert (light, dark) == ("default", "slate")
    assert light_background != dark_background, "the toggle did not change the background"
    page.goto(urljoin(site_url, pages_under(course_site, "lessons")[0]))
    assert _scheme(page) == (dark, dark_background), "the dark scheme did not persist"
    _toggle_scheme(page)
    assert _scheme(page) == (light, light_background)
    assert not console.errors, "\n".join(console.errors)


SHOTS = [("home", ""), ("lesson", "lessons"), ("model", "models")]


@pytest.mark.parametrize("kind, section", SHOTS)
def test_screenshots_and_narrow_screen(course_site, site_url, offline, kind, section):
    """Light, dark and 390-pixel-wide screenshots; nothing but scroll boxes may be wider."""
    context, guard = offline
    name = pages_under(course_site, section)[0] if section else ""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page, console = _open(context, urljoin(site_url, name))
    inspect_page(page, name, console)
    page.screenshot(path=SCREENSHOTS / f"{kind}-light.png", full_page=True)
    _toggle_scheme(page)
    page.wait_for_timeout(300)
    page.screenshot(path=SCREENSHOTS / f"{kind}-dark.png", full_page=True)
    _toggle_scheme(page)
    page.set_viewport_size(NARROW)
    page.reload()
    report = inspect_page(page, name, console)
    page.screenshot(path=SCREENSHOTS / f"{kind}-390.png", full_page=True)
    assert not report.problems(), "\n".join(report.problems())
    assert not report.overflow(), "\n".join(report.overflow())
    assert not guard.blocked, "\n".join(guard.blocked)
