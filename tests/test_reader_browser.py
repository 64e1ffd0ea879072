"""The course as a reader sees it, built by each engine, on a phone (390 px) and a desktop
(1280 px), light and dark: every page renders offline (math, images, no console error, nothing
sideways), its first screen typesets fast (ui/lazy), no column of an architecture table is
off-screen, every figure fits its column or says that it scrolls, and a lesson's charts are dark
in the dark scheme. Screenshots: build/screenshots/ENGINE/ and build/screenshots/reader/ENGINE/.

Every page is shown once per engine and viewport (`tests/browser_sweep.py`): on a desktop each
page is loaded afresh, on a phone each is reached by a click on its link (the theme's instant
navigation). The tests below read their part of that pass.
"""

from __future__ import annotations

import io
from urllib.parse import urljoin

import pytest
import test_browser
from browser_support import math_count, offline_context, pages_under
from browser_sweep import (
    SCHEMES,
    TYPESET_LIMIT_S,
    VIEWPORTS,
    Shot,
    Sweep,
    sweep_site,
)

# The course built by each engine, served, and the browser: the fixtures of test_browser.py,
# instantiated once per engine for this module.
browser = test_browser.browser
course_site = test_browser.course_site
engine = test_browser.engine
site_url = test_browser.site_url

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.site]

SCREENSHOTS = test_browser.ROOT / "build" / "screenshots"


def _context(browser, viewport: str, scheme: str):
    """A fresh offline browser context at `viewport` in the colour `scheme` (the theme's palette
    follows the system setting on a first visit)."""
    return offline_context(browser, viewport=VIEWPORTS[viewport], color_scheme=scheme)


def _reader_pages(course_site) -> list[str]:
    return pages_under(course_site, "lessons") + pages_under(course_site, "models")


def _charts_lesson(course_site) -> str:
    """The lesson with the most charts (images with a dark rendering)."""
    lessons = pages_under(course_site, "lessons")
    return max(
        lessons,
        key=lambda name: (course_site / name / "index.html").read_text().count('class="naf-dark"'),
    )


def _shots(course_site, engine: str, viewport: str) -> list[Shot]:
    """The screenshots a reader looks at (`build/screenshots/ENGINE/`): the home page, the first
    lesson and the model page with the most math (the richest architecture table), light and
    dark on a desktop and light on a phone; on a phone also the convolutional network's page
    and the lesson with charts, light and dark (`reader/ENGINE/`)."""
    models = pages_under(course_site, "models")
    pages = {
        "home": "",
        "lesson": pages_under(course_site, "lessons")[0],
        "model": max(models, key=lambda page: math_count(course_site, page)),
    }
    shots, reader = SCREENSHOTS / engine, SCREENSHOTS / "reader" / engine
    if viewport == "desktop":
        return [
            Shot(page, scheme, shots / f"{kind}-{scheme}.png")
            for kind, page in pages.items()
            for scheme in SCHEMES
        ]
    cnn = next((m for m in models if m.rstrip("/").endswith("/tf-tutorial-cnn")), models[0])
    return [Shot(page, "light", shots / f"{kind}-390.png") for kind, page in pages.items()] + [
        Shot(page, scheme, reader / f"{kind}-390-{scheme}.png")
        for kind, page in (("model", cnn), ("lesson", _charts_lesson(course_site)))
        for scheme in SCHEMES
    ]


@pytest.fixture(scope="module")
def sweep(browser, course_site, engine, site_url):
    """`sweep(viewport)`: every page of the engine's site shown once at `viewport`, with every
    per-page check and screenshot taken there (`tests/browser_sweep.py`); made on first use,
    shared by the tests of this engine."""
    done: dict[str, Sweep] = {}

    def at(viewport: str) -> Sweep:
        if viewport not in done:
            layout = set(_reader_pages(course_site))
            shots = _shots(course_site, engine, viewport)
            done[viewport] = sweep_site(browser, site_url, course_site, viewport, layout, shots)
        return done[viewport]

    return at


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_page_renders_offline(sweep, engine, viewport):
    """Math typeset without error, images loaded, no console error, nothing fetched from outside,
    no page scrolls sideways, and every display equation fits its column (MathJax breaks it) or,
    where it has nowhere to break, scrolls in its own box (counted, and listed in a file)."""
    swept = sweep(viewport)
    problems, math, display, scrolling = [], 0, 0, []
    for visit in swept.visits:
        report = visit.report
        problems += report.problems() + report.overflow()
        math += report.arithmatex
        display += report.display_math
        scrolling += [f"{visit.page or '(home)'}: {tex}" for tex in report.display_scrolling]
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
    assert not swept.blocked, "requests that would leave the machine:\n" + "\n".join(swept.blocked)
    assert math > 0 and display > 0, "no math on any page"
    # Equations with nowhere to break are listed in a file next to the screenshots, in UTF-8
    # (a warning would print them as escaped Unicode in every run's summary).
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = VIEWPORTS[viewport]["width"]
    listing = SCREENSHOTS / f"scrolling-{engine}-{width}.txt"
    text = "".join(f"{line}\n" for line in scrolling)
    # The page's text comes from JavaScript as UTF-16: join its surrogate pairs (math letters).
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    listing.write_text(text, encoding="utf-8")
    print(
        f"{engine} at {width}px: {display} display equations, {len(scrolling)} "
        f"scroll in their box (listed in {listing.relative_to(test_browser.ROOT)})"
    )


def test_links_swap_pages_without_a_reload(sweep, engine):
    """The theme's instant navigation: every page a phone reader reaches by its link is swapped
    in without reloading the page (mkdocs.yml needs the theme feature `navigation.instant` and a
    `site_url`); `test_every_page_renders_offline` checks each one's math typeset afresh."""
    followed = sweep("phone").visits[1:]
    reloaded = [visit.page for visit in followed if not visit.swapped]
    assert followed, "no page reached by a link"
    assert not reloaded, (
        f"{engine}: the click reloaded the page, no instant navigation: " + ", ".join(reloaded)
    )


def test_every_page_typesets_its_first_screen_fast(sweep, engine):
    """Per page: the time until the formulas of the first screen are typeset, printed; the
    slowest under `TYPESET_LIMIT_S` (at 1280 px; a page over it is loaded again, up to
    `TYPESET_LOADS` loads, and the fastest counts). Measured in the sweep, with MathJax's speech
    off: its worker starts on a formula once the formula is drawn."""
    times = {visit.page or "(home)": visit.typeset_s for visit in sweep("desktop").visits}
    for name, seconds in sorted(times.items(), key=lambda item: -item[1]):
        print(f"{engine}: {seconds:5.2f} s  {name}")
    slowest = max(times, key=times.get)
    print(f"{engine}: slowest page {slowest} in {times[slowest]:.2f} s")
    assert times[slowest] < TYPESET_LIMIT_S, f"{slowest} typeset in {times[slowest]:.2f} s"


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_tables_and_figures_fit_or_say_they_scroll(sweep, engine, viewport, scheme):
    """Every lesson and model page: all columns of an architecture table in view (a card per
    layer on a phone); a figure or table wider than its column shows its "scroll →" hint."""
    problems, tables, figures = [], 0, 0
    for name, found in sweep(viewport).layout(scheme):
        tables += found["tables"]
        figures += found["figures"]
        problems += [f"{name}: column off-screen: {cell}" for cell in found["offscreen"]]
        problems += [f"{name}: wider than its column, no hint: {el}" for el in found["unhinted"]]
    print(f"{engine} {viewport} {scheme}: {tables} architecture tables, {figures} figures")
    assert tables > 0 and figures > 0, "no architecture table or figure on any page"
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_screenshots(sweep, course_site, engine, viewport):
    """Full-page screenshots for a reader to look at, taken in the sweep: home, first lesson and
    the richest model page, light and dark on a desktop, light on a 390-pixel-wide phone; the
    convolutional network's page and the lesson with charts at 390 px, light and dark."""
    sweep(viewport)
    for shot in _shots(course_site, engine, viewport):
        assert shot.path.stat().st_size > 10_000, shot.path


def _luminance(png: bytes) -> float:
    """Mean relative luminance (0 black .. 1 white) of a screenshot."""
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float) / 255
    return float((rgb @ np.array([0.2126, 0.7152, 0.0722])).mean())


@pytest.mark.parametrize("scheme", SCHEMES)
def test_charts_follow_the_colour_scheme(browser, course_site, engine, site_url, scheme):
    """A lesson's charts as drawn on the page: dark (mean luminance under 0.3) in the dark
    scheme, light (over 0.7) in the light one; one rendering shown at a time."""
    name = _charts_lesson(course_site)
    context, guard = _context(browser, "desktop", scheme)
    page = context.new_page()
    try:
        page.goto(urljoin(site_url, name), wait_until="load")
        shown = page.locator("article img:visible")
        charts = [
            shown.nth(i)
            for i in range(shown.count())
            if "naf-" in (shown.nth(i).get_attribute("class") or "")
        ]
        assert charts, f"{name}: no chart shown in the {scheme} scheme"
        wanted = "naf-dark" if scheme == "dark" else "naf-light"
        assert all(chart.get_attribute("class") == wanted for chart in charts)
        levels = []
        for chart in charts:
            chart.scroll_into_view_if_needed()
            chart.evaluate("img => img.decode()")
            levels.append(_luminance(chart.screenshot()))
    finally:
        context.close()
    print(
        f"{engine} {scheme}: luminance of {len(levels)} charts: "
        + " ".join(f"{v:.2f}" for v in levels)
    )
    if scheme == "dark":
        assert max(levels) < 0.3, f"{name}: a chart is bright in the dark scheme: {levels}"
    else:
        assert min(levels) > 0.7, f"{name}: a chart is dark in the light scheme: {levels}"
    assert not guard.blocked, "\n".join(guard.blocked)
