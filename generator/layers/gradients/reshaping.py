"""Backward of layers that only move numbers: each gradient goes back where its number came from.

Flatten and Reshape send `\\partial L/\\partial a` back through the same index map; Dropout and
the other layers that are the identity at inference pass it on unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.layers.gradients.registry import INPUT, partial, register_backward
from generator.layers.reshaping import FlattenHandler
from generator.model.graph import LayerRecord


@dataclass(frozen=True)
class MovedBack:
    """`\\partial L/\\partial x` is `\\partial L/\\partial a` read in the forward's order: the
    same numbers, in the input's shape (`source_order`: the axes Flatten reads first)."""

    text: str
    source_order: tuple[int, ...] | None = None

    def latex(self) -> str:
        return self.text

    def evaluate(self, inputs, weights, upstream) -> dict[str, np.ndarray]:
        x = np.asarray(inputs[0])
        g = np.asarray(upstream, dtype=np.float64)
        if self.source_order is None:
            return {INPUT: g.reshape(x.shape)}
        moved = tuple(x.shape[1:][a] for a in self.source_order)
        back = np.argsort(self.source_order)
        return {INPUT: np.transpose(g.reshape(x.shape[0], *moved), (0, *(a + 1 for a in back)))}


@register_backward("Flatten")
def flatten_backward(layer: LayerRecord):
    forward = FlattenHandler().equation(layer)
    head, _, where = forward.text.partition(r", \quad ")
    a, _, x = head.partition(" = ")
    text = rf"{partial(x)} = {partial(a)}"
    if where:
        text += rf", \quad {where}"
    return MovedBack(
        text + r" \quad (\text{each gradient goes back to its entry})", forward.source_order
    )


@register_backward("Reshape")
def reshape_backward(layer: LayerRecord):
    dims = r" \times ".join(str(d) for d in layer.input_shape[1:])
    text = (
        rf"{partial('x')} = \mathrm{{reshape}}_{{{dims}}}\!\left({partial('a')}\right)"
        r" \quad (\text{the same order, the input's shape})"
    )
    return MovedBack(text)


@register_backward(
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
)
def identity_backward(layer: LayerRecord):
    return MovedBack(rf"{partial('x')} = {partial('a')} \quad (\text{{the identity at inference}})")
