"""Pooling: the max or mean over a sliding window, or over every position at once."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from generator.layers.common import (
    AXIS_NAMES,
    as_tuple,
    channels_last,
    spatial_axes,
    steps_for,
    window_output,
    with_dims,
)
from generator.layers.common import (
    spatial_rank as _rank,
)
from generator.layers.registry import LayerHandler, ShapeMath, register
from generator.layers.tensor_equation import TensorEquation
from generator.layers.tensor_expr import Func, Idx, Prod, Read, Reduce, Term, at
from generator.model.graph import LayerRecord

_OUT_IDX = {1: ("t",), 2: ("i", "j"), 3: ("o", "i", "j")}
_WIN_IDX = {1: ("u",), 2: ("u", "v"), 3: ("r", "u", "v")}


def _window(layer: LayerRecord) -> tuple[int, tuple[int, ...], tuple[int, ...], str]:
    """Rank, pool size, strides (Keras: the pool size when not given) and padding."""
    rank = _rank(layer)
    size = as_tuple(layer.attrs.get("pool_size", 2), rank)
    strides = layer.attrs.get("strides")
    strides = size if strides is None else as_tuple(strides, rank)
    return rank, size, strides, layer.attrs.get("padding", "valid")


class _WindowPooling(LayerHandler):
    """Shape logic shared by max and average pooling over a window."""

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        rank, size, strides, padding = _window(layer)
        axes = spatial_axes(layer, rank)
        dims, formulas = [], []
        for axis, name, k, s in zip(axes, AXIS_NAMES[rank], size, strides, strict=True):
            dim, formula = window_output(layer.input_shape[axis], k, s, 1, padding, name)
            dims.append(dim)
            formulas.append(formula)
        shape = with_dims(layer.input_shape, axes, dims, None, layer)
        note = (
            "windows that stick out over the edge are kept: ceil(n / s) positions"
            if (padding == "same")
            else ""
        )
        return ShapeMath(shape=shape, steps=steps_for(AXIS_NAMES[rank], formulas), note=note)

    def window_equation(self, layer: LayerRecord, kind: str, outside: float) -> TensorEquation:
        """`a_{i,j,c} = op_{u,v} x_{s i + u - p, s j + v - p, c}` over the pool window."""
        rank, size, strides, padding = _window(layer)
        axes = spatial_axes(layer, rank)
        out_shape = self.output_shape(layer).shape
        out = tuple(Idx(n, out_shape[a]) for n, a in zip(_OUT_IDX[rank], axes, strict=True))
        win = tuple(Idx(n, k) for n, k in zip(_WIN_IDX[rank], size, strict=True))
        c = Idx("c", layer.input_shape[-1 if channels_last(layer) else 1])
        spatial = tuple(
            at(Term(o, s), w, -before)
            for o, w, s, (before, _) in zip(out, win, strides, layer.attrs["pads"], strict=True)
        )
        first = not channels_last(layer)
        maps = (at(c), *spatial) if first else (*spatial, at(c))
        padded = padding == "same"
        x = Read("x", ("input", 0), maps, outside=outside if padded else None)
        body = Reduce(kind if padded or kind != "mean_inside" else "mean", win, x, style="limits")
        return TensorEquation((c, *out) if first else (*out, c), body)


@register("MaxPooling1D", "MaxPooling2D", "MaxPooling3D")
class MaxPoolingHandler(_WindowPooling):
    summary = "max pooling: the largest input in each window, channel by channel"

    def equation(self, layer: LayerRecord) -> TensorEquation:
        eq = self.window_equation(layer, "max", -np.inf)
        if _window(layer)[3] == "same":
            note = r" \quad (x = -\infty \text{ outside the input, so padding never wins})"
            eq = replace(eq, note=note)
        return eq


@register("AveragePooling1D", "AveragePooling2D", "AveragePooling3D")
class AveragePoolingHandler(_WindowPooling):
    summary = "average pooling: the mean of each window, channel by channel"

    def equation(self, layer: LayerRecord) -> TensorEquation:
        eq = self.window_equation(layer, "mean_inside", np.nan)
        if _window(layer)[3] == "same":
            note = (
                r" \quad (N: \text{the offsets of the window that fall inside } x"
                r"\text{; padding is not counted in the mean})"
            )
            eq = replace(eq, note=note)
        return eq


@register(
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
)
class GlobalPoolingHandler(LayerHandler):
    summary = "global pooling: one max or mean per channel over every position"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        rank = _rank(layer)
        shape = layer.input_shape
        axes = spatial_axes(layer, rank)
        if layer.attrs.get("keepdims", False):
            return ShapeMath(shape=tuple(1 if i in axes else d for i, d in enumerate(shape)))
        return ShapeMath(shape=tuple(d for i, d in enumerate(shape) if i not in axes))

    def equation(self, layer: LayerRecord) -> TensorEquation:
        rank = _rank(layer)
        axes = spatial_axes(layer, rank)
        win = tuple(Idx(n, layer.input_shape[a]) for n, a in zip(_WIN_IDX[rank], axes, strict=True))
        c = Idx("c", layer.input_shape[-1 if channels_last(layer) else 1])
        first = not channels_last(layer)
        x = Read("x", ("input", 0), (at(c), *map(at, win)) if first else (*map(at, win), at(c)))
        kind = "max" if "Max" in layer.type else "mean"
        if kind == "mean" and rank == 1 and len(layer.input_shapes) == 2:
            return _masked_mean(win[0], c, first)
        out: tuple[Idx, ...] = (c,)
        if layer.attrs.get("keepdims", False):
            ones = tuple(Idx(f"o{k}", 1, shown=False) for k in range(rank))
            out = (c, *ones) if first else (*ones, c)
        return TensorEquation(out, Reduce(kind, win, x, style="limits"))


def _masked_mean(t: Idx, c: Idx, first: bool) -> TensorEquation:
    """Average pooling over the steps the mask keeps: `sum_t m_t x_{t,c} / sum_t m_t`."""
    x = Read("x", ("input", 0), (at(c), at(t)) if first else (at(t), at(c)))
    mask = Read("m", ("input", 1), (at(t),))
    body = Func(
        lambda num, den: num / den,
        (Reduce("sum", (t,), Prod((mask, x))), Reduce("sum", (t,), mask)),
        r"\frac{{{0}}}{{{1}}}",
    )
    note = r" \quad (m_u = 1 \text{ for the steps the mask keeps, else } 0)"
    return TensorEquation((c,), body, note=note)
