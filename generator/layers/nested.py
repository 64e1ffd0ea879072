"""Nested models: a Sequential or functional model used as one layer of another model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.layers.formula import Formula, Num, Sym, total
from generator.layers.registry import (
    LayerHandler,
    MultiShapeMath,
    ParamMath,
    ParamPart,
    SampledPositions,
    ShapeMath,
    at_positions,
    handler_for,
    register,
)
from generator.model.graph import LayerRecord, ModelGraph


def text_name(name: str) -> str:
    """A layer name inside LaTeX `\\text{}`: underscores escaped."""
    return name.replace("_", r"\_")


def child_handler(child: LayerRecord) -> LayerHandler | None:
    """An inner layer's handler; a traced composite custom layer is a nested graph itself."""
    handler = handler_for(child.type)
    if handler is None and child.children is not None:
        return handler_for("Functional")
    return handler


def _child_params(child: LayerRecord) -> ParamMath | None:
    handler = child_handler(child)
    return handler.params(child) if handler is not None else None


@register("Sequential", "Functional")
class NestedModelHandler(LayerHandler):
    summary = "nested model: a whole model used as one layer"

    def _graph(self, layer: LayerRecord) -> ModelGraph | None:
        return layer.children

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        graph = self._graph(layer)
        if graph is None or not graph.outputs:
            return ShapeMath(shape=layer.output_shape, note="no inner graph recorded")
        shapes = tuple(t.shape for t in graph.outputs)
        # The inner model was built for its own batch size; the outer call decides the batch.
        shapes = tuple((layer.output_shapes[0][0], *s[1:]) for s in shapes)
        if layer.attrs.get("traced_length") is not None:
            # Traced at the probe's length: the lengths the outer call leaves open stay open.
            shapes = tuple(
                tuple(None if o is None else d for d, o in zip(s, outer, strict=False))
                for s, outer in zip(shapes, layer.output_shapes, strict=False)
            )
        if len(shapes) == 1:
            return ShapeMath(shape=shapes[0], note="the inner model's output")
        return MultiShapeMath(shape=shapes[0], all_shapes=shapes, note="the inner model's outputs")

    def params(self, layer: LayerRecord) -> ParamMath:
        """The sum of the inner layers' counts, one term per layer that has weights.

        A frozen inner model (`trainable = False`) holds only non-trainable weights.
        """
        graph = self._graph(layer)
        if graph is None:
            return ParamMath(
                formula=Num(layer.framework_params),
                parts=(ParamPart("weights", Num(layer.framework_params)),),
            )
        frozen = not layer.trainable
        terms: list[Formula] = []
        parts: list[ParamPart] = []
        for child in graph.layers:
            math = _child_params(child)
            count = math.total if math is not None else child.framework_params
            if count == 0:
                continue
            terms.append(Sym(rf"P_{{\text{{{text_name(child.name)}}}}}", count))
            if math is None:
                trainable = 0 if frozen else child.framework_trainable
                parts.append(ParamPart(child.name, Num(trainable), trainable=True))
                parts.append(ParamPart(child.name, Num(count - trainable), trainable=False))
                continue
            for part in math.parts:
                parts.append(
                    ParamPart(
                        f"{child.name}/{part.name}",
                        part.formula,
                        trainable=part.trainable and not frozen,
                    )
                )
        formulas = [_child_params(c) for c in graph.layers]
        weighted = [m for m in formulas if m is not None and m.formula is not None and m.total]
        if len(terms) == 1 and len(weighted) == 1:
            terms = [weighted[0].formula]  # one layer with weights: its own sum, not a bare count
        return ParamMath(formula=total(terms), parts=tuple(parts))

    def equation(self, layer: LayerRecord) -> NestedEquation | None:
        graph = self._graph(layer)
        if graph is None or not graph.layers:
            return None
        return NestedEquation(layer, self._latex(layer))

    def _latex(self, layer: LayerRecord) -> str:
        graph = self._graph(layer)
        name = text_name(layer.name)
        if graph is None or not graph.layers:
            return rf"a = \mathrm{{{name}}}(x)"
        fs = [rf"f_{{\text{{{text_name(child.name)}}}}}" for child in graph.layers]
        if len(fs) > 6:
            fs = [*fs[:2], r"\dots", *fs[-2:]]
        chain = r" \circ ".join(reversed(fs))
        n = len(graph.layers)
        if _is_chain(graph):
            return (
                rf"a = \left({chain}\right)(x) \quad (\text{{the {n} layers of {name}, "
                r"applied in order})"
            )
        order = r",\ ".join(fs)
        return (
            rf"a = \mathrm{{{name}}}(x) \quad (\text{{a graph of {n} layers, evaluated in "
            rf"the order }} {order})"
        )


@dataclass(frozen=True)
class NestedEquation(SampledPositions):
    """A nested model's equation: its layers' equations, run in order on the inner graph.

    The weights come from the inner graph's recorded values (`describe_model(...,
    with_weights=True)`), or else from `weights` keyed `inner layer name/weight name`.
    """

    record: LayerRecord
    text: str

    def latex(self) -> str:
        return self.text

    def evaluate(self, inputs, weights, positions=None):
        graph = self.record.children
        values = {t.name: np.asarray(x) for t, x in zip(graph.inputs, inputs, strict=False)}
        last = graph.outputs[0].name if len(graph.outputs) == 1 else None
        for child in graph.layers:
            handler = child_handler(child)
            equation = handler.equation(child) if handler is not None else None
            if equation is None:
                raise ValueError(f"layer {child.name!r} ({child.type}) has no equation")
            child_weights = {
                w.name: graph.weight_values.get(
                    (child.name, w.name), weights.get(f"{child.name}/{w.name}")
                )
                for w in child.weights
            }
            layer_inputs = [values[n] for n in child.inbound]
            if positions is not None and child.name == last:
                # Only the requested positions of the output layer: the rest is not read.
                return equation.evaluate(layer_inputs, child_weights, positions)
            values[child.name] = equation.evaluate(layer_inputs, child_weights)
        out = values[graph.outputs[0].name]
        return at_positions(out, positions)

    def worked_example(self, inputs, weights, index=None):
        return None  # the inner layers show their own


def _is_chain(graph: ModelGraph) -> bool:
    """Whether every layer takes exactly the previous layer's output (a plain stack)."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        return False
    previous: str | None = None
    for child in graph.layers:
        if len(child.inbound) != 1:
            return False
        if previous is not None and child.inbound[0] != previous:
            return False
        previous = child.name
    return True
