"""The worked example drawn on the page: the same output element as the formula, Keras's numbers.

A conv+pool model with `same` padding and stride 2 is saved to `.keras` and loaded back, analysed
as `course math` analyses it, and its page's figures are parsed: the drawn window, kernel and
output are compared with the sample, the loaded weights and each layer's Keras output, and the
coloured numbers of the formula with the same arrays.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from generator.render.diagrams.worked import COLOURS

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]
SVG = "{http://www.w3.org/2000/svg}"


def _number(value: float, digits: int = 2) -> str:
    text = f"{value:.{digits}f}"
    return "0" if float(text) == 0 else text.replace("-", "−")


def _cells(svg: ET.Element) -> list[str]:
    return [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "naf-cell"]


def _svg(html: str) -> ET.Element:
    return ET.fromstring(html[html.index("<svg") : html.index("</svg>") + len("</svg>")])


def _grid_origin(svg: ET.Element) -> tuple[int, int]:
    header = next(t.text for t in svg.iter(f"{SVG}text") if "rows" in (t.text or ""))
    rows, cols = re.search(r"rows (-?\d+)–(-?\d+), columns (-?\d+)–(-?\d+)", header).groups()[::2]
    return int(rows), int(cols)


def _coloured(latex: str, role: str) -> list[float]:
    found = re.findall(r"\\color\{" + COLOURS[role] + r"\}\{\(?(-?[\d.e+-]+)\)?\}", latex)
    return [float(v) for v in found]


def _near(value: float, options: np.ndarray) -> bool:
    """`value`, printed to four significant digits, is one of `options`."""
    return bool(np.any(np.abs(np.asarray(options) - value) <= 5e-4 * max(abs(value), 1e-3)))


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from generator.equation.analyze import analyze_model
    from generator.render.diagrams.examples import drawn_example
    from generator.render.markdown import model_page

    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((9, 9, 3)),
            keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="conv"),
            keras.layers.MaxPooling2D(2, padding="same", name="pool"),
            keras.layers.Flatten(),
            keras.layers.Dense(2, name="dense"),
        ],
        name="drawn",
    )
    path = tmp_path_factory.mktemp("drawn") / "drawn.keras"
    model.save(path)
    model = keras.saving.load_model(path)
    x = np.random.default_rng(0).uniform(-1, 1, size=(2, 9, 9, 3)).astype("float32")
    math = analyze_model(model, sample=x)
    outputs = {
        name: keras.Model(model.inputs, model.get_layer(name).output).predict(x, verbose=0)[0]
        for name in ("conv", "pool")
    }
    layers = {layer.record.name: layer for layer in math.layers}
    drawn = {name: drawn_example(math, layers[name]) for name in ("conv", "pool", "dense")}
    kernel, bias = (np.asarray(w) for w in model.get_layer("conv").get_weights())
    return {
        "math": math,
        "x": x[0],
        "outputs": outputs,
        "drawn": drawn,
        "kernel": kernel,
        "bias": bias,
        "markdown": model_page(math),
    }


def test_convolution_figure_is_the_formulas_element(page):
    worked, html = page["drawn"]["conv"]
    i, j, k = worked.example.index
    x, kernel, keras_out = page["x"], page["kernel"], page["outputs"]["conv"]
    # `same` padding with stride 2 over 9 rows: one row and column of zeros before the input.
    top, left = 2 * i - 1, 2 * j - 1
    assert top < 0 or left < 0 or top + 3 > 9 or left + 3 > 9, "not a border element"
    padded = np.pad(x, ((1, 3), (1, 3), (0, 0)))
    window = padded[top + 1 : top + 4, left + 1 : left + 4, :]
    svg = _svg(html)
    assert f"a[{i}, {j}, {k}]" in svg.find(f"{SVG}title").text
    cells = _cells(svg)
    r0, c0 = _grid_origin(svg)
    header = next(t.text for t in svg.iter(f"{SVG}text") if "rows" in (t.text or ""))
    r_end, c_end = (int(v) for v in re.search(r"–(-?\d+), columns -?\d+–(-?\d+)", header).groups())
    rows, cols = r_end - r0 + 1, c_end - c0 + 1
    grid = np.array(cells[: rows * cols]).reshape(rows, cols)
    channel = int(re.search(r"channel (\d+) of 3", header).group(1))
    drawn_window = grid[top - r0 : top - r0 + 3, left - c0 : left - c0 + 3]
    assert (drawn_window == np.vectorize(_number)(window[:, :, channel])).all()
    drawn_kernel = np.array(cells[rows * cols : rows * cols + 9]).reshape(3, 3)
    assert (drawn_kernel == np.vectorize(_number)(kernel[:, :, channel, k])).all()
    assert cells[-1] == _number(float(keras_out[i, j, k]))
    assert worked.keras_value == pytest.approx(float(keras_out[i, j, k]), abs=1e-6)
    # The formula, coloured as the figure: kernel numbers from W[..., k], input numbers from the
    # window (padding zeros included), the bias b[k], the output Keras's value.
    latex = worked.example.latex
    assert _coloured(latex, "kernel") and _coloured(latex, "input")
    assert all(_near(v, kernel[:, :, :, k]) for v in _coloured(latex, "kernel"))
    assert all(_near(v, window) for v in _coloured(latex, "input"))
    assert _coloured(latex, "bias") == pytest.approx([page["bias"][k]], abs=5e-5)
    assert _coloured(latex, "output")[-1] == pytest.approx(float(keras_out[i, j, k]), rel=1e-3)


def test_max_pooling_figure_is_the_formulas_element(page):
    worked, html = page["drawn"]["pool"]
    i, j, k = worked.example.index
    conv_out, keras_out = page["outputs"]["conv"], page["outputs"]["pool"]
    # 5 rows pooled by 2 with `same` padding: no padding before, one row after.
    window = conv_out[2 * i : 2 * i + 2, 2 * j : 2 * j + 2, k]
    svg = _svg(html)
    assert f"a[{i}, {j}, {k}]" in svg.find(f"{SVG}title").text
    assert _cells(svg)[-1] == _number(float(keras_out[i, j, k]))
    r, c = np.unravel_index(int(np.argmax(window)), window.shape)
    desc = svg.find(f"{SVG}desc").text
    assert f"winner is at row {2 * i + r}, column {2 * j + c}" in desc
    latex = worked.example.latex
    # The losers in the input's colour; the winner, as the figure marks it, in the output's.
    winner, result = _coloured(latex, "output")
    losers = np.delete(window.ravel(), int(np.argmax(window)))
    assert sorted(_coloured(latex, "input")) == pytest.approx(sorted(losers), abs=5e-4)
    assert winner == result == pytest.approx(float(keras_out[i, j, k]), rel=1e-3)


def test_padded_pooling_border_element_against_keras(page):
    """A pooling window half outside the input: the padding is drawn, left out of the max."""
    from generator.render.diagrams.examples import worked_figure

    math, conv_out, keras_out = page["math"], page["outputs"]["conv"], page["outputs"]["pool"]
    for index in [(2, 2, 0), (2, 1, 3), (0, 2, 1)]:
        figure = worked_figure(math.graph.layer("pool"), conv_out, math.graph.weight_values, index)
        svg = ET.fromstring(figure.svg())
        cells = _cells(svg)
        assert "pad" in cells
        assert cells[-1] == _number(float(keras_out[index]))


def test_page_shows_each_figure_after_its_formula(page):
    markdown = page["markdown"]
    for name in ("conv", "pool"):
        section = markdown[markdown.index(f"`{name}` (") :]
        end = section.index("\n### ")
        assert section.index("**Worked example**") < section.index('class="naf-worked"') < end
    assert page["drawn"]["dense"][1] == ""  # a Dense layer has a formula, no drawing
    assert markdown.count('class="naf-worked" data-layer=') == 2
