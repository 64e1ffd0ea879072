"""Every kind of diagram rendered by headless Chromium under the site's theme, light and dark.

A tiny MkDocs site (the course's own mkdocs.yml: theme, palette, Markdown extensions, our
stylesheets) holds the diagrams of a hand-made convolutional model and an LSTM twice: on a page
of their own, and inside an admonition as a lesson page embeds a model page. At 1280 px and 390 px
each figure must have a non-empty box and text that stands out from the page (contrast ratio);
the theme's scripts must raise no error, nothing may be fetched from another host, the page
itself must not scroll sideways (a diagram scrolls in its own box), and a click on a box must
reach its layer's heading. Screenshots go to build/screenshots/diagrams-*.png.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from browser_support import (
    SIDEWAYS_JS,
    ConsoleLog,
    launched_chromium,
    offline_context,
    serve_site,
)

from generator.model.graph import LayerRecord, ModelGraph, TensorRecord
from generator.model.keras_attrs import keras_attrs
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
SCHEMES = ("light", "dark")
PAGES = ("diagrams/", "embedded/")

# Runs in the page: each figure's box, its text colour against the page, its links.
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
    links: svg.parentElement.querySelectorAll("a.naf-link").length,
  };
})
"""


def _record(name, kind, shape_in, shape_out, inbound, code="", **config):
    return LayerRecord(
        name=name,
        type=kind,
        attrs=keras_attrs(kind, config, shape_in, shape_out),
        input_shapes=(shape_in,),
        output_shapes=(shape_out,),
        inbound=(inbound,),
        weights=(),
        framework_params=0,
        framework_trainable=0,
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
            filters=8,
            kernel_size=(3, 3),
            activation="relu",
        ),
        _record(
            "conv2d_1",
            "Conv2D",
            (None, 30, 30, 8),
            (None, 28, 28, 16),
            "conv2d",
            filters=16,
            kernel_size=(3, 3),
        ),
        _record(
            "max_pooling2d",
            "MaxPooling2D",
            (None, 28, 28, 16),
            (None, 14, 14, 16),
            "conv2d_1",
            pool_size=(2, 2),
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
    anchors = {"conv2d": "#layer-simple_cnn-1", "lstm": "#layer-lstm-1"}
    figures = [
        graph_figure(cnn, anchors),
        volume_figure(cnn, anchors),
        convolution_figure(**conv, activation="relu"),
        pooling_figure(**pool),
        *recurrent_figures(lstm, anchors),
    ]
    return "\n\n".join(f.html() for f in figures)


@pytest.fixture(scope="module")
def diagram_site(tmp_path_factory) -> Path:
    """A small MkDocs site built with the course's configuration (MathJax left out)."""
    root = tmp_path_factory.mktemp("diagram-site")
    docs = root / "docs"
    (docs / "stylesheets").mkdir(parents=True)
    for sheet in ("extra.css", "diagrams.css"):
        (docs / "stylesheets" / sheet).write_text(
            (ROOT / "docs" / "stylesheets" / sheet).read_text(encoding="utf-8"), encoding="utf-8"
        )
    filler = "\n\n".join(["A paragraph, so the heading can come to the top."] * 30)
    # Layer sections as the model page writes them, anchors in the headings.
    sections = (
        f'\n\n## 1. `conv2d` (Conv2D) <span id="layer-simple_cnn-1"></span>\n\n{filler}'
        f'\n\n## 1. `lstm` (LSTM) <span id="layer-lstm-1"></span>\n\n{filler}\n'
    )
    page = _figures() + sections
    (docs / "index.md").write_text("# Home\n\n[Diagrams](diagrams.md)\n", encoding="utf-8")
    (docs / "diagrams.md").write_text(f"# Diagrams\n\n{page}", encoding="utf-8")
    # As a lesson page embeds a model page: headings made bold lines, inside an admonition.
    flat = re.sub(r"^#{1,6}\s+(.*)$", r"**\1**", page, flags=re.M)
    indented = "\n".join("    " + line if line.strip() else "" for line in flat.splitlines())
    (docs / "embedded.md").write_text(
        f'# Embedded\n\n???+ abstract "What publish() showed"\n\n{indented}\n', encoding="utf-8"
    )
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    config.pop("extra_javascript", None)  # MathJax: fetched by `course build`, not needed here
    config.update(docs_dir=str(docs), site_dir=str(root / "site"))
    config["nav"] = [{"Home": "index.md"}, {"Diagrams": "diagrams.md"}, {"Embedded": "embedded.md"}]
    (root / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "mkdocs",
        "build",
        "--strict",
        "-q",
        "-f",
        str(root / "mkdocs.yml"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return root / "site"


# Runs in the page: resolves once the fonts are loaded and MathJax has typeset what it shows.
SETTLED_JS = """
async () => {
  await document.fonts.ready;
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
}
"""


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
    with launched_chromium() as chromium:
        yield chromium


@pytest.mark.parametrize("page_path", PAGES)
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
def test_diagrams_render_in_both_schemes_and_widths(
    browser, diagram_site, page_path, scheme, width
):
    viewport = {"width": width, "height": 900}
    context, guard = offline_context(browser, viewport=viewport, color_scheme=scheme)
    try:
        page = context.new_page()
        console = ConsoleLog()
        console.attach(page)
        with serve_site(diagram_site) as url:
            page.goto(url + page_path, wait_until="load")
            figures = page.evaluate(FIGURES_JS)
            sideways = page.evaluate(SIDEWAYS_JS)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            name = f"diagrams-{page_path.strip('/')}-{scheme}-{width}.png"
            page.screenshot(path=SCREENSHOTS / name, full_page=True)
            # Clicked once the page has stopped moving: typesetting and a late font shift the
            # boxes under the pointer (on a busy machine the click landed beside the link).
            page.evaluate(SETTLED_JS)
            page.click(".naf-diagram-graph a.naf-link")
            page.wait_for_function("location.hash === '#layer-simple_cnn-1'", timeout=5000)
            page.wait_for_timeout(300)
            top = page.evaluate(
                "document.getElementById('layer-simple_cnn-1').getBoundingClientRect().top"
            )
    finally:
        context.close()
    kinds = [f["kind"] for f in figures]
    expected = ["naf-graph", "naf-volume", "naf-worked", "naf-worked", "naf-lstm", "naf-unrolled"]
    assert kinds == expected
    for figure in figures:
        assert figure["width"] > 100 and figure["height"] > 100, figure
        assert figure["title"], figure
        ratio = _contrast(_rgb(figure["text"]), _rgb(figure["background"]))
        assert ratio >= 4.5, f"{figure['kind']} text contrast {ratio:.1f} in {scheme}"
    assert [f["links"] for f in figures] == [1, 1, 0, 0, 1, 4]
    assert 0 <= top < 200, top  # the click brought the layer's heading to the top
    assert sideways["distance"] == 0, sideways
    assert not console.errors and not guard.blocked
