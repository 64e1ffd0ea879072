"""Composite custom layers: a layer made of other layers, traced into a graph of their calls.

A custom layer (a `@register_keras_serializable` class, keras-hub's `TransformerEncoder`) whose
weights all belong to its sub-layers is described through them. Its `call` is run once on
symbolic inputs shaped as the call's: every sub-layer call and `keras.ops` call it makes becomes
a node, and the nodes a functional model, which the frontend describes like a nested model.
Where that is not possible (its `call` uses TensorFlow directly, branches on values, or the
layer owns weights of its own) `sublayers` says which sub-layers hold the weights, and the
reason is kept for the page.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from generator.model.keras_calls import call_tensors

#: The traced model of each layer, so that the checks probe the very graph the page describes.
_TRACED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

#: Modules whose layers are Keras's own: their handlers read configs, never traces.
_BUILT_IN = ("keras.src.layers.", "keras.src.models.", "keras.layers", "keras.src.ops.")


@dataclass(frozen=True)
class Sublayer:
    """A sub-layer that holds weights of a composite layer: its path below the layer, class,
    and its count (all and trainable)."""

    name: str
    type: str
    params: int
    trainable: int


@dataclass(frozen=True)
class Composite:
    """What tracing found: the traced model (`None` where tracing failed, with `reason`)."""

    model: Any
    sublayers: tuple[Sublayer, ...]
    reason: str = ""


def is_custom(layer: Any) -> bool:
    """Whether a layer is not one of Keras's built-in layers (nor a model)."""
    if hasattr(layer, "_nodes_by_depth") or getattr(layer, "_functional", None) is not None:
        return False
    return not type(layer).__module__.startswith(_BUILT_IN)


def own_weights(layer: Any) -> list[Any]:
    """The weights a layer made itself (`add_weight`), not those of its sub-layers."""
    return [*layer._trainable_variables, *layer._non_trainable_variables]


def sublayers(layer: Any) -> tuple[Sublayer, ...]:
    """The direct sub-layers that hold weights, in the order the layer tracks them."""
    found = []
    for sub in layer._layers:
        count = int(sub.count_params()) if sub.weights else 0
        if count:
            trainable = sum(int(_size(w.shape)) for w in sub.trainable_weights)
            found.append(Sublayer(sub.name, type(sub).__name__, count, trainable))
    return tuple(found)


def traced(layer: Any) -> Any | None:
    """The model a layer was traced into before (by `trace`), or `None`."""
    found = _TRACED.get(layer)
    return found.model if found is not None else None


def trace(layer: Any, node: Any) -> Composite | None:
    """Trace a composite custom layer's call `node`; `None` for a layer that is no composite
    (a built-in layer, or one with weights of its own and no sub-layers)."""
    if not is_custom(layer) or not hasattr(layer, "_layers"):
        return None
    if layer in _TRACED:
        return _TRACED[layer]
    parts = sublayers(layer)
    if own_weights(layer):
        if not parts:
            return None  # a layer with weights of its own: its handler describes it
        found = Composite(None, parts, "it holds weights of its own besides its sub-layers'")
    else:
        found = _traced_call(layer, node, parts)
    _TRACED[layer] = found
    return found


def _traced_call(layer: Any, node: Any, parts: tuple[Sublayer, ...]) -> Composite:
    import keras

    fresh: dict[int, Any] = {}

    def symbolic(value: Any) -> Any:
        if hasattr(value, "_keras_history"):
            if id(value) not in fresh:
                fresh[id(value)] = keras.Input(batch_shape=tuple(value.shape), dtype=value.dtype)
            return fresh[id(value)]
        return value

    args = keras.tree.map_structure(symbolic, list(node.arguments.args))
    kwargs = keras.tree.map_structure(symbolic, dict(node.arguments.kwargs))
    inputs = [fresh[id(t)] for t in call_tensors(node) if id(t) in fresh]
    try:
        outputs = layer.call(*args, **kwargs)
        flat = keras.tree.flatten(outputs)
        if not flat or not all(hasattr(t, "_keras_history") for t in flat):
            raise TypeError("its call does not return Keras tensors")
        model = keras.Model(inputs, flat if len(flat) > 1 else flat[0], name=layer.name)
    except Exception as exc:  # noqa: BLE001 - any failure means: describe it by its sub-layers
        reason = f"its call could not be traced into Keras operations ({type(exc).__name__})"
        return Composite(None, parts, reason)
    traced_weights = {id(w) for w in model.weights}
    if any(id(w) not in traced_weights for w in layer.weights):
        return Composite(None, parts, "its call does not use every sub-layer's weights")
    return Composite(model, parts)


def _size(shape: Any) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n
