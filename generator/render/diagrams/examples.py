"""A layer's worked example from its record, its input and its weights: the hook a page calls.

`worked_figure` picks the output to explain (the first position, in the channel where the
output is largest, so a relu does not leave a zero to explain), reads strides, padding, pool size
and activation from the layer's attrs, and returns the drawing; `None` for layer types and
settings it does not draw (dilation, groups, channels-first, an activation that is not
elementwise). `window_figure` draws the worked example the page's formula shows, from the input
window the analysis kept, and `coloured_formula` colours that formula as the figure is coloured.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from generator.equation.analyze import ModelMath
from generator.equation.layer_checks import CheckedExample, InputWindow
from generator.layers.derive import DerivedLayer
from generator.model.activations import ACTIVATIONS, activation_name
from generator.model.graph import LayerRecord
from generator.render.diagrams.svg import Figure
from generator.render.diagrams.worked import (
    convolution_example,
    convolution_figure,
    pooling_example,
    pooling_figure,
    tex_colour,
)

POOLINGS = {"MaxPooling2D": "max", "AveragePooling2D": "average"}


def activation_function(value: object) -> Callable[[float], float] | None:
    """The activation as a NumPy function of `z`, from the activation table; `None` if unknown."""
    row = ACTIVATIONS.get(activation_name(value))
    if row is None or row.sympy is None or not row.numpy or row.needs:
        return None
    defaults = "".join(f", {name}={value!r}" for name, value in row.params.items())
    # The body is one expression of our own activation table, not user input.
    return eval(f"lambda z{defaults}: {row.numpy}", {"np": np})  # noqa: S307


def worked_figure(
    record: LayerRecord,
    layer_input: np.ndarray,
    weights: Mapping[tuple[str, str], Any],
    index: tuple[int, int, int] | None = None,
) -> Figure | None:
    """The worked example of a `Conv2D` or 2-D pooling layer for one sample.

    Args:
        record: the layer's record.
        layer_input: what the layer receives for one sample, `(rows, columns, channels)`.
        weights: `ModelGraph.weight_values` (`(layer, "kernel")`, `(layer, "bias")`).
        index: the output element `(i, j, k)` to explain; chosen as above when omitted.
    """
    attrs = record.attrs
    x = np.asarray(layer_input, dtype=float)
    if x.ndim != 3 or attrs["layout"] != "channels_last":
        return None
    if record.type == "Conv2D":
        if attrs["dilation_rate"] != (1, 1) or attrs["groups"] != 1:
            return None
        kernel = np.asarray(weights[(record.name, "kernel")], dtype=float)
        bias = weights.get((record.name, "bias"))
        options = {
            "strides": attrs["strides"],
            "pads": tuple(before for before, _ in attrs["pads"]),
            "activation": activation_function(attrs.get("activation")),
        }
        name = activation_name(attrs.get("activation"))
        if options["activation"] is None and name != "linear":
            return None  # not elementwise (softmax): one output does not explain itself
        # A given index is the formula's: draw input channel 0, whose first term the formula
        # shows first (its sum runs over the window, channels innermost).
        channel = 0 if index else None
        candidates = [index] if index else [(0, 0, k) for k in range(kernel.shape[-1])]
        examples = [
            convolution_example(x, kernel, bias, at, channel=channel, **options)
            for at in candidates
        ]
        example = max(examples, key=lambda e: e["value"])
        return convolution_figure(**example, activation=name, layer=record.name)
    if record.type in POOLINGS:
        size, strides = attrs["pool_size"], attrs["strides"]
        kind, pads = POOLINGS[record.type], tuple(before for before, _ in attrs["pads"])
        candidates = [index] if index else [(0, 0, k) for k in range(x.shape[-1])]
        examples = [pooling_example(x, size, at, strides, kind, pads) for at in candidates]
        example = max(examples, key=lambda e: e["value"])
        return pooling_figure(**example, layer=record.name)
    return None


def window_figure(
    record: LayerRecord,
    window: InputWindow,
    weights: Mapping[tuple[str, str], Any],
    index: tuple[int, ...],
) -> Figure | None:
    """The worked example of output `index` drawn from the input `window` kept around it."""
    values = np.asarray(window.values, dtype=float)
    if values.ndim != 3 or len(index) != 3:
        return None
    # Zeros stand for the input outside the window: no drawn cell and no window reads there.
    x = np.zeros((*window.size, values.shape[-1]))
    x[window.top : window.top + values.shape[0], window.left : window.left + values.shape[1]] = (
        values
    )
    return worked_figure(record, x, weights, tuple(int(i) for i in index))


_NUMBER = r"\(-?\d[\d.]*(?:e[+-]?\d+)?\)|-?\d[\d.]*(?:e[+-]?\d+)?|-?\\infty"
_PRODUCT = re.compile(rf"({_NUMBER}) \\cdot ({_NUMBER})")
_BIAS = re.compile(rf"(^|= |\\left\()({_NUMBER}) \+ \\left\(")
_RESULT = re.compile(rf"= ({_NUMBER})$")
_LISTED = re.compile(rf"(?<=[(,] )({_NUMBER})(?=,|\\right\))|(?<=\\left\()({_NUMBER})")
_TERM = re.compile(rf"(?:(?<=\\left\()|(?<=\+ ))({_NUMBER})(?= \+|\\right\))")


def coloured_formula(latex: str, layer_type: str) -> str:
    """A convolution's or pooling's worked-example LaTeX with the figure's colours: the input
    values, the kernel values, the bias and the output (its name and its value) each in its own;
    a max pooling's winning input in the output's colour, as its figure marks it.

    The formula is `a = f(b + (W x + W x + ...))` for a convolution (kernel before input in each
    product), `a = max(x, x, ...)` or `a = 1/n (x + x + ...)` for a pooling.
    """
    text = latex.strip()
    head, sep, rest = text.partition(" = ")
    if not sep:
        return latex
    if layer_type == "Conv2D":
        rest = _PRODUCT.sub(
            lambda m: f"{tex_colour('kernel', m[1])} \\cdot {tex_colour('input', m[2])}", rest
        )
        rest = _BIAS.sub(lambda m: f"{m[1]}{tex_colour('bias', m[2])} + \\left(", rest, count=1)
    elif layer_type in POOLINGS:
        body, eq, value = rest.rpartition(" = ")
        winner = [value] if body.startswith("\\max") else []  # marked as the figure marks it

        def role(m: re.Match) -> str:
            number = m[0].strip("()")  # a negative term is listed in parentheses
            won = number in winner and not winner.remove(number)
            return tex_colour("output" if won else "input", m[0])

        body = (_LISTED if winner else _TERM).sub(role, body)
        rest = body + eq + value
    else:
        return latex
    rest = _RESULT.sub(lambda m: "= " + tex_colour("output", m[1]), rest)
    return f"{tex_colour('output', head)} = {rest}"


def drawn_example(math: ModelMath, layer: DerivedLayer) -> tuple[CheckedExample | None, str]:
    """The layer's worked example, coloured as its figure where it has one, and the figure's
    HTML (empty where the analysis kept no input window for the layer)."""
    name = layer.record.name
    worked = getattr(math, "worked", {}).get(name)
    window = getattr(math, "windows", {}).get(name)
    if worked is None or window is None:
        return worked, ""
    figure = window_figure(layer.record, window, math.graph.weight_values, worked.example.index)
    if figure is None:
        return worked, ""
    latex = coloured_formula(worked.example.latex, layer.record.type)
    coloured = replace(worked, example=replace(worked.example, latex=latex))
    return coloured, figure.html(max_height="none")
