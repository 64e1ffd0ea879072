"""Tensor functions written between layers (`keras.ops.sum(x, axis=1)`): entrywise functions,
constants, reductions, running sums, axis moves and matrix products.

The frontend records such a call as type `ops.<function>`, its operands in `attrs["operands"]`
(each input tensor as `None`, each constant as its value) and its keyword arguments beside them.
Axes count the batch as axis 0, as Keras does; a call that mixes the items of a batch (a sum over
axis 0 or over every axis, a transpose that moves the batch) gets its shape derived and an
equation that is printed but not evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from generator.layers.merge import broadcast, operand
from generator.layers.recurrent_system import UncheckedEquation
from generator.layers.registry import LayerHandler, ShapeMath, register
from generator.layers.tensor_equation import TensorEquation, hidden_indices, read_all
from generator.layers.tensor_expr import (
    Affine,
    Const,
    Context,
    Expr,
    Func,
    Idx,
    Prod,
    Read,
    Reduce,
    at,
)
from generator.model.graph import LayerRecord, Shape

#: Index letters of a tensor's axes after the batch, as the notation page names them.
LETTERS = ("i", "j", "k", "l", "m", "q", "r")
_ENTRYWISE_NOTE = r" \quad (\text{entrywise})"


@dataclass(frozen=True)
class IndexValue(Expr):
    """The value of an index itself (`k`), as a number in an expression."""

    idx: Idx

    def latex(self) -> str:
        return self.idx.name

    def values(self, ctx: Context, env: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray(env[self.idx.name])


@dataclass(frozen=True)
class Indicator(Expr):
    """`[lhs = rhs]` or `[lhs \\le rhs]` (Iverson's bracket): 1 where it holds, else 0."""

    lhs: Expr
    rhs: Expr
    relation: str = "="

    def latex(self) -> str:
        return rf"[{self.lhs.latex()} {self.relation} {self.rhs.latex()}]"

    def values(self, ctx: Context, env: Mapping[str, np.ndarray]) -> np.ndarray:
        compare = np.equal if self.relation == "=" else np.less_equal
        return compare(self.lhs.values(ctx, env), self.rhs.values(ctx, env)).astype(np.float64)

    def volume(self) -> int:
        return max(self.lhs.volume(), self.rhs.volume())


def axis_indices(shape: Shape) -> tuple[Idx, ...]:
    """One index per axis after the batch: `i, j, k, ...`."""
    return tuple(Idx(LETTERS[k], d) for k, d in enumerate(shape[1:]))


def _axes(value: object, rank: int) -> tuple[int, ...] | None:
    """A Keras `axis` argument as sorted non-negative axes of a `rank` tensor; `None`: all."""
    if value is None:
        return None
    values = [value] if isinstance(value, int) else list(value)
    return tuple(sorted(int(a) % rank for a in values))


def _unchecked(layer: LayerRecord, why: str) -> UncheckedEquation:
    name = layer.type.removeprefix("ops.").replace("_", r"\_")
    return UncheckedEquation(rf"a = \mathrm{{{name}}}(x) \quad (\text{{{why}; not evaluated}})")


# --- entrywise functions and constants ----------------------------------------------------------

#: `ops.<name>` -> the activation table's row that is the same function.
_ACTIVATION_ROWS = {
    "ops.relu": "relu",
    "ops.sigmoid": "sigmoid",
    "ops.tanh": "tanh",
    "ops.exp": "exponential",
    "ops.silu": "silu",
}
#: The entrywise functions that are no activation: their LaTeX of `{0}` and their NumPy function.
_FUNCTIONS = {
    "ops.absolute": (r"\left|{0}\right|", np.abs),
    "ops.negative": ("-{0}", np.negative),
    "ops.square": ("{0}^2", np.square),
    "ops.sqrt": (r"\sqrt{{{0}}}", np.sqrt),
    "ops.log": (r"\ln {0}", np.log),
}
_CONSTANTS = {"ops.ones_like": 1.0, "ops.zeros_like": 0.0}


@register(*_ACTIVATION_ROWS, *_FUNCTIONS)
class EntrywiseFunctionHandler(LayerHandler):
    summary = "a function of each entry (`keras.ops.exp(x)`): the same shape"

    def equation(self, layer: LayerRecord) -> TensorEquation:
        indices = hidden_indices(layer.input_shape)
        x = read_all("x", 0, indices)
        if layer.type in _ACTIVATION_ROWS:
            return TensorEquation(indices, x, _ACTIVATION_ROWS[layer.type], note=_ENTRYWISE_NOTE)
        template, fn = _FUNCTIONS[layer.type]
        return TensorEquation(indices, Func(fn, (x,), template), note=_ENTRYWISE_NOTE)


@register(*_CONSTANTS)
class ConstantLikeHandler(LayerHandler):
    summary = "a constant tensor of the input's shape (`keras.ops.ones_like(x)`)"

    def equation(self, layer: LayerRecord) -> TensorEquation:
        value = _CONSTANTS[layer.type]
        note = r" \quad (\text{every entry, in the shape of } x)"
        return TensorEquation(
            hidden_indices(layer.input_shape), Const(value, f"{value:g}"), note=note
        )


@register("ops.cast")
class CastHandler(LayerHandler):
    summary = 'the same numbers as another type (`keras.ops.cast(mask, "int32")`)'

    def equation(self, layer: LayerRecord) -> TensorEquation:
        indices = hidden_indices(layer.input_shape)
        dtype = str(layer.attrs.get("dtype", "")).replace("_", r"\_")
        note = rf" \quad (\text{{the same numbers, as {dtype}}})"
        return TensorEquation(indices, read_all("x", 0, indices), note=note)


# --- reductions and running sums ----------------------------------------------------------------

_REDUCTIONS = {"ops.sum": "sum", "ops.mean": "mean", "ops.max": "max", "ops.min": "min"}


@register(*_REDUCTIONS)
class ReductionHandler(LayerHandler):
    summary = "a sum, mean, max or min over axes (`keras.ops.sum(x, axis=1)`)"

    def _reduced(self, layer: LayerRecord) -> tuple[int, ...]:
        rank = len(layer.input_shape)
        axes = _axes(layer.attrs.get("axis"), rank)
        return tuple(range(rank)) if axes is None else axes

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        reduced, keep = self._reduced(layer), bool(layer.attrs.get("keepdims", False))
        shape = [
            1 if a in reduced else d
            for a, d in enumerate(layer.input_shape)
            if keep or a not in reduced
        ]
        return ShapeMath(shape=tuple(shape))

    def equation(self, layer: LayerRecord) -> TensorEquation | UncheckedEquation:
        reduced = self._reduced(layer)
        if 0 in reduced:
            return _unchecked(layer, "over the batch axis too")
        kept = bool(layer.attrs.get("keepdims", False))
        x_index = axis_indices(layer.input_shape)
        out: list[Idx] = []
        for a, idx in enumerate(x_index, start=1):
            if a not in reduced:
                out.append(idx)
            elif kept:  # an axis of size 1, read nowhere
                out.append(Idx(f"o{a}", 1, shown=False))
        x = Read("x", ("input", 0), tuple(at(i) for i in x_index))
        over = tuple(x_index[a - 1] for a in reduced)
        style = "sigma" if _REDUCTIONS[layer.type] == "sum" else "limits"
        note = r" \quad (\text{the reduced axes kept, of size 1})" if kept else ""
        body = Reduce(_REDUCTIONS[layer.type], over, x, style)
        return TensorEquation(tuple(out), body, note=note)


@register("ops.cumsum")
class CumulativeSumHandler(LayerHandler):
    summary = "a running sum along one axis (`keras.ops.cumsum(x, axis=1)`)"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        if layer.attrs.get("axis") is not None:
            return ShapeMath(shape=layer.input_shape)
        size = 1  # no axis: along the tensor flattened, the batch included
        for d in layer.input_shape:
            size = None if d is None or size is None else size * d
        return ShapeMath(shape=(size,))

    def equation(self, layer: LayerRecord) -> TensorEquation | UncheckedEquation:
        rank = len(layer.input_shape)
        axis = layer.attrs.get("axis")
        if axis is None or int(axis) % rank == 0:
            return _unchecked(layer, "along the flattened tensor or the batch axis")
        if layer.attrs.get("reverse") or layer.attrs.get("exclusive"):
            return _unchecked(layer, "in reverse or exclusive")
        axis = int(axis) % rank
        out = axis_indices(layer.input_shape)
        running = out[axis - 1]
        u = Idx("u", running.size)
        maps = tuple(at(u) if k == axis - 1 else at(i) for k, i in enumerate(out))
        x = Read("x", ("input", 0), maps)
        body = Prod((Indicator(IndexValue(u), IndexValue(running), r"\le"), x))
        return TensorEquation(out, Reduce("sum", (u,), body))


# --- moving axes -------------------------------------------------------------------------------


@register("ops.transpose")
class TransposeHandler(LayerHandler):
    summary = "the axes in a new order (`keras.ops.transpose(x, axes)`)"

    def _order(self, layer: LayerRecord) -> tuple[int, ...]:
        axes = layer.attrs.get("axes")
        rank = len(layer.input_shape)
        return tuple(reversed(range(rank))) if axes is None else tuple(int(a) % rank for a in axes)

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        return ShapeMath(shape=tuple(layer.input_shape[a] for a in self._order(layer)))

    def equation(self, layer: LayerRecord) -> TensorEquation | UncheckedEquation:
        order = self._order(layer)
        if order[0] != 0:
            return _unchecked(layer, "moves the batch axis")
        x_index = axis_indices(layer.input_shape)
        out = tuple(x_index[a - 1] for a in order[1:])
        return TensorEquation(out, Read("x", ("input", 0), tuple(at(i) for i in x_index)))


@register("ops.expand_dims")
class ExpandDimsHandler(LayerHandler):
    summary = "a new axis of size 1 (`keras.ops.expand_dims(x, axis)`)"

    def _new(self, layer: LayerRecord) -> tuple[int, ...]:
        return _axes(layer.attrs.get("axis", 0), len(layer.input_shape) + 1) or ()

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        shape = list(layer.input_shape)
        for a in self._new(layer):
            shape.insert(a, 1)
        return ShapeMath(shape=tuple(shape))

    def equation(self, layer: LayerRecord) -> TensorEquation | UncheckedEquation:
        new = self._new(layer)
        if 0 in new:
            return _unchecked(layer, "adds an axis before the batch")
        x_index = axis_indices(layer.input_shape)
        out = list(x_index)
        for a in new:
            out.insert(a - 1, Idx(f"o{a}", 1, shown=False))
        note = r" \quad (\text{a new axis of size 1})"
        x = Read("x", ("input", 0), tuple(at(i) for i in x_index))
        return TensorEquation(tuple(out), x, note=note)


@register("ops.squeeze")
class SqueezeHandler(LayerHandler):
    summary = "axes of size 1 removed (`keras.ops.squeeze(x, axis)`)"

    def _gone(self, layer: LayerRecord) -> tuple[int, ...]:
        shape = layer.input_shape
        axes = _axes(layer.attrs.get("axis"), len(shape))
        return tuple(a for a, d in enumerate(shape) if d == 1) if axes is None else axes

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        gone = self._gone(layer)
        return ShapeMath(shape=tuple(d for a, d in enumerate(layer.input_shape) if a not in gone))

    def equation(self, layer: LayerRecord) -> TensorEquation | UncheckedEquation:
        gone = self._gone(layer)
        if 0 in gone:
            return _unchecked(layer, "removes the batch axis")
        x_index = axis_indices(layer.input_shape)
        out = tuple(i for a, i in enumerate(x_index, start=1) if a not in gone)
        maps = tuple(Affine(()) if a in gone else at(i) for a, i in enumerate(x_index, start=1))
        return TensorEquation(out, Read("x", ("input", 0), maps))


# --- matrix products ---------------------------------------------------------------------------


def _matmul_shapes(layer: LayerRecord) -> list[tuple[Shape, object]]:
    """Each operand's shape (a tensor's with its batch `None` first) and its constant (`None`:
    an input tensor)."""
    tensors = iter(layer.input_shapes)
    out = []
    for value in layer.attrs.get("operands", [None, None]):
        if value is None:
            out.append((next(tensors), None))
        else:
            array = np.asarray(value, dtype=float)
            out.append((array.shape, array))
    return out


def _matmul_shape(a: Shape, b: Shape) -> Shape:
    """NumPy's rule: leading axes broadcast, `(..., n, k) @ (..., k, m) -> (..., n, m)`; a vector
    operand loses its axis."""
    lead = broadcast((tuple(a[:-2]) or (1,), tuple(b[:-2]) or (1,)))
    if len(a) < 3 and len(b) < 3:
        lead = ()
    return (*lead, *a[-2:-1], *(b[-1:] if len(b) >= 2 else ()))


def _lines(rank: int, left: bool, lead_end: int) -> list[int | None]:
    """For each axis of an operand of `rank` axes: the output axis it runs along (`None`: the
    shared, summed axis). `lead_end` is where the output's broadcast leading axes end."""
    if rank == 1:
        return [None]
    if left:  # (..., n, k): n is output axis `lead_end`
        return [p + lead_end - (rank - 2) for p in range(rank - 1)] + [None]
    # (..., k, m): m is the output's last axis, after n where the left operand has one
    lead = [p + lead_end - (rank - 2) for p in range(rank - 2)]
    return [*lead, None, -1]


@register("ops.matmul")
class MatmulHandler(LayerHandler):
    summary = "a matrix product (`keras.ops.matmul(a, b)`): a sum over the shared index"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        (a, _), (b, _) = _matmul_shapes(layer)
        return ShapeMath(shape=_matmul_shape(a, b))

    def equation(self, layer: LayerRecord) -> TensorEquation | UncheckedEquation:
        operands = _matmul_shapes(layer)
        (a, _), (b, _) = operands
        shape = _matmul_shape(a, b)
        if not shape or shape[0] is not None:
            return _unchecked(layer, "multiplies across the batch")
        out = axis_indices(shape)
        k = Idx("u", a[-1])
        lead_end = len(shape) - (len(a) >= 2) - (len(b) >= 2)
        tensors = sum(c is None for _, c in operands)
        reads, inputs = [], 0
        for m, (dims, constant) in enumerate(operands):
            maps = []
            lines = _lines(len(dims), m == 0, lead_end)
            for d, q in zip(dims, lines, strict=True):
                q = None if q is None else q % len(shape)
                if q is None:
                    maps.append(at(k))
                elif q == 0:
                    continue  # the batch: only a tensor's first axis may run along it
                elif d == 1 and shape[q] != 1:
                    maps.append(Affine(()))
                else:
                    maps.append(at(out[q - 1]))
            if (constant is None) != (lines[0] is not None and lines[0] % len(shape) == 0):
                return _unchecked(layer, "multiplies across the batch")
            if constant is None:
                symbol = "x" if tensors == 1 else operand(inputs + 1)
                reads.append(Read(symbol, ("input", inputs), tuple(maps)))
                inputs += 1
            else:
                reads.append(Read("C", ("const", constant), tuple(maps), batched=False))
        return TensorEquation(out, Reduce("sum", (k,), reads[0] * reads[1]))
