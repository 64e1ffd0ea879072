"""Worked examples with `same` padding: a border element whose window reaches into the padding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from generator import analyze_model  # noqa: E402
from generator.render.diagrams.examples import drawn_example  # noqa: E402
from generator.render.worked import worked_markdown  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]

L = keras.layers

#: (name, layer, input size): each pads; the padding sits before, after, or on both sides.
PADDED = [
    ("conv_same", lambda: L.Conv2D(2, 3, padding="same", name="layer"), 6),
    ("conv_same_stride2", lambda: L.Conv2D(2, 3, strides=2, padding="same", name="layer"), 8),
    ("conv_same_even_kernel", lambda: L.Conv2D(2, 2, padding="same", name="layer"), 5),
    ("average_same", lambda: L.AveragePooling2D(2, padding="same", name="layer"), 7),
    ("average_same_3", lambda: L.AveragePooling2D(3, strides=2, padding="same", name="layer"), 6),
    ("max_same", lambda: L.MaxPooling2D(2, padding="same", name="layer"), 5),
]


def _window(layer, n: int, i: int) -> list[int]:
    """The input rows output row `i` reads, by Keras's rule for `same` (odd zero after)."""
    config = layer.get_config()
    k = (config.get("kernel_size") or config["pool_size"])[0]
    s = config["strides"][0]
    d = config.get("dilation_rate", (1,))[0]
    out = -(-n // s)
    before = max((out - 1) * s + d * (k - 1) + 1 - n, 0) // 2
    return [i * s - before + d * u for u in range(k)]


def _analysed(tmp_path: Path, build, n: int):
    model = keras.Sequential([keras.Input((n, n, 3), name="image"), build()], name="m")
    model.save(tmp_path / "m.keras")
    model = keras.saving.load_model(tmp_path / "m.keras")
    sample = np.random.default_rng(1).uniform(0.5, 1.5, size=(2, n, n, 3)).astype("float32")
    return model, sample, analyze_model(model, sample=sample)


@pytest.mark.parametrize("name, build, n", PADDED, ids=[p[0] for p in PADDED])
def test_the_worked_example_reads_the_padding_and_says_so(tmp_path, name, build, n) -> None:
    model, sample, math = _analysed(tmp_path, build, n)
    worked = math.worked["layer"]
    i, j, c = worked.example.index
    layer = model.get_layer("layer")
    rows, cols = _window(layer, n, i), _window(layer, n, j)
    assert min(rows + cols) < 0 or max(rows + cols) >= n, (rows, cols)  # reaches the padding
    keras_out = model(sample).numpy()[0]
    assert worked.example.value == pytest.approx(float(keras_out[i, j, c]), abs=1e-5)
    if name.startswith("average"):  # the padding really changes it: not a mean with zeros
        inside = [[sample[0, r, q, c] for q in cols if 0 <= q < n] for r in rows if 0 <= r < n]
        with_zeros = np.sum(inside) / (len(rows) * len(cols))
        assert abs(keras_out[i, j, c] - with_zeros) > 1e-3
        assert "leaves out" in worked.padding
    assert worked.padding
    page = worked_markdown(worked)
    assert "This element sits at the border: its window reaches into the padding" in page


def test_no_padding_no_border_note(tmp_path) -> None:
    _, _, math = _analysed(tmp_path, lambda: L.Conv2D(2, 3, name="layer"), 6)
    worked = math.worked["layer"]
    assert worked.padding == "" and "border" not in worked_markdown(worked)


@pytest.mark.parametrize(
    "name, build, n, says",
    [
        ("conv", PADDED[0][1], 6, "zeros that add nothing to the sum"),
        ("average", PADDED[3][1], 7, "left out of the mean"),
        ("max", PADDED[5][1], 5, "left out of the max"),
    ],
)
def test_the_figure_dashes_the_padding_and_says_what_it_does(tmp_path, name, build, n, says):
    _, _, math = _analysed(tmp_path, build, n)
    layer = next(layer for layer in math.layers if layer.record.name == "layer")
    _, figure = drawn_example(math, layer)
    assert "stroke-dasharray:3 2" in figure and f"dashed cells: the padding, {says}" in figure
    assert "reaches into the padding" in figure  # the figure's description, for screen readers
