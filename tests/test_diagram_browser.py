"""Every kind of diagram rendered by headless Chromium under the site's theme, light and dark.

A small page holds the diagrams of a hand-made convolutional model and an LSTM, with
mkdocs-material's own stylesheets and ours, at 1280 px and 390 px: each figure must have a
non-empty box, its text must stand out from the page (contrast ratio), nothing may be fetched from
another host and the page itself must not scroll sideways (a diagram scrolls in its own box).
Screenshots go to build/screenshots/diagrams-*.png.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SIDEWAYS_JS,
    ConsoleLog,
    OfflineGuard,
    serve_site,
)

from generator.model.graph import LayerRecord, ModelGraph, TensorRecord
from generator.render.diagrams import graph_figure, volume_figure
from generator.render.diagrams.recurrent import recurrent_figures
from generator.render.diagrams.worked import (
    convolution_example,
    convolution_figure,
    pooling_example,
    pooling_figure,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "build" / "screenshots"
WIDTHS = (1280, 390)
SCHEMES = ("default", "slate")

# Runs in the page: each figure's box, and its text colour against the page background.
FIGURES_JS = """
() => Array.from(document.querySelectorAll("svg[role=img]")).map((svg) => {
  const box = svg.getBoundingClientRect();
  const label = svg.querySelector("text");
  return {
    kind: svg.getAttribute("class"),
    width: box.width,
    height: box.height,
    title: svg.querySelector("title") ? svg.querySelector("title").textContent : "",
    text: label ? getComputedStyle(label).fill : "",
    background: getComputedStyle(document.body).backgroundColor,
  };
})
"""


def _record(name, kind, shape_in, shape_out, inbound, code="", **config):
    return LayerRecord(
        name=name,
        type=kind,
        config=config,
        input_shapes=(shape_in,),
        output_shapes=(shape_out,),
        inbound=(inbound,),
        weights=(),
        keras_params=0,
        keras_trainable=0,
        code=code or f"{kind}()",
    )


def _cnn() -> ModelGraph:
    layers = (
        _record(
            "conv2d",
            "Conv2D",
            (None, 32, 32, 3),
            (None, 30, 30, 8),
            "input_layer",
            'Conv2D(8, (3, 3), activation="relu")',
        ),
        _record("conv2d_1", "Conv2D", (None, 30, 30, 8), (None, 28, 28, 16), "conv2d"),
        _record(
            "max_pooling2d", "MaxPooling2D", (None, 28, 28, 16), (None, 14, 14, 16), "conv2d_1"
        ),
        _record("flatten", "Flatten", (None, 14, 14, 16), (None, 3136), "max_pooling2d"),
        _record("dense", "Dense", (None, 3136), (None, 128), "flatten"),
        _record("dense_1", "Dense", (None, 128), (None, 10), "dense"),
    )
    return ModelGraph(
        "simple_cnn",
        "Sequential",
        (TensorRecord("input_layer", (None, 32, 32, 3)),),
        (TensorRecord("dense_1", (None, 10)),),
        layers,
        ("dense_1",),
    )


def _lstm() -> ModelGraph:
    lstm = _record("lstm", "LSTM", (None, None, 3), (None, 4), "input_layer", units=4)
    return ModelGraph(
        "lstm",
        "Sequential",
        (TensorRecord("input_layer", (None, None, 3)),),
        (TensorRecord("lstm", (None, 4)),),
        (lstm,),
        ("lstm",),
    )


def _figures() -> str:
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(8, 8, 3))
    kernel, bias = rng.normal(size=(3, 3, 3, 4)) * 0.3, rng.normal(size=4) * 0.1
    conv = convolution_example(x, kernel, bias, (1, 2, 1), activation=lambda z: max(z, 0.0))
    pool = pooling_example(x, (2, 2), (1, 1, 0))
    cnn, lstm = _cnn(), _lstm()
    figures = [
        graph_figure(cnn, {"conv2d": "#conv2d"}),
        volume_figure(cnn),
        convolution_figure(**conv, activation="relu"),
        pooling_figure(**pool),
        *recurrent_figures(lstm),
    ]
    return "\n".join(f.html() for f in figures)


def _page(root: Path, scheme: str) -> str:
    material = Path(__import__("material").__file__).parent / "templates/assets/stylesheets"
    sheets = [
        next(material.glob("main.*.min.css")),
        next(material.glob("palette.*.min.css")),
        ROOT / "docs/stylesheets/diagrams.css",
    ]
    for sheet in sheets:
        shutil.copy(sheet, root / sheet.name)
    links = "".join(f'<link rel="stylesheet" href="{s.name}">' for s in sheets)
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">{links}</head>'
        f'<body data-md-color-scheme="{scheme}" data-md-color-primary="indigo" '
        f'data-md-color-accent="indigo"><article class="md-content__inner md-typeset">'
        f'<h1 id="conv2d">Diagrams</h1>{_figures()}</article></body></html>'
    )


def _rgb(css: str) -> tuple[float, ...]:
    numbers = [float(n) for n in css[css.index("(") + 1 : css.index(")")].split(",")[:3]]
    return tuple(numbers)


def _contrast(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    def luminance(rgb):
        channels = [c / 255 for c in rgb]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (pip install -e .[dev])")
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
            )
        except Error as error:
            pytest.skip(f"Chromium at {CHROMIUM} does not start: {error}")
        yield chromium
        chromium.close()


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
def test_diagrams_render_in_both_schemes_and_widths(browser, tmp_path, scheme, width):
    (tmp_path / "index.html").write_text(_page(tmp_path, scheme), encoding="utf-8")
    guard = OfflineGuard()
    context = browser.new_context(viewport={"width": width, "height": 900})
    guard.attach(context)
    try:
        page = context.new_page()
        console = ConsoleLog()
        console.attach(page)
        with serve_site(tmp_path) as url:
            page.goto(url, wait_until="load")
            figures = page.evaluate(FIGURES_JS)
            sideways = page.evaluate(SIDEWAYS_JS)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOTS / f"diagrams-{scheme}-{width}.png", full_page=True)
            page.click("svg.naf-graph a")
            assert page.evaluate("location.hash") == "#conv2d"
    finally:
        context.close()
    kinds = [f["kind"] for f in figures]
    assert kinds == [
        "naf-graph",
        "naf-volume",
        "naf-worked",
        "naf-worked",
        "naf-lstm",
        "naf-unrolled",
    ]
    for figure in figures:
        assert figure["width"] > 100 and figure["height"] > 100, figure
        assert figure["title"], figure
        ratio = _contrast(_rgb(figure["text"]), _rgb(figure["background"]))
        assert ratio >= 4.5, f"{figure['kind']} text contrast {ratio:.1f} in {scheme}"
    assert sideways["distance"] == 0, sideways
    assert not console.errors and not guard.blocked
