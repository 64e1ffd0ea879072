"""Lesson 6's general output-size formula, as the lesson types it, against Keras's own shapes."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

keras = pytest.importorskip("keras")

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]

LESSON = (
    Path(__file__).resolve().parent.parent / "lessons" / "06-padding-strides-and-dilation.ipynb"
)
FUNCTIONS = ("output_size_general", "same_padding")


def _lesson_functions() -> dict:
    """The lesson's own `output_size_general` and `same_padding`, taken from its code cells."""
    found: dict = {}
    for cell in json.loads(LESSON.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.parse("".join(cell["source"])).body:
            if isinstance(node, ast.FunctionDef) and node.name in FUNCTIONS:
                exec(compile(ast.Module([node], []), str(LESSON), "exec"), found)  # noqa: S102
    assert set(FUNCTIONS) <= set(found), "lesson 6 no longer defines the general formula"
    return found


CASES = [
    (n, k, s, d, padding)
    for n in (5, 7, 8, 10, 13)
    for k in (1, 2, 3, 4)
    for s, d in ((1, 1), (2, 1), (3, 1), (1, 2), (1, 3))
    for padding in ("valid", "same")
    if d * (k - 1) + 1 <= n
]


@pytest.mark.parametrize("n, k, s, d, padding", CASES)
def test_the_formula_gives_keras_s_size(n, k, s, d, padding) -> None:
    lesson = _lesson_functions()
    pads = lesson["same_padding"](n, k, s, d) if padding == "same" else (0, 0)
    layer = keras.layers.Conv1D(1, k, strides=s, dilation_rate=d, padding=padding)
    keras.Sequential([keras.Input((n, 1)), layer])
    assert lesson["output_size_general"](n, k, s, d, *pads) == layer.output.shape[1]
    if d == 1:  # pooling slides the same window (no dilation)
        pool = keras.layers.MaxPooling1D(k, strides=s, padding=padding)
        keras.Sequential([keras.Input((n, 1)), pool])
        assert lesson["output_size_general"](n, k, s, 1, *pads) == pool.output.shape[1]


def test_the_worked_number_pads_one_before_and_two_after() -> None:
    lesson = _lesson_functions()
    assert lesson["same_padding"](7, 2, 1, 3) == (1, 2)
    assert lesson["output_size_general"](7, 2, 1, 3, 1, 2) == 7
