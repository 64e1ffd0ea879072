"""Reshaping: layers that move, repeat, cut or pad numbers without computing new ones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from generator.layers.common import AXIS_NAMES, as_tuple, axis_sym, spatial_axes, with_dims
from generator.layers.common import spatial_rank as _rank
from generator.layers.formula import Add, Formula, Mul, Sub, Sym, product
from generator.layers.latex_text import index_range
from generator.layers.registry import DimStep, LayerHandler, ShapeMath, register
from generator.layers.tensor_equation import IndexMapEquation, TensorEquation
from generator.layers.tensor_expr import Context, Expr, Func, Idx, Prod, Read, Reduce, Term, at
from generator.model.graph import LayerRecord, Shape

_IDX = {1: ("t",), 2: ("i", "j"), 3: ("o", "i", "j")}
_LETTERS = ("i", "j", "k", "l", "m", "q", "r")
_SEP = r",\, "


def _dim_syms(shape: Shape) -> list[Formula]:
    """The non-batch dimensions as symbols: `n_h, n_w, c` for an image, `n_1, n_2, ...` else."""
    dims = shape[1:]
    if 2 <= len(dims) <= 4:
        names = [axis_sym("n", a) for a in AXIS_NAMES[len(dims) - 1]] + [r"c_{in}"]
    elif len(dims) == 1:
        names = ["n"]
    else:
        names = [f"n_{k + 1}" for k in range(len(dims))]
    return [Sym(name, d) for name, d in zip(names, dims, strict=True)]


def _index(letters: list[str] | tuple[str, ...]) -> str:
    return ",".join(letters)


@register("Flatten")
class FlattenHandler(LayerHandler):
    summary = "flatten: every number in one vector, row by row"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        dims = layer.input_shape[1:]
        if any(d is None for d in dims):
            return ShapeMath(shape=(layer.input_shape[0], None))
        formula = product(_dim_syms(layer.input_shape))
        return ShapeMath(
            shape=(layer.input_shape[0], formula.value()),
            steps=(DimStep(label="n'", formula=formula),),
        )

    def equation(self, layer: LayerRecord) -> IndexMapEquation:
        dims = list(layer.input_shape[1:])
        # An image's entries are x_{i,j,c}, as the pooling or convolution before wrote them.
        letters = ["i", "j", "c"] if len(dims) == 3 else list(_LETTERS[: len(dims)])
        order = tuple(range(len(dims)))
        size = self.output_shape(layer).shape[1]
        if len(dims) <= 1:
            return IndexMapEquation(r"a_i = x_i", (size,))
        x_index = _index(letters)
        if layer.attrs["layout"] == "channels_first":
            # Keras moves the channels last before flattening, as for channels-last inputs.
            letters, dims = [*letters[1:], letters[0]], [*dims[1:], dims[0]]
            order = (*range(1, len(order)), 0)
        # Row-major (C) order: the last index runs fastest.
        flat, numbers = letters[0], f"{{{order[0]}}}"
        for axis, letter, d in zip(order[1:], letters[1:], dims[1:], strict=True):
            flat = f"({flat})" if "+" in flat else flat
            numbers = f"({numbers})" if "+" in numbers else numbers
            flat = rf"{'n' if d is None else d} {flat} + {letter}"
            numbers = rf"{d} \cdot {numbers} + {{{axis}}}"
        text = rf"a_n = x_{{{x_index}}}, \quad n = {flat}"
        return IndexMapEquation(text, (size,), order, numbers)


@register("Reshape")
class ReshapeHandler(LayerHandler):
    summary = "reshape: the same numbers in the same order, arranged in a new shape"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        target = list(layer.attrs["target_shape"])
        if -1 in target:
            size = 1
            for d in layer.input_shape[1:]:
                size = None if d is None or size is None else size * d
            known = 1
            for d in target:
                if d != -1:
                    known *= d
            target[target.index(-1)] = None if size is None else size // known
            return ShapeMath(
                shape=(layer.input_shape[0], *target),
                note="-1 is inferred so that the number of entries stays the same",
            )
        return ShapeMath(shape=(layer.input_shape[0], *target))

    def equation(self, layer: LayerRecord) -> IndexMapEquation:
        shape = self.output_shape(layer).shape[1:]
        dims = r" \times ".join("n" if d is None else str(d) for d in shape)
        text = (
            rf"a = \mathrm{{reshape}}_{{{dims}}}(x), \quad "
            r"\mathrm{vec}(a) = \mathrm{vec}(x) \ (\text{row-major order})"
        )
        return IndexMapEquation(text, tuple(shape))


@register("Permute")
class PermuteHandler(LayerHandler):
    summary = "permute: the axes in a new order"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        dims = layer.attrs["dims"]
        shape = layer.input_shape
        return ShapeMath(shape=(shape[0], *(shape[d] for d in dims)))

    def equation(self, layer: LayerRecord) -> TensorEquation:
        dims = layer.attrs["dims"]
        shape = layer.input_shape
        letters = [Idx(n, shape[k + 1]) for k, n in enumerate(_LETTERS[: len(dims)])]
        out = tuple(letters[d - 1] for d in dims)
        return TensorEquation(out, Read("x", ("input", 0), tuple(at(i) for i in letters)))


@register("RepeatVector")
class RepeatVectorHandler(LayerHandler):
    summary = "repeat vector: the input vector n times, as a sequence"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        shape = layer.input_shape
        return ShapeMath(shape=(shape[0], layer.attrs["n"], *shape[1:]))

    def equation(self, layer: LayerRecord) -> TensorEquation:
        n = layer.attrs["n"]
        t, j = Idx("t", n), Idx("j", layer.input_shape[-1])
        note = rf", \quad {index_range('t', n - 1)}"
        return TensorEquation((t, j), Read("x", ("input", 0), (at(j),)), note=note)


def _pairs(value, rank: int) -> list[tuple[int, int]]:
    """Cropping/padding attrs as `(start, end)` per spatial axis."""
    if isinstance(value, int):
        return [(value, value)] * rank
    value = list(value)
    if rank == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
        return [(value[0], value[1])]
    return [(v, v) if isinstance(v, int) else (v[0], v[1]) for v in value]


class _EdgeHandler(LayerHandler):
    """Cropping and zero padding: each spatial axis loses or gains rows at its two ends."""

    key = ""
    sign = 1

    def _axes(self, layer: LayerRecord) -> tuple[int, list[int], list[tuple[int, int]]]:
        rank = _rank(layer)
        axes = [1] if rank == 1 else spatial_axes(layer, rank)
        return rank, axes, _pairs(layer.attrs[self.key], rank)

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        rank, axes, pairs = self._axes(layer)
        letter = "p" if self.sign > 0 else r"\bar{p}"
        dims, steps = [], []
        for axis, name, (start, end) in zip(axes, AXIS_NAMES[rank], pairs, strict=True):
            n = layer.input_shape[axis]
            if n is None:
                dims.append(None)
                continue
            sn = Sym(axis_sym("n", name), n)
            a = Sym(axis_sym(letter, name) + r"^{\text{start}}", start)
            b = Sym(axis_sym(letter, name) + r"^{\text{end}}", end)
            formula: Formula = Add((sn, a, b)) if self.sign > 0 else Sub(Sub(sn, a), b)
            dims.append(formula.value())
            steps.append(DimStep(label=axis_sym("n'", name), formula=formula))
        return ShapeMath(
            shape=with_dims(layer.input_shape, axes, dims, None, layer), steps=tuple(steps)
        )

    def shifted(self, layer: LayerRecord) -> tuple[tuple[Idx, ...], Read]:
        """The output's indices and `x` read `start` rows further (cropping) or back (padding)."""
        rank, axes, pairs = self._axes(layer)
        out_shape = self.output_shape(layer).shape
        index = [Idx("c", d) for d in out_shape[1:]]
        maps = [at(i) for i in index]
        for axis, name, (start, _) in zip(axes, _IDX[rank], pairs, strict=True):
            index[axis - 1] = Idx(name, out_shape[axis])
            maps[axis - 1] = at(index[axis - 1], -self.sign * start)
        outside = 0.0 if self.sign > 0 else None
        return tuple(index), Read("x", ("input", 0), tuple(maps), outside=outside)


@register("Cropping1D", "Cropping2D", "Cropping3D")
class CroppingHandler(_EdgeHandler):
    summary = "cropping: rows cut off at both ends of each spatial axis"
    key = "cropping"
    sign = -1

    def equation(self, layer: LayerRecord) -> TensorEquation:
        index, x = self.shifted(layer)
        return TensorEquation(index, x)


@register("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D")
class ZeroPaddingHandler(_EdgeHandler):
    summary = "zero padding: rows of zeros added at both ends of each spatial axis"
    key = "padding"
    sign = 1

    def equation(self, layer: LayerRecord) -> TensorEquation:
        index, x = self.shifted(layer)
        template = (
            r"\begin{{cases}} {0} & \text{{if the index is inside }} x \\ "
            r"0 & \text{{otherwise}} \end{{cases}}"
        )
        return TensorEquation(index, Func(lambda v: v, (x,), template))


@register("UpSampling1D", "UpSampling2D", "UpSampling3D")
class UpSamplingHandler(LayerHandler):
    summary = "up-sampling: each spatial axis stretched by an integer factor"

    def _size(self, layer: LayerRecord) -> tuple[int, tuple[int, ...], list[int]]:
        rank = _rank(layer)
        size = as_tuple(layer.attrs.get("size", 2), rank)
        axes = [1] if rank == 1 else spatial_axes(layer, rank)
        return rank, size, axes

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        rank, size, axes = self._size(layer)
        dims, steps = [], []
        for axis, name, s in zip(axes, AXIS_NAMES[rank], size, strict=True):
            n = layer.input_shape[axis]
            if n is None:
                dims.append(None)
                continue
            formula = Mul((Sym(axis_sym("n", name), n), Sym(axis_sym("s", name), s)))
            dims.append(formula.value())
            steps.append(DimStep(label=axis_sym("n'", name), formula=formula))
        return ShapeMath(
            shape=with_dims(layer.input_shape, axes, dims, None, layer), steps=tuple(steps)
        )

    def equation(self, layer: LayerRecord) -> TensorEquation:
        rank, size, axes = self._size(layer)
        out_shape = self.output_shape(layer).shape
        index = [Idx("c", d) for d in out_shape[1:]]
        for axis, name in zip(axes, _IDX[rank], strict=True):
            index[axis - 1] = Idx(name, out_shape[axis])
        if layer.attrs.get("interpolation", "nearest") == "bilinear":
            return _bilinear(layer, tuple(index), axes, size)
        maps = [at(i) for i in index]
        for axis, s in zip(axes, size, strict=True):
            maps[axis - 1] = at(Term(index[axis - 1], div=s))
        return TensorEquation(tuple(index), Read("x", ("input", 0), tuple(maps)))


@dataclass(frozen=True)
class InterpolationWeight(Expr):
    """`max(0, 1 - |y_i - u|)`: how much input row `u` weighs in output row `i`, where
    `y_i = (i + 1/2) / scale - 1/2` (half-pixel centres, `scale` = output size / input size),
    clamped to the input's rows."""

    out: Idx
    source: Idx
    scale: float
    size: int
    symbol: str

    def latex(self) -> str:
        return rf"\max(0, 1 - |{self.symbol}_{self.out.name} - {self.source.name}|)"

    def values(self, ctx: Context, env: Mapping[str, np.ndarray]) -> np.ndarray:
        y = np.clip((env[self.out.name] + 0.5) / self.scale - 0.5, 0, self.size - 1)
        return np.maximum(0.0, 1.0 - np.abs(y - env[self.source.name]))


def _bilinear(
    layer: LayerRecord, index: tuple[Idx, ...], axes: list[int], size: tuple[int, ...]
) -> TensorEquation:
    """Half-pixel bilinear interpolation, as `tf.image.resize` computes it."""
    (ai, aj), (si, sj) = axes, size
    i, j = index[ai - 1], index[aj - 1]
    n_i, n_j = layer.input_shape[ai], layer.input_shape[aj]
    u, v = Idx("u", n_i), Idx("v", n_j)
    maps = [at(k) for k in index]
    maps[ai - 1], maps[aj - 1] = at(u), at(v)
    x = Read("x", ("input", 0), tuple(maps))

    body = Reduce(
        "sum",
        (u, v),
        Prod(
            (
                InterpolationWeight(i, u, si, n_i, r"\xi"),
                InterpolationWeight(j, v, sj, n_j, r"\eta"),
                x,
            )
        ),
    )
    note = (
        rf", \quad \xi_{i.name} = \frac{{{i.name} + 1/2}}{{{si}}} - \frac{{1}}{{2}},\ "
        rf"\eta_{j.name} = \frac{{{j.name} + 1/2}}{{{sj}}} - \frac{{1}}{{2}} \quad "
        r"(\text{clamped to the input's edges})"
    )
    return TensorEquation(index, body, note=note)
