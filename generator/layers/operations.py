"""Tensor operations written between layers (`x + 3.0`): entrywise arithmetic and comparisons.

The frontend records such a call as type `ops.<function>` with its operands in
`attrs["operands"]` (each input tensor as `None`, each constant as its value).
"""

from __future__ import annotations

import numpy as np

from generator.layers.merge import broadcast, broadcast_read, operand
from generator.layers.normalization import constant_latex
from generator.layers.registry import LayerHandler, ShapeMath, register
from generator.layers.tensor_equation import TensorEquation, hidden_indices
from generator.layers.tensor_expr import Const, Expr, Func, Idx
from generator.model.graph import LayerRecord

_SYMBOLS = {
    "ops.add": "+",
    "ops.subtract": "-",
    "ops.multiply": r"\cdot",
    "ops.divide": "/",
    "ops.true_divide": "/",
    "ops.equal": "=",
    "ops.not_equal": r"\neq",
}


_FUNCTIONS = {
    "ops.add": np.add,
    "ops.subtract": np.subtract,
    "ops.multiply": np.multiply,
    "ops.divide": np.divide,
    "ops.true_divide": np.divide,
    "ops.equal": np.equal,
    "ops.not_equal": np.not_equal,  # Embedding(mask_zero=True)'s mask: the token is not 0
}


def _term(value: object, tensors: int, counter: list[int], out: tuple[Idx, ...], layer) -> Expr:
    """An operand: the next input tensor (`x`, or `x^{(m)}`), a number, or an array constant."""
    if value is None:
        counter[0] += 1
        symbol = "x" if tensors == 1 else operand(counter[0])
        return broadcast_read(symbol, counter[0] - 1, layer.input_shapes[counter[0] - 1], out)
    if isinstance(value, int | float):
        return Const(float(value), constant_latex(value, "c"))
    return Const(np.asarray(value, dtype=float), "c")  # an array constant, broadcast


@register(*_SYMBOLS)
class EntrywiseOperationHandler(LayerHandler):
    summary = "tensor arithmetic (`x + 3`): entry by entry, broadcasting constants"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        return ShapeMath(shape=broadcast(layer.input_shapes))

    def equation(self, layer: LayerRecord) -> TensorEquation:
        operands = layer.attrs.get("operands", [None, None])
        tensors = sum(1 for a in operands if a is None)
        out = hidden_indices(broadcast(layer.input_shapes))
        counter = [0]
        terms = tuple(_term(a, tensors, counter, out, layer) for a in operands)
        symbol, fn = _SYMBOLS[layer.type], _FUNCTIONS[layer.type]
        if symbol == "/" and len(terms) == 2:
            template = r"\frac{{{0}}}{{{1}}}"
        else:
            template = f" {symbol} ".join(f"{{{k}}}" for k in range(len(terms)))

        def combine(*values: np.ndarray) -> np.ndarray:
            result = values[0]
            for value in values[1:]:
                result = fn(result, value)
            return result

        body = Func(combine, terms, template)
        if layer.type in ("ops.equal", "ops.not_equal"):
            return TensorEquation(
                out, body, note=r" \quad (\text{entrywise: 1 where true, else 0})"
            )
        return TensorEquation(out, body, note=r" \quad (\text{entrywise})")
