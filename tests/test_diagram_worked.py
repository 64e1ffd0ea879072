"""Worked-example figures against Keras: the drawn window, kernel and output are Keras's numbers.

The model is saved to `.keras` and loaded back; the numbers come from the loaded model's weights
(as the generator reads them) and a seeded sample; the reference is the loaded model's own output
for the convolution and the pooling.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from generator.render.diagrams.worked import (
    CELL,
    MARGIN,
    convolution_example,
    convolution_figure,
    pooling_example,
    pooling_figure,
)

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]
SVG = "{http://www.w3.org/2000/svg}"


def _texts(svg: ET.Element, cls: str) -> list[str]:
    return [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == cls]


def _number(value: float, digits: int = 2) -> str:
    text = f"{value:.{digits}f}"
    return "0" if float(text) == 0 else text.replace("-", "−")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from generator.model.frontend import describe_model

    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((9, 9, 3)),
            keras.layers.Conv2D(4, (3, 3), strides=(2, 1), activation="relu", name="conv"),
            keras.layers.MaxPooling2D((2, 2), name="pool"),
        ],
        name="worked",
    )
    path = tmp_path_factory.mktemp("worked") / "worked.keras"
    model.save(path)
    model = keras.saving.load_model(path)
    x = np.random.default_rng(0).normal(size=(1, 9, 9, 3)).astype("float32")
    conv_out = keras.Model(model.inputs, model.get_layer("conv").output).predict(x, verbose=0)
    pool_out = model.predict(x, verbose=0)
    return describe_model(model, with_weights=True), x[0], conv_out[0], pool_out[0]


@pytest.mark.parametrize("index", [(0, 0, 0), (2, 4, 3), (3, 6, 1)])
def test_convolution_figure_shows_keras_numbers(loaded, index):
    graph, x, conv_out, _ = loaded
    kernel, bias = graph.weight_values[("conv", "kernel")], graph.weight_values[("conv", "bias")]
    example = convolution_example(
        x, kernel, bias, index, strides=(2, 1), activation=lambda z: max(z, 0.0)
    )
    assert example["value"] == pytest.approx(float(conv_out[index]), abs=1e-5)
    svg = ET.fromstring(convolution_figure(**example, activation="relu").svg())
    i, j, k = index
    top, left = 2 * i, j
    window = x[top : top + 3, left : left + 3, example["channel"]]
    cells = _texts(svg, "naf-cell")
    rows, cols = example["grid"].values.shape
    shown = np.array(cells[: rows * cols]).reshape(rows, cols)
    r0, c0 = top - example["grid"].top, left - example["grid"].left
    assert (shown[r0 : r0 + 3, c0 : c0 + 3] == np.vectorize(_number)(window)).all()
    drawn_kernel = np.array(cells[rows * cols : rows * cols + 9]).reshape(3, 3)
    w = kernel[:, :, example["channel"], k]
    assert (drawn_kernel == np.vectorize(_number)(w)).all()
    assert cells[-1] == _number(float(conv_out[index]))
    formula = " ".join(_texts(svg, "naf-formula"))
    assert f"= {_number(float(conv_out[index]), 4)}" in formula
    assert "other 2 channels" in formula


@pytest.mark.parametrize("index", [(0, 0, 0), (1, 2, 3), (0, 1, 2)])
def test_max_pooling_figure_marks_the_winner(loaded, index):
    _, _, conv_out, pool_out = loaded
    example = pooling_example(conv_out, (2, 2), index)
    assert example["value"] == pytest.approx(float(pool_out[index]), abs=1e-6)
    svg = ET.fromstring(pooling_figure(**example).svg())
    i, j, k = index
    window = conv_out[2 * i : 2 * i + 2, 2 * j : 2 * j + 2, k]
    r, c = np.unravel_index(int(np.argmax(window)), window.shape)
    (ring,) = [e for e in svg.iter(f"{SVG}rect") if float(e.get("rx")) == CELL / 2]
    grid = example["grid"]
    drawn_col = round((float(ring.get("x")) - 3 - MARGIN) / CELL) + grid.left
    assert drawn_col == 2 * j + c
    assert example["winner"] == (2 * i + r, 2 * j + c)
    assert _texts(svg, "naf-cell")[-1] == _number(float(pool_out[index]))
    assert f"= {_number(float(pool_out[index]), 4)}" in " ".join(_texts(svg, "naf-formula"))


@pytest.mark.parametrize("layer", ["conv", "pool"])
def test_worked_figure_from_the_layer_record(loaded, layer):
    """The page hook: record, the layer's input and the weights in; Keras's largest output out."""
    from generator.render.diagrams import worked_figure

    graph, x, conv_out, pool_out = loaded
    layer_input, output = (x, conv_out) if layer == "conv" else (conv_out, pool_out)
    figure = worked_figure(graph.layer(layer), layer_input, graph.weight_values)
    svg = ET.fromstring(figure.svg())
    k = int(np.argmax(output[0, 0]))
    assert f"a[0, 0, {k}]" in svg.find(f"{SVG}title").text
    assert _texts(svg, "naf-cell")[-1] == _number(float(output[0, 0, k]))
