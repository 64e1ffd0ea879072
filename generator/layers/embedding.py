"""Embedding: each integer token picks one row of a learned table."""

from __future__ import annotations

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


@register("Embedding")
class EmbeddingHandler(LayerHandler):
    summary = "embedding: a row lookup in a V x d table"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        return ShapeMath(shape=(*layer.input_shape, layer.config["output_dim"]))

    def params(self, layer: LayerRecord) -> ParamMath:
        vocab = Sym("V", layer.config["input_dim"])
        dim = Sym("d", layer.config["output_dim"])
        return params_from_parts(ParamPart("E", vocab * dim))

    def equation(self, layer: LayerRecord) -> str:
        v, d = layer.config["input_dim"], layer.config["output_dim"]
        return (
            rf"a_{{t,j}} = E_{{x_t,\, j}}, \quad x_t \in \{{0, \dots, {v - 1}\}},"
            rf" \quad j = 0, \dots, {d - 1}"
        )
