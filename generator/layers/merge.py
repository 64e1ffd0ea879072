"""Merging: layers that combine several tensors into one, entry by entry or side by side."""

from __future__ import annotations

from generator.layers.formula import Sym, total
from generator.layers.registry import DimStep, LayerHandler, ShapeMath, register
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


class _EntrywiseHandler(LayerHandler):
    """Add, Multiply and friends: same-shape (or broadcastable) inputs, combined entry by entry."""

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        return ShapeMath(shape=broadcast(layer.input_shapes))


@register("Add")
class AddHandler(_EntrywiseHandler):
    summary = "add: the entrywise sum of the inputs"

    def equation(self, layer: LayerRecord) -> str:
        return "a = " + " + ".join(_operands(layer))


@register("Subtract")
class SubtractHandler(_EntrywiseHandler):
    summary = "subtract: the entrywise difference of two inputs"

    def equation(self, layer: LayerRecord) -> str:
        return f"a = {operand(1)} - {operand(2)}"


@register("Multiply")
class MultiplyHandler(_EntrywiseHandler):
    summary = "multiply: the entrywise (Hadamard) product of the inputs"

    def equation(self, layer: LayerRecord) -> str:
        return "a = " + r" \odot ".join(_operands(layer)) + r" \quad (\text{entrywise})"


@register("Average")
class AverageHandler(_EntrywiseHandler):
    summary = "average: the entrywise mean of the inputs"

    def equation(self, layer: LayerRecord) -> str:
        n = len(layer.input_shapes)
        return rf"a = \frac{{1}}{{{n}}}\left({' + '.join(_operands(layer))}\right)"


@register("Maximum", "Minimum")
class ExtremumHandler(_EntrywiseHandler):
    summary = "maximum / minimum: the entrywise largest or smallest input"

    def equation(self, layer: LayerRecord) -> str:
        op = r"\max" if layer.type == "Maximum" else r"\min"
        return rf"a = {op}\left({', '.join(_operands(layer))}\right) \quad (\text{{entrywise}})"


@register("Concatenate")
class ConcatenateHandler(LayerHandler):
    summary = "concatenate: the inputs side by side along one axis"

    def _axis(self, layer: LayerRecord) -> int:
        axis = layer.config.get("axis", -1)
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

    def equation(self, layer: LayerRecord) -> str:
        axis = self._axis(layer)
        where = "the last axis" if axis == len(layer.input_shape) - 1 else f"axis {axis}"
        return (
            rf"a = \left[{', '.join(_operands(layer))}\right] \quad "
            rf"(\text{{side by side along {where}}})"
        )


@register("Dot")
class DotHandler(LayerHandler):
    summary = "dot: sums of products of two inputs along the given axes"

    def _axes(self, layer: LayerRecord) -> tuple[int, int]:
        axes = layer.config.get("axes", -1)
        axes = (axes, axes) if isinstance(axes, int) else tuple(axes)
        return tuple(a % len(s) for a, s in zip(axes, layer.input_shapes, strict=True))

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        (ax, ay), (x, y) = self._axes(layer), layer.input_shapes
        rest = [d for k, d in enumerate(x) if k not in (0, ax)]
        rest += [d for k, d in enumerate(y) if k not in (0, ay)]
        return ShapeMath(shape=(x[0], *rest) if rest else (x[0], 1))

    def equation(self, layer: LayerRecord) -> str:
        (ax, ay), (x, _) = self._axes(layer), layer.input_shapes
        n = x[ax]
        u, v = operand(1), operand(2)
        if len(x) == 2:
            sums = rf"\sum_{{k=0}}^{{{n - 1}}} {u}_k\, {v}_k"
            eq = rf"a = {sums}"
        else:
            sums = rf"\sum_{{k=0}}^{{{n - 1}}} {u}_{{\dots k \dots}}\, {v}_{{\dots k \dots}}"
            eq = rf"a_{{\dots}} = {sums} \quad (\text{{summed over axis {ax} of }} {u}" + (
                rf" \text{{ and axis {ay} of }} {v})"
            )
        if layer.config.get("normalize", False):
            eq += (
                r" \quad (\text{each input first divided by its Euclidean norm along the "
                r"summed axis: a cosine similarity})"
            )
        return eq
