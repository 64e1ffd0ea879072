"""Merge backward: Add copies `\\partial L/\\partial a` to every input, Concatenate hands each
input its own slice of it."""

from __future__ import annotations

from generator.layers.gradients.registry import (
    UPSTREAM,
    GradientEquation,
    GradRead,
    Slots,
    Stage,
    input_key,
    register_backward,
)
from generator.layers.merge import ConcatenateHandler, broadcast, operand
from generator.layers.tensor_equation import hidden_indices
from generator.layers.tensor_expr import Idx, Reduce, at
from generator.model.graph import LayerRecord


@register_backward("Add")
def add_backward(layer: LayerRecord):
    out_shape = broadcast(layer.input_shapes)
    n = len(layer.input_shapes)
    slots = Slots(n)
    stages = []
    for m, shape in enumerate(layer.input_shapes):
        if len(shape) != len(out_shape):
            return None
        indices = hidden_indices(shape)
        # An axis of size 1 that the sum broadcast: its gradient sums over that axis.
        summed, maps = [], []
        for k, (d, o) in enumerate(zip(shape[1:], out_shape[1:], strict=True)):
            if d == 1 and o != 1:
                s = Idx(f"s{k}", o)
                summed.append(s)
                maps.append(at(s))
            else:
                maps.append(at(indices[k]))
        body = GradRead("a", slots(UPSTREAM), tuple(maps))
        if summed:
            body = Reduce("sum", tuple(summed), body)
        eq = GradientEquation(indices, body, symbol=operand(m + 1))
        stages.append(Stage(input_key(m, n), eq))
    note = r" \quad (\text{a sum passes its gradient to every term unchanged})"
    return slots.equation(n, stages, note=note)


@register_backward("Concatenate")
def concatenate_backward(layer: LayerRecord):
    axis = ConcatenateHandler()._axis(layer)
    n = len(layer.input_shapes)
    slots = Slots(n)
    stages, start = [], 0
    for m, shape in enumerate(layer.input_shapes):
        indices = list(hidden_indices(shape))
        k = Idx("k", shape[axis])
        indices[axis - 1] = k
        maps = tuple(at(i) if i is not k else at(k, start) for i in indices)
        eq = GradientEquation(
            tuple(indices), GradRead("a", slots(UPSTREAM), maps), symbol=operand(m + 1)
        )
        stages.append(Stage(input_key(m, n), eq))
        start += shape[axis]
    note = r" \quad (\text{each input gets the slice of the gradient where its entries went})"
    return slots.equation(n, stages, note=note)
