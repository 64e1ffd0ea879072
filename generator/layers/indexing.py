"""Indexing written between layers (`x[:, 0, :]`, keras-hub's pooled first token): `ops.get_item`.

The frontend records the key in `attrs["operands"][1]`, one entry per axis from the batch on:
a whole slice prints as `'slice(None, None, None)'`, a position as its integer, a new axis as
`None`. A key that slices part of an axis, or picks along the batch, is printed, not evaluated.
"""

from __future__ import annotations

from generator.layers.recurrent_system import UncheckedEquation
from generator.layers.registry import LayerHandler, ShapeMath, register
from generator.layers.tensor_equation import TensorEquation, hidden_indices
from generator.layers.tensor_expr import Affine, Read, at
from generator.model.graph import LayerRecord

WHOLE = "slice(None, None, None)"
#: A key entry that inserts an axis of size 1 (`x[:, None]`).
NEW = "new"


def index_key(layer: LayerRecord) -> list[int | str | None]:
    """The key after the batch axis: a position, `None` for a whole axis, `NEW` for a new one.

    Raises:
        ValueError: a key other than whole axes, positions and new axes after the batch.
    """
    operands = layer.attrs.get("operands") or [None, None]
    key = operands[1] if len(operands) > 1 else None
    key = key if isinstance(key, list) else [key]
    valid = all(k == WHOLE or k is None or isinstance(k, int) for k in key)
    if not key or key[0] != WHOLE or not valid:
        raise ValueError(f"indexes with {key!r}: only whole axes and positions after the batch")
    entries = [NEW if k is None else None if k == WHOLE else int(k) for k in key[1:]]
    read = sum(1 for k in entries if k != NEW)
    return entries + [None] * (len(layer.input_shape) - 1 - read)


@register("ops.get_item")
class GetItemHandler(LayerHandler):
    summary = "indexing (`x[:, 0, :]`): one position of some axes, every entry of the others"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        try:
            key = index_key(layer)
        except ValueError as error:
            return ShapeMath(shape=layer.output_shape, note=f"Keras's, not derived: it {error}")
        sizes = iter(layer.input_shape[1:])
        kept = []
        for k in key:
            if k == NEW:
                kept.append(1)
                continue
            size = next(sizes)
            if k is None:
                kept.append(size)
        return ShapeMath(shape=(layer.input_shape[0], *kept), note="picked axes dropped")

    def equation(self, layer: LayerRecord) -> TensorEquation | UncheckedEquation:
        try:
            key = index_key(layer)
        except ValueError as error:
            return UncheckedEquation(rf"a = x[\dots] \quad (\text{{{error}; not evaluated}})")
        out = iter(hidden_indices(layer.output_shape))
        sizes = iter(layer.input_shape[1:])
        maps = []
        for k in key:
            index = next(out) if k is None or k == NEW else None
            if k == NEW:
                continue  # an output axis of size 1 that reads nothing
            size = next(sizes)
            maps.append(at(index) if k is None else Affine((), offset=k % size if size else k))
        return TensorEquation(
            hidden_indices(layer.output_shape), Read("x", ("input", 0), tuple(maps))
        )
