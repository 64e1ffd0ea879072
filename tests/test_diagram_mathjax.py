"""The coloured worked-example formula as MathJax 4 renders it, next to its figure, light and dark.

A conv+pool model (`same` padding, stride 2) is saved to `.keras` and loaded back; its page goes
into a tiny MkDocs site with the course's configuration and the site's own MathJax. In headless
Chromium, the numbers MathJax draws in each colour of the figure are read back and compared with
the loaded model's weights, the sample and each layer's Keras output: kernel values in the
kernel's colour, the input window in the input's, the bias, the output. No MathJax error, no
script error, nothing fetched from another host. Screenshots: build/screenshots/worked-*.png.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from browser_support import ConsoleLog, launched_chromium, offline_context, serve_site

from generator.render.diagrams.worked import COLOURS

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.site, pytest.mark.tensorflow]

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "build" / "screenshots"

# Runs in the page: wait for MathJax, then each colour's runs of text in the typeset math.
COLOURED_JS = """
async () => {
  await MathJax.startup.promise;
  // Every formula, also those ui/lazy typesets only when they come into view.
  if (MathJax.startup.document.lazyTypesetAll) await MathJax.startup.document.lazyTypesetAll();
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const pending = () => Array.from(document.querySelectorAll(".arithmatex"))
    .filter((el) => !el.querySelector("mjx-container") || el.querySelector("mjx-lazy")).length;
  for (let k = 0; k < 200 && pending() > 0; k++) await sleep(50);
  const runs = {};
  for (const el of document.querySelectorAll("mjx-container *")) {
    if (el.closest("mjx-assistive-mml")) continue;
    const colour = getComputedStyle(el).color;
    if (getComputedStyle(el.parentElement).color === colour) continue;
    (runs[colour] = runs[colour] || []).push(el.textContent);
  }
  const boxes = Array.from(document.querySelectorAll("svg.naf-worked"))
    .map((svg) => { const r = svg.getBoundingClientRect(); return [r.width, r.height]; });
  return {runs, pending: pending(), errors: document.querySelectorAll("mjx-merror").length, boxes};
}
"""


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[k : k + 2], 16) for k in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def _values(texts: list[str]) -> list[float]:
    """MathJax's text of coloured numbers (`(−0.197)`) as floats; other text left out."""
    out = []
    for text in texts:
        cleaned = text.replace("−", "-").strip("()")
        try:
            out.append(float(cleaned))
        except ValueError:
            continue
    return out


def _near(value: float, options: np.ndarray) -> bool:
    """`value`, printed to four significant digits, is one of `options`."""
    return bool(np.any(np.abs(np.asarray(options) - value) <= 5e-4 * max(abs(value), 1e-3)))


@pytest.fixture(scope="module")
def worked_site(tmp_path_factory):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from generator.equation.analyze import analyze_model
    from generator.render.markdown import model_page
    from generator.site.mathjax import MathJaxError, mathjax_files

    try:
        assets = mathjax_files()
    except (MathJaxError, OSError) as error:
        pytest.skip(f"MathJax is not available offline: {error}")
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((9, 9, 3)),
            keras.layers.Conv2D(4, 3, strides=2, padding="same", name="conv"),
            keras.layers.MaxPooling2D(2, padding="same", name="pool"),
        ],
        name="coloured",
    )
    root = tmp_path_factory.mktemp("worked-site")
    model.save(root / "coloured.keras")
    model = keras.saving.load_model(root / "coloured.keras")
    x = np.random.default_rng(0).uniform(-1, 1, size=(1, 9, 9, 3)).astype("float32")
    math = analyze_model(model, sample=x)
    docs = root / "docs"
    shutil.copytree(ROOT / "docs" / "javascripts", docs / "javascripts")
    shutil.copytree(ROOT / "docs" / "stylesheets", docs / "stylesheets")
    for target, source in assets.items():  # target: "assets/mathjax/...", as the site's
        (docs / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, docs / target)
    (docs / "index.md").write_text(model_page(math), encoding="utf-8")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    config.update(docs_dir=str(docs), site_dir=str(root / "site"), nav=[{"Model": "index.md"}])
    (root / "mkdocs.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    command = [sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(root / "mkdocs.yml")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    kernel, bias = model.get_layer("conv").get_weights()
    conv_out = keras.Model(model.inputs, model.get_layer("conv").output).predict(x, verbose=0)
    return {
        "site": root / "site",
        "x": x[0],
        "kernel": kernel,
        "bias": bias,
        "conv": (math.worked["conv"].example.index, conv_out[0]),
        "pool": (math.worked["pool"].example.index, model.predict(x, verbose=0)[0]),
    }


@pytest.fixture(scope="module")
def browser():
    with launched_chromium() as chromium:
        yield chromium


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 390])
def test_formula_colours_are_the_figures_and_carry_keras_numbers(
    browser, worked_site, scheme, width
):
    viewport = {"width": width, "height": 900}
    context, guard = offline_context(browser, viewport=viewport, color_scheme=scheme)
    try:
        page = context.new_page()
        console = ConsoleLog()
        console.attach(page)
        with serve_site(worked_site["site"]) as url:
            page.goto(url, wait_until="load")
            page.wait_for_function(
                "window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=15_000
            )
            state = page.evaluate(COLOURED_JS)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOTS / f"worked-{scheme}-{width}.png", full_page=True)
    finally:
        context.close()
    assert state["errors"] == 0 and state["pending"] == 0, state
    assert len(state["boxes"]) == 2 and all(w > 100 and h > 100 for w, h in state["boxes"])
    runs = {role: _values(state["runs"].get(_rgb(c), [])) for role, c in COLOURS.items()}
    (i, j, k), conv_out = worked_site["conv"]
    # The conv's window: `same` padding with stride 2 over 9 rows puts one zero row first.
    padded = np.pad(worked_site["x"], ((1, 3), (1, 3), (0, 0)))
    window = padded[2 * i : 2 * i + 3, 2 * j : 2 * j + 3, :]
    (p, q, c), pool_out = worked_site["pool"]
    pooled = np.pad(conv_out, ((0, 1), (0, 1), (0, 0)), constant_values=-np.inf)
    pool_window = pooled[2 * p : 2 * p + 2, 2 * q : 2 * q + 2, c]
    assert runs["kernel"] and all(_near(v, worked_site["kernel"][..., k]) for v in runs["kernel"])
    inputs = np.concatenate([window.ravel(), pool_window[np.isfinite(pool_window)]])
    assert runs["input"] and all(_near(v, inputs) for v in runs["input"])
    assert runs["bias"] == pytest.approx([worked_site["bias"][k]], abs=5e-5)
    # Outputs: the conv's value, then the pooling's winner and value (the same number).
    assert runs["output"] == pytest.approx(
        [conv_out[i, j, k], pool_out[p, q, c], pool_out[p, q, c]], rel=1e-3, abs=1e-4
    )
    assert not console.errors and not guard.blocked
