"""Indexing written between layers (`x[:, 0, :]`, keras-hub's pooled first token): `ops.get_item`.

The frontend records the key in `attrs["operands"][1]`, one entry per axis from the batch on:
a whole slice prints as `'slice(None, None, None)'`, a position as its integer. A key that
slices part of an axis, or picks along the batch, is not covered.
"""

from __future__ import annotations

from generator.layers.registry import LayerHandler, ShapeMath, register
from generator.layers.tensor_equation import TensorEquation, hidden_indices
from generator.layers.tensor_expr import Affine, Read, at
from generator.model.graph import LayerRecord

WHOLE = "slice(None, None, None)"


def index_key(layer: LayerRecord) -> list[int | None]:
    """The key after the batch axis: an integer position, or `None` for a whole axis.

    Raises:
        ValueError: a key other than whole axes and positions, or one that picks the batch.
    """
    operands = layer.attrs.get("operands") or [None, None]
    key = operands[1] if len(operands) > 1 else None
    key = key if isinstance(key, list) else [key]
    if not key or key[0] != WHOLE or any(k != WHOLE and not isinstance(k, int) for k in key):
        raise ValueError(f"indexes with {key!r}: only whole axes and positions after the batch")
    rank = len(layer.input_shape)
    picked = [None if k == WHOLE else int(k) for k in key[1:]]
    return picked + [None] * (rank - 1 - len(picked))


@register("ops.get_item")
class GetItemHandler(LayerHandler):
    summary = "indexing (`x[:, 0, :]`): one position of some axes, every entry of the others"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        key = index_key(layer)
        kept = [d for d, k in zip(layer.input_shape[1:], key, strict=True) if k is None]
        return ShapeMath(shape=(layer.input_shape[0], *kept), note="the picked axes dropped")

    def equation(self, layer: LayerRecord) -> TensorEquation:
        key = index_key(layer)
        out = hidden_indices(layer.output_shape)
        free = iter(out)
        maps = []
        for size, k in zip(layer.input_shape[1:], key, strict=True):
            if k is None:
                maps.append(at(next(free)))
            else:
                maps.append(Affine((), offset=k % size if size else k))
        return TensorEquation(out, Read("x", ("input", 0), tuple(maps)))
