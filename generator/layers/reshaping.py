"""Reshaping: layers that move, repeat, cut or pad numbers without computing new ones."""

from __future__ import annotations

from generator.layers.common import (
    AXIS_NAMES,
    as_tuple,
    spatial_axes,
    with_dims,
)
from generator.layers.common import (
    spatial_rank as _rank,
)
from generator.layers.formula import Add, Formula, Mul, Sub, Sym, product
from generator.layers.registry import DimStep, LayerHandler, ShapeMath, register
from generator.model.graph import LayerRecord, Shape

_IDX = {1: ("t",), 2: ("i", "j"), 3: ("l", "i", "j")}
_LETTERS = ("i", "j", "k", "l", "m", "q", "r")
_SEP = r",\, "


def _dim_syms(shape: Shape) -> list[Formula]:
    """The non-batch dimensions as symbols: `n_h, n_w, c` for an image, `n_1, n_2, ...` else."""
    dims = shape[1:]
    if 2 <= len(dims) <= 4:
        names = [f"n_{a}" for a in AXIS_NAMES[len(dims) - 1]] + ["c"]
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

    def equation(self, layer: LayerRecord) -> str:
        dims = list(layer.input_shape[1:])
        letters = list(_LETTERS[: len(dims)])
        if len(dims) <= 1:
            return r"a_i = x_i"
        x_index = _index(letters)
        if layer.config.get("data_format") == "channels_first":
            # Keras moves the channels last before flattening, as for channels-last inputs.
            letters, dims = [*letters[1:], letters[0]], [*dims[1:], dims[0]]
        # Row-major (C) order: the last index runs fastest.
        flat = letters[0]
        for letter, d in zip(letters[1:], dims[1:], strict=True):
            size = "n" if d is None else str(d)
            flat = f"({flat})" if "+" in flat else flat
            flat = rf"{flat} \cdot {size} + {letter}"
        return rf"a_{{{flat}}} = x_{{{x_index}}}"


@register("Reshape")
class ReshapeHandler(LayerHandler):
    summary = "reshape: the same numbers in the same order, arranged in a new shape"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        target = list(layer.config["target_shape"])
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

    def equation(self, layer: LayerRecord) -> str:
        shape = self.output_shape(layer).shape[1:]
        dims = r" \times ".join("n" if d is None else str(d) for d in shape)
        return (
            rf"a = \mathrm{{reshape}}_{{{dims}}}(x), \quad "
            r"\mathrm{vec}(a) = \mathrm{vec}(x) \ (\text{row-major order})"
        )


@register("Permute")
class PermuteHandler(LayerHandler):
    summary = "permute: the axes in a new order"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        dims = layer.config["dims"]
        shape = layer.input_shape
        return ShapeMath(shape=(shape[0], *(shape[d] for d in dims)))

    def equation(self, layer: LayerRecord) -> str:
        dims = layer.config["dims"]
        letters = _LETTERS[: len(dims)]
        out = [letters[d - 1] for d in dims]
        return rf"a_{{{_index(out)}}} = x_{{{_index(letters)}}}"


@register("RepeatVector")
class RepeatVectorHandler(LayerHandler):
    summary = "repeat vector: the input vector n times, as a sequence"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        shape = layer.input_shape
        return ShapeMath(shape=(shape[0], layer.config["n"], *shape[1:]))

    def equation(self, layer: LayerRecord) -> str:
        n = layer.config["n"]
        return rf"a_{{t,j}} = x_j, \quad t = 0, \dots, {n - 1}"


def _pairs(value, rank: int) -> list[tuple[int, int]]:
    """Cropping/padding config as `(start, end)` per spatial axis."""
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
        return rank, axes, _pairs(layer.config[self.key], rank)

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        rank, axes, pairs = self._axes(layer)
        letter = "p" if self.sign > 0 else "r"
        dims, steps = [], []
        for axis, name, (start, end) in zip(axes, AXIS_NAMES[rank], pairs, strict=True):
            n = layer.input_shape[axis]
            if n is None:
                dims.append(None)
                continue
            sn = Sym(f"n_{name}", n)
            a = Sym(rf"{letter}_{{{name}}}^{{\text{{start}}}}", start)
            b = Sym(rf"{letter}_{{{name}}}^{{\text{{end}}}}", end)
            formula: Formula = Add((sn, a, b)) if self.sign > 0 else Sub(Sub(sn, a), b)
            dims.append(formula.value())
            steps.append(DimStep(label=f"n'_{name}", formula=formula))
        return ShapeMath(
            shape=with_dims(layer.input_shape, axes, dims, None, layer), steps=tuple(steps)
        )

    def _shifted(self, layer: LayerRecord) -> tuple[str, str]:
        rank, _, pairs = self._axes(layer)
        op = "-" if self.sign > 0 else "+"
        idx = _IDX[rank]
        src = [
            i if start == 0 else f"{i}{op}{start}" for i, (start, _) in zip(idx, pairs, strict=True)
        ]
        return f"a_{{{_index(idx)},c}}", rf"x_{{{_SEP.join(src)},\, c}}"


@register("Cropping1D", "Cropping2D", "Cropping3D")
class CroppingHandler(_EdgeHandler):
    summary = "cropping: rows cut off at both ends of each spatial axis"
    key = "cropping"
    sign = -1

    def equation(self, layer: LayerRecord) -> str:
        lhs, x = self._shifted(layer)
        return f"{lhs} = {x}"


@register("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D")
class ZeroPaddingHandler(_EdgeHandler):
    summary = "zero padding: rows of zeros added at both ends of each spatial axis"
    key = "padding"
    sign = 1

    def equation(self, layer: LayerRecord) -> str:
        lhs, x = self._shifted(layer)
        return (
            rf"{lhs} = \begin{{cases}} {x} & \text{{if the index is inside }} x \\ "
            r"0 & \text{otherwise} \end{cases}"
        )


@register("UpSampling1D", "UpSampling2D", "UpSampling3D")
class UpSamplingHandler(LayerHandler):
    summary = "up-sampling: each spatial axis stretched by an integer factor"

    def _size(self, layer: LayerRecord) -> tuple[int, tuple[int, ...], list[int]]:
        rank = _rank(layer)
        size = as_tuple(layer.config.get("size", 2), rank)
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
            formula = Mul((Sym(f"n_{name}", n), Sym(f"s_{name}", s)))
            dims.append(formula.value())
            steps.append(DimStep(label=f"n'_{name}", formula=formula))
        return ShapeMath(
            shape=with_dims(layer.input_shape, axes, dims, None, layer), steps=tuple(steps)
        )

    def equation(self, layer: LayerRecord) -> str:
        rank, size, _ = self._size(layer)
        idx = _IDX[rank]
        lhs = f"a_{{{_index(idx)},c}}"
        if layer.config.get("interpolation", "nearest") == "bilinear":
            (si, sj), (i, j) = size, idx
            return (
                rf"{lhs} = \sum_{{u,v}} \max(0, 1 - |y_{i} - u|)\, \max(0, 1 - |y'_{j} - v|)\, "
                rf"x_{{u,v,c}}, \quad y_{i} = \frac{{{i} + 1/2}}{{{si}}} - \frac{{1}}{{2}},\ "
                rf"y'_{j} = \frac{{{j} + 1/2}}{{{sj}}} - \frac{{1}}{{2}} \quad "
                r"(\text{clamped to the input's edges})"
            )
        src = [i if s == 1 else rf"\lfloor {i}/{s} \rfloor" for i, s in zip(idx, size, strict=True)]
        return rf"{lhs} = x_{{{_SEP.join(src)},\, c}}"
