"""Regularization layers: noise or penalties during training, the identity at inference; and
the Identity layer, the identity always."""

from __future__ import annotations

from string import Template

from generator.layers.activation import number
from generator.layers.registry import LayerHandler, register
from generator.layers.tensor_equation import TensorEquation, hidden_indices, read_all
from generator.model.graph import LayerRecord

_TRAINING = {
    "Dropout": r"\text{training: each entry zeroed with probability } $rate,"
    r" \text{ the rest scaled by } \tfrac{1}{1 - $rate}",
    "SpatialDropout1D": r"\text{training: whole channels zeroed with probability } $rate",
    "SpatialDropout2D": r"\text{training: whole channels zeroed with probability } $rate",
    "SpatialDropout3D": r"\text{training: whole channels zeroed with probability } $rate",
    "GaussianNoise": r"\text{training: } x + \varepsilon,\ \varepsilon \sim \mathcal{N}(0, "
    r"$stddev^2)",
    "GaussianDropout": r"\text{training: } x \odot \varepsilon,\ \varepsilon \sim "
    r"\mathcal{N}(1, \tfrac{$rate}{1 - $rate})",
    "AlphaDropout": r"\text{training: entries set to the SELU saturation value with "
    r"probability } $rate, \text{ then an affine correction}",
    "ActivityRegularization": r"\text{training adds } $penalty \text{ to the loss}",
}


@register(*_TRAINING)
class RegularizationHandler(LayerHandler):
    summary = "regularization: noise or a penalty while training, the identity at inference"

    def equation(self, layer: LayerRecord) -> TensorEquation:
        values = {
            key: number(layer.attrs.get(key) or 0.0) for key in ("rate", "stddev", "l1", "l2")
        }
        terms = [rf"{values['l1']} \sum |x|", rf"{values['l2']} \sum x^2"]
        values["penalty"] = (
            " + ".join(t for t, key in zip(terms, ("l1", "l2"), strict=True) if values[key] != "0")
            or "0"
        )
        training = Template(_TRAINING[layer.type]).substitute(values)
        indices = hidden_indices(layer.input_shape)
        note = rf" \quad (\text{{at inference}};\ {training})"
        return TensorEquation(indices, read_all("x", 0, indices), note=note)


@register("Identity")
class IdentityHandler(LayerHandler):
    summary = "identity: the output is the input"

    def equation(self, layer: LayerRecord) -> TensorEquation:
        indices = hidden_indices(layer.input_shape)
        return TensorEquation(indices, read_all("x", 0, indices))
