"""Dense layers: `a = f(W x + b)` with `W = kernel^T` (n_out x n_in), applied to the last axis."""

from __future__ import annotations

from generator.layers.formula import Sym
from generator.layers.registry import (
    AffineMap,
    LayerHandler,
    ParamMath,
    ParamPart,
    ShapeMath,
    params_from_parts,
    register,
)
from generator.layers.tensor_equation import TensorEquation, activation_spec
from generator.layers.tensor_expr import Idx, Prod, Read, Reduce, Sum, at
from generator.model.graph import LayerRecord


@register("Dense")
class DenseHandler(LayerHandler):
    summary = "fully connected: every output is a weighted sum of all inputs"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        return ShapeMath(shape=(*layer.input_shape[:-1], layer.attrs["units"]))

    def params(self, layer: LayerRecord) -> ParamMath:
        n_in = Sym(r"n_{in}", layer.input_shape[-1])
        n_out = Sym(r"n_{out}", layer.attrs["units"])
        if not layer.attrs.get("use_bias", True):
            return params_from_parts(ParamPart("W", n_in * n_out))
        return params_from_parts(
            ParamPart("W", n_in * n_out),
            ParamPart("b", n_out),
            formula=(n_in + 1) * n_out,
        )

    def equation(self, layer: LayerRecord) -> TensorEquation:
        # Column convention: W_{j,i} = kernel[i, j], so row j of W holds unit j's weights.
        shape = layer.input_shape
        lead = tuple(Idx(f"t{k}", d, shown=False) for k, d in enumerate(shape[1:-1]))
        i, j = Idx("i", shape[-1]), Idx("j", layer.attrs["units"])
        x = Read("x", ("input", 0), tuple(at(t) for t in lead) + (at(i),))
        w = Read("W", ("weight", "kernel"), (at(i), at(j)), batched=False, order=(1, 0))
        body = Reduce("sum", (i,), Prod((w, x)))
        if layer.attrs.get("use_bias", True):
            body = Sum((Read("b", ("weight", "bias"), (at(j),), batched=False), body))
        return TensorEquation((*lead, j), body, activation_spec(layer), ranges=True)

    def affine(self, layer: LayerRecord, weight, n: int) -> AffineMap:
        return AffineMap(matrix=weight("kernel").T, bias=weight("bias"), symbols=("W", "b"))
