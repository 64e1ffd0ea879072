"""Composite custom layers: described through their sub-layers.

The Keras frontend traces a custom layer made of layers into a nested graph of their calls
(`generator.model.keras_trace`); such a record has `children`, and is derived, checked and
translated like a nested model. Where the trace failed, the record lists the sub-layers that
hold its weights (`attrs["sublayers"]`) and why (`attrs["untraced"]`): its count is split by
sub-layer, and the page says what is not derived.
"""

from __future__ import annotations

from generator.layers.formula import Num
from generator.layers.nested import text_name
from generator.layers.registry import LayerHandler, ParamMath, ParamPart, handler_for
from generator.model.graph import LayerRecord


def composite_handler(record: LayerRecord) -> LayerHandler | None:
    """The nested model's handler for a traced custom layer (no handler of its own)."""
    if record.children is not None:
        return handler_for("Functional")
    return None


def traced_note(record: LayerRecord) -> str:
    """What the page says of a call traced at a concrete length (empty otherwise)."""
    length = record.attrs.get("traced_length")
    if length is None:
        return ""
    return (
        f"Traced at sequence length {length}: its call builds a mask from the length (a causal "
        f"mask), so the graph of its calls, and what is checked on it, holds for {length} "
        "positions; its weights and count do not depend on the length."
    )


def is_untraced_composite(record: LayerRecord) -> bool:
    """A custom layer whose weights belong to sub-layers, but whose call was not traced."""
    return bool(record.attrs.get("sublayers"))


def sublayer_params(record: LayerRecord) -> ParamMath:
    """Keras's count, split by the sub-layers that hold the weights (no formula: nothing is
    derived from the layer's settings)."""
    parts = []
    for sub in record.attrs["sublayers"]:
        parts.append(ParamPart(sub.name, Num(sub.trainable), trainable=True))
        if sub.params > sub.trainable:
            parts.append(ParamPart(sub.name, Num(sub.params - sub.trainable), trainable=False))
    return ParamMath(formula=None, parts=tuple(parts), count=record.framework_params)


def untraced_note(record: LayerRecord) -> str:
    """What the page says of an untraced composite: which sub-layers, and what is not derived."""
    subs = ", ".join(f"{s.name} ({s.type}, {s.params:,})" for s in record.attrs["sublayers"])
    return (
        f"Not traced: {record.attrs.get('untraced', 'its call was not traced')}. Its count is "
        f"Keras's, split by the sub-layers that hold its weights: {subs}. Its output shape and "
        "its equation are not derived; the composed equation keeps it as a named function."
    )


def untraced_latex(record: LayerRecord) -> str:
    """The named function that stands for the layer in the composed equation."""
    return rf"a = \mathrm{{{text_name(record.name)}}}(x) \quad (\text{{not traced}})"
