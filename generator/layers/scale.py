"""Learned scales: ConvNeXt's `LayerScale`, one factor per channel (`a_c = \\gamma_c x_c`)."""

from __future__ import annotations

from generator.layers.formula import Sym
from generator.layers.registry import (
    LayerHandler,
    ParamMath,
    ParamPart,
    params_from_parts,
    register,
)
from generator.layers.tensor_equation import TensorEquation, hidden_indices
from generator.layers.tensor_expr import Idx, Prod, Read, at
from generator.model.graph import LayerRecord


def scale_weight(layer: LayerRecord) -> str:
    """The name of the layer's one weight (Keras names an unnamed `add_weight` `variable`)."""
    if len(layer.weights) != 1:
        raise ValueError(f"layer {layer.name!r} ({layer.type}) should hold exactly one weight")
    return layer.weights[0].name


@register("LayerScale")
class LayerScaleHandler(LayerHandler):
    summary = "layer scale: each channel multiplied by its own learned factor"
    frameworks = ("keras",)

    def params(self, layer: LayerRecord) -> ParamMath:
        return params_from_parts(ParamPart(r"\gamma", Sym("c", layer.input_shape[-1])))

    def equation(self, layer: LayerRecord) -> TensorEquation:
        shape = layer.input_shape
        lead = hidden_indices(shape[:-1])
        c = Idx("c", shape[-1])
        x = Read("x", ("input", 0), (*map(at, lead), at(c)))
        gamma = Read(r"\gamma", ("weight", scale_weight(layer)), (at(c),), batched=False)
        return TensorEquation((*lead, c), Prod((gamma, x)))
