"""The built course in headless Chromium, offline: every page renders, navigation, search, theme."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from browser_support import (
    ConsoleLog,
    broken_links,
    display_math,
    inspect_page,
    launched_chromium,
    offline_context,
    pages_under,
    search_word,
    serve_site,
    site_pages,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ENGINES = ("mkdocs", "zensical")

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "build" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright, with a fresh profile.

    Module-scoped: Playwright's event loop must be gone before other modules run asyncio.
    """
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module", params=ENGINES)
def engine(request, browser) -> str:
    """Each engine in turn; depends on `browser` so a missing browser skips before a build."""
    return request.param


@pytest.fixture(scope="module")
def course_site(engine: str, built_site) -> Path:
    """The site of the real lessons built by `engine` (`course build --engine`), shared by the
    session (`tests/conftest.py`). The real course, not the fixture course: its pages are what
    learners see."""
    return built_site(engine)


@pytest.fixture(scope="module")
def site_url(course_site: Path):
    """The built site served on 127.0.0.1."""
    with serve_site(course_site) as url:
        yield url


@pytest.fixture
def offline(browser):
    """A fresh browser context that lets no request leave 127.0.0.1, MathJax's speech off (it
    draws nothing); yields (context, guard)."""
    context, guard = offline_context(browser, viewport=DESKTOP, color_scheme="light")
    yield context, guard
    context.close()


def _open(context, url: str, viewport: dict | None = None):
    page = context.new_page()
    if viewport:
        page.set_viewport_size(viewport)
    console = ConsoleLog()
    console.attach(page)
    page.goto(url, wait_until="load")
    return page, console


# The checks themselves, on hand-made pages: each broken page must be reported as broken.
SCRATCH_HEAD = (
    '<link rel="icon" href="data:,"><script>window.MathJax = {tex: {inlineMath: [["\\\\(", '
    '"\\\\)"]], displayMath: [["\\\\[", "\\\\]"]]}, options: {ignoreHtmlClass: ".*|", '
    'processHtmlClass: "arithmatex"}, output: {fontPath: location.origin + '
    '"/assets/mathjax-newcm-font"}};</script>'
)
MATHJAX = '<script src="assets/mathjax/tex-mml-chtml.js"></script>'
# MathJax 4 left to its defaults: the font comes from a CDN, which the guard must catch.
CDN_FONT = "<script>delete window.MathJax.output</script>" + MATHJAX
CHECK_CASES = [
    ("typeset", MATHJAX + r'<p><span class="arithmatex">\(x^2\)</span></p>', None),
    (
        "tex-error",
        MATHJAX + r'<span class="arithmatex">\(x^^2\)</span>',
        "MathJax error: Missing open brace for superscript in x^^2",
    ),
    (
        "unknown-macro",
        MATHJAX + r'<span class="arithmatex">\(\relux x\)</span>',
        r"MathJax error: undefined \relux in \relux x",
    ),
    (
        "unbalanced",
        MATHJAX + r'<span class="arithmatex">\(\frac{a\)</span>',
        r"formula not typeset: \(\frac{a\)",
    ),
    (  # MathJax 4 reads `\_` in text as LaTeX does; a math macro there is still an error
        "text-macro",
        MATHJAX + r'<span class="arithmatex">\(\text{a \alpha b}\)</span>',
        r"\alpha is only supported in math mode",
    ),
    ("no-mathjax", r'<span class="arithmatex">\(x\)</span>', "MathJax never started"),
    (
        "tex-as-text",
        MATHJAX + r"<nav><a>A layer: \(a = f(Wx + b)\)</a></nav>",
        r"TeX shown as text: A layer: \(a = f(Wx + b)\)",
    ),
    ("missing-image", '<img src="missing.png">', "image did not load"),
    ("script-error", "<script>window.notThere()</script>", "uncaught"),
    ("outside-image", '<img src="https://example.org/a.png">', "left: https://example.org/a.png"),
    (
        "outside-font",
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css?f=R">',
        "left: https://fonts.googleapis.com/css?f=R",
    ),
    (
        "worker-fetch",
        "<script>new Worker(URL.createObjectURL(new Blob(["
        '"fetch(\'https://example.org/w\')"], {type: "text/javascript"})))</script>',
        "left: https://example.org/w",
    ),
    ("too-wide", '<div style="width: 800px">wide</div>', "scrolls 418px sideways at 390px"),
    (
        "cdn-font",
        CDN_FONT + r'<span class="arithmatex">\(x\)</span>',
        "left: https://cdn.jsdelivr.net/npm/@mathjax/mathjax-newcm-font",
    ),
    (
        "wide-equation",
        MATHJAX + r'<div class="arithmatex">\[\mathrm{' + "m" * 60 + r"}\]</div>",
        "display equation wider than its column",
    ),
]


@pytest.fixture(scope="module")
def scratch_site(tmp_path_factory):
    """An empty directory served on 127.0.0.1, with MathJax and its font where the site has them
    (`assets/`); yields (dir, url)."""
    from generator.site.mathjax import PACKAGES, package_dir

    root = tmp_path_factory.mktemp("scratch")
    for package in PACKAGES:
        (root / package.site_dir).parent.mkdir(parents=True, exist_ok=True)
        (root / package.site_dir).symlink_to(package_dir(package), target_is_directory=True)
    with serve_site(root) as url:
        yield root, url


@pytest.mark.parametrize("name, body, expected", CHECK_CASES, ids=[c[0] for c in CHECK_CASES])
def test_checks_catch_a_broken_page(browser, scratch_site, name, body, expected):
    root, url = scratch_site
    (root / f"{name}.html").write_text(
        f'<!doctype html><html><head><meta charset="utf-8">{SCRATCH_HEAD}</head>'
        f"<body>{body}</body></html>",
        encoding="utf-8",
    )
    context, guard = offline_context(browser, viewport=PHONE, color_scheme="light")
    try:
        page, console = _open(context, urljoin(url, f"{name}.html"))
        report = inspect_page(page, name, console)
        if expected and expected.startswith("left:"):  # a worker fetches after the load event
            for _ in range(50):
                if guard.blocked:
                    break
                page.wait_for_timeout(100)
    finally:
        context.close()
    found = report.problems() + report.overflow() + [f"left: {u}" for u in guard.blocked]
    if expected is None:
        assert found == []
    else:
        assert any(expected in line for line in found), found


def test_site_has_lessons_and_models(course_site):
    assert (course_site / "index.html").is_file()
    assert pages_under(course_site, "lessons"), "no lesson pages under site/lessons/"
    assert pages_under(course_site, "models"), "no model pages under site/models/"


def test_every_local_link_resolves(course_site):
    """Downloads (notebook, JSON, saved model), nav links and assets all name a built file."""
    broken = [
        f"{name or '(home)'}: {target}"
        for name in site_pages(course_site)
        for target in broken_links(course_site, name)
    ]
    assert not broken, "links to missing files:\n" + "\n".join(broken)


# Runs in the page: the speech MathJax's worker gives each typeset formula on the first screen
# (what a screen reader reads), once every one has it or the time is up; null where it has none.
SPEECH_JS = """
async (limitMs) => {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  await MathJax.startup.promise;
  const onScreen = () => Array.from(document.querySelectorAll("mjx-container")).filter((el) => {
    const box = el.getBoundingClientRect();
    return box.bottom > 0 && box.top < innerHeight && el.checkVisibility();
  });
  const speech = () => onScreen().map((el) => el.getAttribute("data-semantic-speech-none"));
  const until = performance.now() + limitMs;
  while (speech().some((text) => !text) && performance.now() < until) await sleep(50);
  return speech();
}
"""


def test_formulas_carry_speech_for_screen_readers(course_site, site_url, browser):
    """With a reader's default settings, MathJax's worker gives every formula on the first screen
    its speech (the other browser tests turn speech off, as it draws nothing)."""
    context, guard = offline_context(browser, speech=True, viewport=DESKTOP, color_scheme="light")
    name = pages_under(course_site, "lessons")[0]
    try:
        page, console = _open(context, urljoin(site_url, name))
        spoken = page.evaluate(SPEECH_JS, 20_000)
    finally:
        context.close()
    assert spoken, f"{name}: no formula on the first screen"
    assert all(spoken), f"{name}: formulas without speech: {spoken}"
    assert any(" equals " in f" {text} " for text in spoken), spoken
    assert not console.errors, "\n".join(console.errors)
    assert not guard.blocked, "\n".join(guard.blocked)


# The links of the search results: mkdocs-material lists them in the page, Zensical in the
# shadow root of its search dialog.
SEARCH_RESULTS_JS = """
() => [
  ...document.querySelectorAll(".md-search-result__item a"),
  ...Array.from(document.querySelectorAll("*")).filter((el) => el.shadowRoot)
    .flatMap((el) => Array.from(el.shadowRoot.querySelectorAll("a[href]"))),
].map((a) => a.href)
"""


def test_search_finds_a_lesson_by_a_word_in_it(course_site, site_url, offline):
    context, guard = offline
    lesson = pages_under(course_site, "lessons")[0]
    word = search_word(course_site, lesson)
    page, console = _open(context, site_url)
    button = page.locator("button.md-search__button")  # Zensical: a button opens a dialog
    if button.count() and button.first.is_visible():
        button.first.click()
        page.keyboard.type(word)
    else:
        search = page.locator("input.md-search__input")
        if not search.is_visible():
            page.locator('label[for="__search"]:visible').first.click()
        search.click()
        search.press_sequentially(word)
    page.wait_for_function(f"() => ({SEARCH_RESULTS_JS})().length > 0", timeout=15_000)
    found = {urlsplit(href).path for href in page.evaluate(SEARCH_RESULTS_JS)}
    assert urlsplit(urljoin(site_url, lesson)).path in found, f"searched {word!r}, got {found}"
    assert not console.errors, "\n".join(console.errors)
    assert not guard.blocked, "\n".join(guard.blocked)


def _scheme(page) -> tuple[str, str]:
    return tuple(
        page.evaluate(
            "() => [document.body.getAttribute('data-md-color-scheme'),"
            " getComputedStyle(document.body).backgroundColor]"
        )
    )


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


def test_longest_equation_on_a_phone(course_site, engine, site_url, offline):
    """The longest display equation of lesson 2 (the composed closed form), on a phone: typeset,
    inside its column; its screenshot is saved for a reader to look at
    (`build/screenshots/ENGINE/`). Equations elsewhere may scroll in their own box where no break
    is possible (`test_every_page_renders_offline` checks that)."""
    context, guard = offline
    longest = max(
        (
            (len(tex), name, index)
            for name in pages_under(course_site, "lessons")
            if "/02-" in f"/{name}"
            for index, tex in enumerate(display_math(course_site, name))
        ),
        default=None,
    )
    assert longest, "no display equation in lesson 2"
    _, name, index = longest
    page, console = _open(context, urljoin(site_url, name), PHONE)
    report = inspect_page(page, name, console)  # also opens folded <details>
    assert not report.problems(), "\n".join(report.problems())
    page.add_style_tag(content=".md-header { position: static !important; }")  # not over it
    box = page.locator("div.arithmatex").nth(index)
    box.scroll_into_view_if_needed()
    shots = SCREENSHOTS / engine
    shots.mkdir(parents=True, exist_ok=True)
    box.screenshot(path=shots / "longest-equation-390.png")
    width, inner = box.evaluate("el => [el.clientWidth, el.scrollWidth]")
    assert inner <= width + 1, f"{name}: the longest equation scrolls ({inner}px in {width}px)"
    assert not guard.blocked, "\n".join(guard.blocked)
