"""Dense layers: `a = f(W x + b)` with `W = kernel^T` (n_out x n_in), applied to the last axis."""

from __future__ import annotations

from generator.layers.common import activated
from generator.layers.formula import Sym
from generator.layers.registry import (
    LayerHandler,
    ParamMath,
    ParamPart,
    ShapeMath,
    params_from_parts,
    register,
)
from generator.model.graph import LayerRecord


@register("Dense")
class DenseHandler(LayerHandler):
    summary = "fully connected: every output is a weighted sum of all inputs"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        return ShapeMath(shape=(*layer.input_shape[:-1], layer.config["units"]))

    def params(self, layer: LayerRecord) -> ParamMath:
        n_in = Sym(r"n_{in}", layer.input_shape[-1])
        n_out = Sym(r"n_{out}", layer.config["units"])
        if not layer.config.get("use_bias", True):
            return params_from_parts(ParamPart("W", n_in * n_out))
        return params_from_parts(
            ParamPart("W", n_in * n_out),
            ParamPart("b", n_out),
            formula=(n_in + 1) * n_out,
        )

    def equation(self, layer: LayerRecord) -> str:
        # Column convention: W_{j,i} = kernel[i, j], so row j of W holds unit j's weights.
        n_in = layer.input_shape[-1]
        bias = "b_j + " if layer.config.get("use_bias", True) else ""
        inner = rf"{bias}\sum_{{i=0}}^{{{n_in - 1}}} W_{{j,i}}\, x_i"
        units = layer.config["units"]
        return rf"{activated(layer, ('j',), inner)}, \quad j = 0, \dots, {units - 1}"
