"""Pooling: the max or mean over a sliding window, or over every position at once."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from generator.layers.common import (
    AXIS_NAMES,
    channels_last,
    spatial_axes,
    steps_for,
    window_output,
    with_dims,
)
from generator.layers.common import (
    spatial_rank as _rank,
)
from generator.layers.registry import (
    LayerHandler,
    SampledPositions,
    ShapeMath,
    WorkedExample,
    at_positions,
    register,
)
from generator.layers.tensor_equation import TensorEquation
from generator.layers.tensor_expr import Func, Idx, Prod, Read, Reduce, Term, at
from generator.model.graph import LayerRecord

_OUT_IDX = {1: ("t",), 2: ("i", "j"), 3: ("o", "i", "j")}
_WIN_IDX = {1: ("u",), 2: ("u", "v"), 3: ("r", "u", "v")}
#: How an input length the model leaves open prints (the notation's `n_h`, `n_w`).
_EXTENTS = {1: ("n",), 2: ("n_h", "n_w"), 3: (r"n_{\text{depth}}", "n_h", "n_w")}


def _window(layer: LayerRecord) -> tuple[int, tuple[int, ...], tuple[int, ...], str]:
    """Rank, pool size, strides (Keras: the pool size when not given) and padding."""
    return _rank(layer), layer.attrs["pool_size"], layer.attrs["strides"], layer.attrs["padding"]


def _counts_zeros(layer: LayerRecord) -> bool:
    """Whether a mean counts the padding's zeros (PyTorch's `count_include_pad`). Windows that
    ceil mode lets hang past the end count only what lies inside the input and its zeros."""
    return layer.attrs.get("count_include_pad", False) and any(
        before or after for before, after in layer.attrs["pads"]
    )


class _WindowPooling(LayerHandler):
    """Shape logic shared by max and average pooling over a window."""

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        rank, size, strides, padding = _window(layer)
        axes = spatial_axes(layer, rank)
        pads, ceil = layer.attrs["pads"], layer.attrs.get("ceil_mode", False)
        dims, formulas = [], []
        for axis, name, k, s, p in zip(axes, AXIS_NAMES[rank], size, strides, pads, strict=True):
            dim, formula = window_output(layer.input_shape[axis], k, s, 1, padding, name, p, ceil)
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
        # Windows reach past the input with padding, and in ceil mode past its end too.
        padded = padding != "valid" or layer.attrs.get("ceil_mode", False)
        if kind == "mean_inside" and _counts_zeros(layer):
            kind, outside = "mean", 0.0  # PyTorch's default: the zeros count in the mean
        x = Read("x", ("input", 0), maps, outside=outside if padded else None)
        body = Reduce(kind if padded or kind != "mean_inside" else "mean", win, x, style="limits")
        example = _border_example(out, layer.attrs["pads"], layer.attrs.get("ceil_mode", False))
        example = (0, *example) if first else (*example, 0)
        return TensorEquation((c, *out) if first else (*out, c), body, example=example)


def _border_example(out: tuple, pads: tuple, hangs: bool) -> tuple[int, ...]:
    """The worked example's spatial position: where there is padding, an element whose window
    reaches into it along one axis only (the case learners get wrong, with real inputs beside
    the padding: a corner's window may hold a single real input), else the first element.
    `hangs`: a last window may run past the end (PyTorch's ceil mode)."""
    position, reached = [], False
    for o, (before, after) in zip(out, pads, strict=True):
        if not reached and before == 0 and (after or hangs) and o.size is not None:
            position.append(o.size - 1)
            reached = True
        else:
            position.append(0)
            reached = reached or before > 0
    return tuple(position)


@register("MaxPooling1D", "MaxPooling2D", "MaxPooling3D")
class MaxPoolingHandler(_WindowPooling):
    summary = "max pooling: the largest input in each window, channel by channel"

    def equation(self, layer: LayerRecord) -> TensorEquation:
        eq = self.window_equation(layer, "max", -np.inf)
        if _window(layer)[3] != "valid":
            note = r" \quad (x = -\infty \text{ outside the input, so padding never wins})"
            eq = replace(eq, note=note)
        return eq


@register("AveragePooling1D", "AveragePooling2D", "AveragePooling3D")
class AveragePoolingHandler(_WindowPooling):
    summary = "average pooling: the mean of each window, channel by channel"

    def equation(self, layer: LayerRecord) -> TensorEquation:
        eq = self.window_equation(layer, "mean_inside", np.nan)
        if _counts_zeros(layer):
            eq = replace(eq, note=r" \quad (x = 0 \text{ outside the input; the zeros count})")
        elif _window(layer)[3] != "valid" or layer.attrs.get("ceil_mode", False):
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
        # A model built for any input size (`(None, None, 3)`) reads the lengths at run time.
        win = tuple(
            Idx(n, layer.input_shape[a], extent=e, axis=(0, a))
            for n, e, a in zip(_WIN_IDX[rank], _EXTENTS[rank], axes, strict=True)
        )
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


@dataclass(frozen=True)
class AdaptivePoolingEquation(SampledPositions):
    """`a_{i,j,c} = op over u in [floor(i n / o), ceil((i + 1) n / o))` along each spatial axis:
    windows of uneven size, so no affine index map; evaluated window by window."""

    kind: str  # "max" or "mean"
    sizes: tuple[int, ...]
    outputs: tuple[int, ...]
    first: bool

    def latex(self) -> str:
        rank = len(self.sizes)
        out, win = _OUT_IDX[rank], _WIN_IDX[rank]
        spatial = ",".join(win)
        index = f"c,{','.join(out)}" if self.first else f"{','.join(out)},c"
        x = f"c,{spatial}" if self.first else f"{spatial},c"
        op = r"\max" if self.kind == "max" else r"\operatorname{mean}"
        ranges = r",\ ".join(
            rf"{u} \in \left[\left\lfloor \tfrac{{{i} \cdot {n}}}{{{o}}} \right\rfloor,"
            rf" \left\lceil \tfrac{{({i} + 1) \cdot {n}}}{{{o}}} \right\rceil\right)"
            for u, i, n, o in zip(win, out, self.sizes, self.outputs, strict=True)
        )
        return rf"a_{{{index}}} = {op}_{{{ranges}}} x_{{{x}}}"

    def evaluate(self, inputs, weights, positions=None) -> np.ndarray:
        x = np.asarray(inputs[0], dtype=np.float64)
        if self.first:
            x = np.moveaxis(x, 1, -1)
        reduce = np.max if self.kind == "max" else np.mean
        out = np.empty((x.shape[0], *self.outputs, x.shape[-1]))
        for cell in np.ndindex(*self.outputs):
            window = tuple(
                slice(i * n // o, -(-(i + 1) * n // o))
                for i, n, o in zip(cell, self.sizes, self.outputs, strict=True)
            )
            out[(slice(None), *cell)] = reduce(
                x[(slice(None), *window)], axis=tuple(range(1, 1 + len(cell)))
            )
        if self.first:
            out = np.moveaxis(out, -1, 1)
        return at_positions(out, positions)

    def worked_example(self, inputs, weights, index=None) -> WorkedExample | None:
        return None


@register(
    "AdaptiveAveragePooling1D",
    "AdaptiveAveragePooling2D",
    "AdaptiveAveragePooling3D",
    "AdaptiveMaxPooling1D",
    "AdaptiveMaxPooling2D",
    "AdaptiveMaxPooling3D",
)
class AdaptivePoolingHandler(LayerHandler):
    """Pooling to a given output size (PyTorch's `nn.AdaptiveAvgPool2d((7, 7))`).

    Output `i` of `o` pools the inputs from `floor(i n / o)` up to `ceil((i + 1) n / o)`. Where
    `o` divides `n` that is a plain pooling with window and stride `n / o`, and the equation is
    that pooling's; other sizes get an equation of uneven windows.
    """

    summary = "adaptive pooling: windows sized so that a given output size comes out"

    def _plain(self, layer: LayerRecord) -> LayerRecord | None:
        rank = _rank(layer)
        sizes = [layer.input_shape[a] for a in spatial_axes(layer, rank)]
        outs = layer.attrs["output_size"]
        if any(n is None or n % o for n, o in zip(sizes, outs, strict=True)):
            return None
        window = tuple(n // o for n, o in zip(sizes, outs, strict=True))
        kind = "Max" if "Max" in layer.type else "Average"
        attrs = {
            **layer.attrs,
            "pool_size": window,
            "strides": window,
            "padding": "valid",
            "pads": ((0, 0),) * rank,
        }
        return replace(layer, type=f"{kind}Pooling{rank}D", attrs=attrs)

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        rank = _rank(layer)
        axes = spatial_axes(layer, rank)
        shape = with_dims(layer.input_shape, axes, list(layer.attrs["output_size"]), None, layer)
        return ShapeMath(shape=shape, note="the output size is given; the windows follow from it")

    def equation(self, layer: LayerRecord) -> TensorEquation | AdaptivePoolingEquation:
        plain = self._plain(layer)
        if plain is None:
            rank = _rank(layer)
            sizes = tuple(layer.input_shape[a] for a in spatial_axes(layer, rank))
            kind = "max" if "Max" in layer.type else "mean"
            outputs = tuple(layer.attrs["output_size"])
            return AdaptivePoolingEquation(kind, sizes, outputs, not channels_last(layer))
        if "Max" in layer.type:
            return MaxPoolingHandler().equation(plain)
        return AveragePoolingHandler().equation(plain)
