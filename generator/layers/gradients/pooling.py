"""Pooling backward: max pooling routes each window's gradient to its winner, average pooling
spreads it evenly over the window's entries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from generator.layers.common import channels_last, spatial_axes
from generator.layers.common import spatial_rank as _rank
from generator.layers.gradients.registry import (
    UPSTREAM,
    GradientEquation,
    GradRead,
    Slots,
    Stage,
    register_backward,
)
from generator.layers.pooling import MaxPoolingHandler
from generator.layers.tensor_equation import TensorEquation
from generator.layers.tensor_expr import (
    Affine,
    Const,
    Context,
    Expr,
    Func,
    Idx,
    Read,
    Reduce,
    Term,
    at,
)

_OUT_IDX = {1: ("t",), 2: ("i", "j"), 3: ("o", "i", "j")}
_WIN_IDX = {1: ("u",), 2: ("u", "v"), 3: ("r", "u", "v")}
_IN_IDX = {1: ("l",), 2: ("h", "w"), 3: ("r'", "h", "w")}


@dataclass(frozen=True)
class ArgMax(Reduce):
    """The offset of a window's largest entry, as one row-major number (`k_w u + v`); the first
    one on a tie, as TensorFlow routes the gradient."""

    def latex(self) -> str:
        names = ",".join(i.name for i in self.indices)
        return rf"\operatorname{{arg\,max}}_{{{names}}} {self.body.latex()}"

    def values(self, ctx: Context, env: Mapping[str, np.ndarray]) -> np.ndarray:
        body = self._body(ctx, env)
        k = len(self.indices)
        flat = body.reshape(*body.shape[:-k], -1)
        return np.argmax(flat, axis=-1).astype(np.float64)


@dataclass(frozen=True)
class Offset(Expr):
    """The window offset `(u, v)` as the row-major number `ArgMax` gives."""

    indices: tuple[Idx, ...]

    def latex(self) -> str:
        return "(" + ",".join(i.name for i in self.indices) + ")"

    def values(self, ctx: Context, env: Mapping[str, np.ndarray]) -> np.ndarray:
        total = np.zeros((), dtype=np.int64)
        for idx in self.indices:
            total = total * idx.size + env[idx.name]
        return total


class _Pool:
    """A pooling call's windows: output `i`, offset `u` -> input `s i + u - p`, and back."""

    def __init__(self, layer, out_shape):
        rank = _rank(layer)
        self.axes = spatial_axes(layer, rank)
        self.first = not channels_last(layer)
        self.out = tuple(
            Idx(n, out_shape[a]) for n, a in zip(_OUT_IDX[rank], self.axes, strict=True)
        )
        self.win = tuple(
            Idx(n, k) for n, k in zip(_WIN_IDX[rank], layer.attrs["pool_size"], strict=True)
        )
        self.inp = tuple(
            Idx(n, layer.input_shape[a]) for n, a in zip(_IN_IDX[rank], self.axes, strict=True)
        )
        self.strides = layer.attrs["strides"]
        self.pads = tuple(before for before, _ in layer.attrs["pads"])
        self.c = Idx("c", layer.input_shape[1 if self.first else -1])

    def arrange(self, channel, spatial) -> tuple:
        return (channel, *spatial) if self.first else (*spatial, channel)

    def forward_maps(self) -> tuple[Affine, ...]:
        spatial = tuple(
            at(Term(o, s), w, -p)
            for o, w, s, p in zip(self.out, self.win, self.strides, self.pads, strict=True)
        )
        return self.arrange(at(self.c), spatial)

    def back_maps(self) -> tuple[Affine, ...]:
        """`(h + p - u)/s`: the window that puts offset `u` on input position `h`."""
        spatial = tuple(
            Affine((Term(h), Term(u, -1)), p, s)
            for h, u, s, p in zip(self.inp, self.win, self.strides, self.pads, strict=True)
        )
        return self.arrange(at(self.c), spatial)

    def input_indices(self) -> tuple[Idx, ...]:
        return self.arrange(self.c, self.inp)

    def output_indices(self) -> tuple[Idx, ...]:
        return self.arrange(self.c, self.out)


@register_backward("MaxPooling1D", "MaxPooling2D", "MaxPooling3D")
def max_pooling_backward(layer):
    shape = MaxPoolingHandler().output_shape(layer).shape
    pool = _Pool(layer, shape)
    slots = Slots(1)
    x = Read("x", ("input", 0), pool.forward_maps(), outside=-np.inf)
    winner = TensorEquation(
        pool.output_indices(),
        ArgMax("max", pool.win, x),
        symbol="m",
        note=r" \quad (\text{the first largest entry of the window on a tie})",
    )
    g = GradRead("a", slots(UPSTREAM), pool.back_maps(), outside=0.0)
    m = Read("m", slots("winner"), pool.back_maps(), outside=-1.0)
    routed = Func(
        lambda grad, won, offset: np.where(won == offset, grad, 0.0),
        (g, m, Offset(pool.win)),
        r"{0}\, [{1} = {2}]",
    )
    dx = GradientEquation(
        pool.input_indices(),
        Reduce("sum", pool.win, routed, style="limits"),
        symbol="x",
        note=r" \quad (\text{each window's gradient goes to its winner only; the others get 0})",
    )
    return slots.equation(1, [Stage("winner", winner), Stage("input", dx)])


@register_backward("AveragePooling1D", "AveragePooling2D", "AveragePooling3D")
def average_pooling_backward(layer):
    from generator.layers.pooling import AveragePoolingHandler, _counts_zeros

    shape = AveragePoolingHandler().output_shape(layer).shape
    pool = _Pool(layer, shape)
    slots = Slots(1)
    padded = layer.attrs["padding"] != "valid" or layer.attrs.get("ceil_mode", False)
    g = GradRead("a", slots(UPSTREAM), pool.back_maps(), outside=0.0)
    stages = []
    size = int(np.prod([w.size for w in pool.win]))
    if padded and not _counts_zeros(layer):
        # |N_i|: how many entries of window i lie inside the input (padding is not counted).
        inside = Read("x", ("input", 0), pool.forward_maps(), outside=np.nan)
        indicator = Func(lambda v: np.isfinite(v).astype(float), (inside,), r"[{0} \in x]")
        count = TensorEquation(
            pool.output_indices(), Reduce("sum", pool.win, indicator, style="limits"), symbol="N"
        )
        stages.append(Stage("count", count))
        n = Read("N", slots("count"), pool.back_maps(), outside=1.0)
        body = Func(lambda grad, k: grad / k, (g, n), r"\frac{{{0}}}{{{1}}}")
        note = r" \quad (N: \text{the window's entries inside the input})"
    elif padded and layer.attrs.get("ceil_mode", False):
        return None  # PyTorch's ceil mode with counted zeros: windows of several sizes
    else:
        body = Func(lambda grad, k: grad / k, (g, Const(size)), r"\frac{{{0}}}{{{1}}}")
        note = ""
    dx = GradientEquation(
        pool.input_indices(),
        Reduce("sum", pool.win, body, style="limits"),
        symbol="x",
        note=r" \quad (\text{each window's gradient is shared evenly by its entries})" + note,
    )
    stages.append(Stage("input", dx))
    return slots.equation(1, stages)


@register_backward(
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
)
def global_pooling_backward(layer):
    if len(layer.input_shapes) > 1:
        return None  # a masked mean
    rank = _rank(layer)
    axes = spatial_axes(layer, rank)
    first = not channels_last(layer)
    inp = tuple(Idx(n, layer.input_shape[a]) for n, a in zip(_IN_IDX[rank], axes, strict=True))
    c = Idx("c", layer.input_shape[1 if first else -1])
    keep = layer.attrs.get("keepdims", False)
    spatial_g = (Affine(()),) * rank if keep else ()
    g_maps = (at(c), *spatial_g) if first else (*spatial_g, at(c))
    x_idx = (c, *inp) if first else (*inp, c)
    slots = Slots(1)
    g = GradRead("a", slots(UPSTREAM), g_maps)
    if "Max" in layer.type:
        win = tuple(Idx(n, i.size) for n, i in zip(_WIN_IDX[rank], inp, strict=True))
        x = Read("x", ("input", 0), (at(c), *map(at, win)) if first else (*map(at, win), at(c)))
        winner = TensorEquation((c,), ArgMax("max", win, x), symbol="m")
        m = Read("m", slots("winner"), (at(c),))
        body = Func(
            lambda grad, won, offset: np.where(won == offset, grad, 0.0),
            (g, m, Offset(inp)),
            r"{0}\, [{1} = {2}]",
        )
        dx = GradientEquation(x_idx, body, symbol="x")
        return slots.equation(1, [Stage("winner", winner), Stage("input", dx)])
    size = int(np.prod([i.size for i in inp]))
    body = Func(lambda grad, k: grad / k, (g, Const(size)), r"\frac{{{0}}}{{{1}}}")
    dx = GradientEquation(
        x_idx, body, symbol="x", note=r" \quad (\text{spread evenly over every position})"
    )
    return slots.equation(1, [Stage("input", dx)])
