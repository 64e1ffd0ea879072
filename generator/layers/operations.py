"""Tensor operations written between layers (`x + 3.0`): entrywise arithmetic, comparisons and
functions of two operands (`keras.ops.maximum(x, 0.5)`).

The frontend records such a call as type `ops.<function>` with its operands in
`attrs["operands"]` (each input tensor as `None`, each constant as its value).
"""

from __future__ import annotations

import numpy as np

from generator.layers.formula import Num, product
from generator.layers.merge import broadcast, broadcast_read, operand
from generator.layers.normalization import constant_latex
from generator.layers.registry import (
    LayerHandler,
    ParamMath,
    ParamPart,
    ShapeMath,
    params_from_parts,
    register,
)
from generator.layers.tensor_equation import TensorEquation, hidden_indices
from generator.layers.tensor_expr import Affine, Const, Expr, Func, Idx, Read, Sum
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
    array = np.asarray(value, dtype=float)
    if array.ndim <= len(out):
        return Const(array, "c")  # an array constant below the batch axis, broadcast
    # As many axes as the output's with its batch (a traced call's causal mask): one item
    # broadcast over the batch, read like a tensor.
    read = broadcast_read("C", 0, array.shape, out)
    return Read("C", ("const", array[0]), read.maps, batched=False)


def operand_shapes(layer: LayerRecord) -> tuple[tuple[int | None, ...], ...]:
    """The shapes the call broadcasts: its tensors' and those of its array constants."""
    constants = tuple(
        np.shape(a) for a in layer.attrs.get("operands", ()) if isinstance(a, list) and a
    )
    return (*layer.input_shapes, *constants)


def _operand_terms(layer: LayerRecord) -> tuple[tuple[Idx, ...], tuple[Expr, ...]]:
    """The output's hidden indices and each operand of the call read there, in order."""
    operands = layer.attrs.get("operands", [None, None])
    tensors = sum(1 for a in operands if a is None)
    out = hidden_indices(broadcast(operand_shapes(layer)))
    counter = [0]
    return out, tuple(_term(a, tensors, counter, out, layer) for a in operands)


@register(*_SYMBOLS)
class EntrywiseOperationHandler(LayerHandler):
    summary = "tensor arithmetic (`x + 3`): entry by entry, broadcasting constants"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        return ShapeMath(shape=broadcast(operand_shapes(layer)))

    def equation(self, layer: LayerRecord) -> TensorEquation:
        out, terms = _operand_terms(layer)
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


#: Functions of two operands, entry by entry: their LaTeX of `{0}`, `{1}` and NumPy function.
_BINARY_FUNCTIONS = {
    "ops.power": ("{0}^{{{1}}}", np.power),
    "ops.maximum": (r"\max\left({0}, {1}\right)", np.maximum),
    "ops.minimum": (r"\min\left({0}, {1}\right)", np.minimum),
}


@register(*_BINARY_FUNCTIONS)
class BinaryFunctionHandler(LayerHandler):
    summary = "a function of two tensors or numbers (`keras.ops.maximum(x, 0.5)`), entry by entry"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        return ShapeMath(shape=broadcast(operand_shapes(layer)))

    def equation(self, layer: LayerRecord) -> TensorEquation:
        out, terms = _operand_terms(layer)
        template, fn = _BINARY_FUNCTIONS[layer.type]
        if layer.type == "ops.power" and isinstance(terms[0], Read) and terms[0].symbol != "x":
            template = "\\left({0}\\right)^{{{1}}}"  # x^{(1)} to a power: brackets first
        return TensorEquation(out, Func(fn, terms, template), note=r" \quad (\text{entrywise})")


@register("ParameterAdd")
class ParameterAddHandler(LayerHandler):
    """A learned tensor `P` added to the input, broadcasting: a position embedding, say.

    PyTorch writes it `x + self.pos_embedding` with an `nn.Parameter`; the frontend gives the
    parameter the role `parameter`. A leading axis of size 1 lines up with the batch.
    """

    summary = (
        "a learned tensor added to the input (PyTorch: `x + nn.Parameter`, read from PyTorch only)"
    )
    frameworks = ("torch",)

    def _dims(self, layer: LayerRecord) -> tuple[int, ...]:
        shape = layer.weight_by_role("parameter").shape
        return shape[1:] if len(shape) == len(layer.input_shape) and shape[0] == 1 else shape

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        return ShapeMath(shape=broadcast((layer.input_shape, (None, *self._dims(layer)))))

    def params(self, layer: LayerRecord) -> ParamMath:
        dims = [d for d in self._dims(layer) if d != 1] or [1]
        return params_from_parts(ParamPart("P", product([Num(d) for d in dims])))

    def equation(self, layer: LayerRecord) -> TensorEquation:
        out = hidden_indices(self.output_shape(layer).shape)
        x = broadcast_read("x", 0, layer.input_shape, out)
        weight = layer.weight_by_role("parameter")
        p = broadcast_read("P", 0, (None, *self._dims(layer)), out)
        p = Read("P", ("weight", weight.name), p.maps, batched=False)
        if len(weight.shape) != len(self._dims(layer)):  # the batch's axis of size 1
            p = Read("P", ("weight", weight.name), (Affine(()), *p.maps), batched=False)
        return TensorEquation(out, Sum((x, p)), note=r" \quad (\text{entrywise})")
