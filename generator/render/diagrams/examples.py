"""A layer's worked example from its record, its input and its weights: the hook a page calls.

`worked_figure` picks the output to explain (the first position, in the channel where the
output is largest, so a relu does not leave a zero to explain), reads strides, padding, pool size
and activation from the layer's config, and returns the drawing; `None` for layer types and
settings it does not draw (dilation, groups, channels-first, padded pooling, an activation
that is not elementwise).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from generator.model.activations import ACTIVATIONS, activation_name
from generator.model.graph import LayerRecord
from generator.render.diagrams.svg import Figure
from generator.render.diagrams.worked import (
    convolution_example,
    convolution_figure,
    pooling_example,
    pooling_figure,
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


def _pair(value: Any, default: tuple[int, int]) -> tuple[int, int]:
    if value is None:
        return default
    if isinstance(value, int):
        return (value, value)
    return (int(value[0]), int(value[1]))


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
    config = record.config
    x = np.asarray(layer_input, dtype=float)
    if x.ndim != 3 or config.get("data_format", "channels_last") != "channels_last":
        return None
    if record.type == "Conv2D":
        if _pair(config.get("dilation_rate"), (1, 1)) != (1, 1) or config.get("groups", 1) != 1:
            return None
        kernel = np.asarray(weights[(record.name, "kernel")], dtype=float)
        bias = weights.get((record.name, "bias"))
        options = {
            "strides": _pair(config.get("strides"), (1, 1)),
            "padding": config.get("padding", "valid"),
            "activation": activation_function(config.get("activation")),
        }
        name = activation_name(config.get("activation"))
        if options["activation"] is None and name != "linear":
            return None  # not elementwise (softmax): one output does not explain itself
        candidates = [index] if index else [(0, 0, k) for k in range(kernel.shape[-1])]
        examples = [convolution_example(x, kernel, bias, at, **options) for at in candidates]
        example = max(examples, key=lambda e: e["value"])
        return convolution_figure(**example, activation=name, layer=record.name)
    if record.type in POOLINGS:
        if config.get("padding", "valid") != "valid":
            return None
        size = _pair(config.get("pool_size"), (2, 2))
        strides = _pair(config.get("strides"), size)
        kind = POOLINGS[record.type]
        candidates = [index] if index else [(0, 0, k) for k in range(x.shape[-1])]
        examples = [pooling_example(x, size, at, strides, kind) for at in candidates]
        example = max(examples, key=lambda e: e["value"])
        return pooling_figure(**example, layer=record.name)
    return None
