"""Tensor operations written between layers (`x + 3.0`): entrywise arithmetic, no weights.

The frontend records such a call as type `ops.<function>` with its operands in
`config["operands"]` (each input tensor as `None`, each constant as its value).
"""

from __future__ import annotations

from generator.layers.merge import broadcast, operand
from generator.layers.normalization import constant_latex
from generator.layers.registry import LayerHandler, ShapeMath, register
from generator.model.graph import LayerRecord

_SYMBOLS = {
    "ops.add": "+",
    "ops.subtract": "-",
    "ops.multiply": r"\cdot",
    "ops.divide": "/",
    "ops.true_divide": "/",
}


def _term(value: object, tensors: int, counter: list[int]) -> str:
    if value is None:
        counter[0] += 1
        return "x" if tensors == 1 else operand(counter[0])
    if isinstance(value, int | float):
        return constant_latex(value, "c")
    return "c"  # an array constant


@register(*_SYMBOLS)
class EntrywiseOperationHandler(LayerHandler):
    summary = "tensor arithmetic (`x + 3`): entry by entry, broadcasting constants"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        return ShapeMath(shape=broadcast(layer.input_shapes))

    def equation(self, layer: LayerRecord) -> str:
        operands = layer.config.get("operands", [None, None])
        tensors = sum(1 for a in operands if a is None)
        counter = [0]
        terms = [_term(a, tensors, counter) for a in operands]
        symbol = _SYMBOLS[layer.type]
        if symbol == "/" and len(terms) == 2:
            body = rf"\frac{{{terms[0]}}}{{{terms[1]}}}"
        else:
            body = f" {symbol} ".join(terms)
        return rf"a = {body} \quad (\text{{entrywise}})"
