"""Merging: layers that combine several tensors into one, entry by entry or side by side."""

from __future__ import annotations

import numpy as np

from generator.layers.formula import Sym, total
from generator.layers.registry import DimStep, LayerHandler, ShapeMath, register
from generator.layers.tensor_equation import TensorEquation, hidden_indices
from generator.layers.tensor_expr import Affine, Expr, Func, Idx, Prod, Read, Reduce, Sum, at
from generator.model.graph import LayerRecord, Shape


def broadcast(shapes: tuple[Shape, ...]) -> Shape:
    """The shape of an entrywise operation on `shapes`, broadcasting like Keras's merge layers."""
    rank = max(len(s) for s in shapes)
    out: list[int | None] = []
    for k in range(rank):
        dims = [s[len(s) - rank + k] for s in shapes if len(s) - rank + k >= 0]
        sized = {d for d in dims if d is not None and d != 1}
        if None in dims and not sized:
            out.append(None)
        elif sized:
            out.append(max(sized))
        else:
            out.append(1)
    return tuple(out)


def operand(m: int) -> str:
    """The m-th input (1-based) of a merge, in the inbound order: `x^{(1)}`."""
    return f"x^{{({m})}}"


def _operands(layer: LayerRecord) -> list[str]:
    return [operand(m + 1) for m in range(len(layer.input_shapes))]


def broadcast_read(symbol: str, k: int, shape: Shape, out: tuple[Idx, ...]) -> Read:
    """Input `k` read at an output position, broadcasting its size-1 axes (right-aligned)."""
    dims = shape[1:]
    skip = len(out) - len(dims)
    maps = tuple(
        Affine(()) if d == 1 and out[skip + a].size != 1 else at(out[skip + a])
        for a, d in enumerate(dims)
    )
    return Read(symbol, ("input", k), maps)


def operand_reads(layer: LayerRecord, out_shape: Shape) -> tuple[tuple[Idx, ...], list[Read]]:
    """Hidden output indices and every input read there: `x^{(1)}, x^{(2)}, ...`."""
    out = hidden_indices(out_shape)
    reads = [
        broadcast_read(operand(m + 1), m, shape, out) for m, shape in enumerate(layer.input_shapes)
    ]
    return out, reads


def entrywise_equation(layer: LayerRecord, fn, template: str, note: str = "") -> TensorEquation:
    out, reads = operand_reads(layer, broadcast(layer.input_shapes))
    return TensorEquation(out, Func(fn, tuple(reads), template), note=note)


class _EntrywiseHandler(LayerHandler):
    """Add, Multiply and friends: same-shape (or broadcastable) inputs, combined entry by entry."""

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        return ShapeMath(shape=broadcast(layer.input_shapes))


@register("Add")
class AddHandler(_EntrywiseHandler):
    summary = "add: the entrywise sum of the inputs"

    def equation(self, layer: LayerRecord) -> TensorEquation:
        out, reads = operand_reads(layer, broadcast(layer.input_shapes))
        return TensorEquation(out, Sum(tuple(reads)))


@register("Subtract")
class SubtractHandler(_EntrywiseHandler):
    summary = "subtract: the entrywise difference of two inputs"

    def equation(self, layer: LayerRecord) -> TensorEquation:
        return entrywise_equation(layer, np.subtract, "{0} - {1}")


@register("Multiply")
class MultiplyHandler(_EntrywiseHandler):
    summary = "multiply: the entrywise (Hadamard) product of the inputs"

    def equation(self, layer: LayerRecord) -> TensorEquation:
        n = len(layer.input_shapes)
        template = r" \odot ".join(f"{{{m}}}" for m in range(n))
        return entrywise_equation(
            layer,
            lambda *v: np.prod(np.broadcast_arrays(*v), axis=0),
            template,
            r" \quad (\text{entrywise})",
        )


@register("Average")
class AverageHandler(_EntrywiseHandler):
    summary = "average: the entrywise mean of the inputs"

    def equation(self, layer: LayerRecord) -> TensorEquation:
        n = len(layer.input_shapes)
        inner = " + ".join(f"{{{m}}}" for m in range(n))
        template = rf"\frac{{{{1}}}}{{{{{n}}}}}\left({inner}\right)"
        return entrywise_equation(layer, lambda *v: sum(v) / n, template)


@register("Maximum", "Minimum")
class ExtremumHandler(_EntrywiseHandler):
    summary = "maximum / minimum: the entrywise largest or smallest input"

    def equation(self, layer: LayerRecord) -> TensorEquation:
        op = r"\max" if layer.type == "Maximum" else r"\min"
        fn = np.maximum if layer.type == "Maximum" else np.minimum
        n = len(layer.input_shapes)
        args = ", ".join(f"{{{m}}}" for m in range(n))
        template = rf"{op}\left({args}\right)"
        return entrywise_equation(
            layer,
            lambda *v: fn.reduce(np.broadcast_arrays(*v)),
            template,
            r" \quad (\text{entrywise})",
        )


@register("Concatenate")
class ConcatenateHandler(LayerHandler):
    summary = "concatenate: the inputs side by side along one axis"

    def _axis(self, layer: LayerRecord) -> int:
        axis = layer.attrs.get("axis", -1)
        return axis % len(layer.input_shape)

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        axis = self._axis(layer)
        sizes = [s[axis] for s in layer.input_shapes]
        out = list(layer.input_shape)
        for k, dim in enumerate(out):
            if k != axis and dim is None:
                out[k] = next((s[k] for s in layer.input_shapes if s[k] is not None), None)
        if any(d is None for d in sizes):
            out[axis] = None
            return ShapeMath(shape=tuple(out))
        name = "c" if axis == len(out) - 1 else f"n_{axis}"
        formula = total([Sym(f"{name}^{{({m + 1})}}", d) for m, d in enumerate(sizes)])
        out[axis] = formula.value()
        return ShapeMath(shape=tuple(out), steps=(DimStep(label=f"{name}'", formula=formula),))

    def equation(self, layer: LayerRecord) -> TensorEquation:
        axis = self._axis(layer)
        shape = self.output_shape(layer).shape
        out = list(hidden_indices(shape))
        n = Idx("n", shape[axis])
        out[axis - 1] = n
        if axis > 1:
            out[0] = Idx(r"\dots", out[0].size)
        reads, cases, start = [], [], 0
        for m, in_shape in enumerate(layer.input_shapes):
            size = in_shape[axis]
            maps = tuple(at(n, -start) if k == axis - 1 else at(i) for k, i in enumerate(out))
            reads.append(Read(operand(m + 1), ("input", m), maps, outside=0.0))
            cases.append(rf"{{{m}}} & {start} \le n < {start + size}")
            start += size
        template = r"\begin{{cases}} " + r" \\ ".join(cases) + r" \end{{cases}}"
        where = "the last axis" if axis == len(layer.input_shape) - 1 else f"axis {axis}"
        return TensorEquation(
            tuple(out),
            Func(lambda *v: sum(v), tuple(reads), template),
            note=rf" \quad (\text{{the inputs side by side along {where}}})",
        )


@register("Dot")
class DotHandler(LayerHandler):
    summary = "dot: sums of products of two inputs along the given axes"

    def _axes(self, layer: LayerRecord) -> tuple[int, int]:
        axes = layer.attrs.get("axes", -1)
        axes = (axes, axes) if isinstance(axes, int) else tuple(axes)
        return tuple(a % len(s) for a, s in zip(axes, layer.input_shapes, strict=True))

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        (ax, ay), (x, y) = self._axes(layer), layer.input_shapes
        rest = [d for k, d in enumerate(x) if k not in (0, ax)]
        rest += [d for k, d in enumerate(y) if k not in (0, ay)]
        return ShapeMath(shape=(x[0], *rest) if rest else (x[0], 1))

    def equation(self, layer: LayerRecord) -> TensorEquation:
        (ax, ay), (x, y) = self._axes(layer), layer.input_shapes
        rest_x, rest_y = _rest(x, ax, "i"), _rest(y, ay, "j")
        # The summed index is `i` (as in a dense layer's sum) unless `i` already names an axis.
        k = Idx("k" if rest_x else "i", x[ax])
        maps_x = list(map(at, rest_x))
        maps_x.insert(ax - 1, at(k))
        maps_y = list(map(at, rest_y))
        maps_y.insert(ay - 1, at(k))
        u = Read(operand(1), ("input", 0), tuple(maps_x))
        v = Read(operand(2), ("input", 1), tuple(maps_y))
        note = ""
        if layer.attrs.get("normalize", False):
            u, v = _unit(u, maps_x, ax, x[ax]), _unit(v, maps_y, ay, y[ay])
            note = (
                r" \quad (\hat{x}: \text{each input divided by its Euclidean norm along the "
                r"summed axis; } a \text{ is a cosine similarity})"
            )
        out = tuple(rest_x + rest_y) or (Idx("o", 1, shown=False),)
        return TensorEquation(out, Reduce("sum", (k,), Prod((u, v))), note=note)


def _rest(shape: Shape, axis: int, letter: str) -> list[Idx]:
    """The indices of an input's axes other than the summed one: `i`, or `i_0, i_1, ...`."""
    axes = [a for a in range(1, len(shape)) if a != axis]
    names = [letter] if len(axes) == 1 else [f"{letter}_{p}" for p in range(len(axes))]
    return [Idx(n, shape[a]) for n, a in zip(names, axes, strict=True)]


def _unit(read: Read, maps: list, axis: int, size: int) -> Expr:
    """`read / ||read||` along the summed axis: `\\hat{x}`."""
    m = Idx("m", size)
    other = list(maps)
    other[axis - 1] = at(m)
    square = Func(np.square, (Read(read.symbol, read.source, tuple(other)),), "{0}^2")
    norm = Reduce("sum", (m,), square)
    return Func(
        lambda a, ss: a / np.sqrt(np.maximum(ss, 1e-12)),
        (read, norm),
        (r"\hat{x}" + read.latex().removeprefix("x")).replace("{", "{{").replace("}", "}}"),
    )
