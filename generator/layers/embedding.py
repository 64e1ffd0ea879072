"""Embedding: each integer token picks one row of a learned table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from generator.layers.formula import Sym
from generator.layers.latex_text import index_range
from generator.layers.registry import (
    LayerHandler,
    ParamMath,
    ParamPart,
    ShapeMath,
    params_from_parts,
    register,
)
from generator.layers.tensor_equation import TensorEquation, hidden_indices
from generator.layers.tensor_expr import BATCH, Context, Expr, Idx, at
from generator.model.graph import LayerRecord


@dataclass(frozen=True)
class TokenRow(Expr):
    """`E_{x_t, j}`: the table's row picked by the integer token `x_t` (a data-dependent index)."""

    positions: tuple[Idx, ...]
    column: Idx

    def latex(self) -> str:
        token = "x_t" if len(self.positions) == 1 else "x"
        return rf"E_{{{token},\, {self.column.name}}}"

    def values(self, ctx: Context, env: Mapping[str, np.ndarray]) -> np.ndarray:
        ids = np.asarray(ctx.inputs[0])
        index = [env[BATCH], *(at(i).values(env)[0] for i in self.positions)]
        tokens = ids[tuple(np.broadcast_arrays(*index))].astype(np.int64)
        return np.asarray(ctx.weights["embeddings"])[tokens, env[self.column.name]]


@register("Embedding")
class EmbeddingHandler(LayerHandler):
    summary = "embedding: a row lookup in a V x d table"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        return ShapeMath(shape=(*layer.input_shape, layer.attrs["output_dim"]))

    def params(self, layer: LayerRecord) -> ParamMath:
        vocab = Sym("V", layer.attrs["input_dim"])
        dim = Sym("n_{out}", layer.attrs["output_dim"])
        return params_from_parts(ParamPart("E", vocab * dim))

    def equation(self, layer: LayerRecord) -> TensorEquation:
        v, d = layer.attrs["input_dim"], layer.attrs["output_dim"]
        positions = hidden_indices(layer.input_shape)
        if len(positions) == 1:
            positions = (Idx("t", positions[0].size),)
        j = Idx("j", d)
        note = rf", \quad x_t \in \{{0, \dots, {v - 1}\}}, \quad {index_range('j', d - 1)}"
        return TensorEquation((*positions, j), TokenRow(positions, j), note=note)
