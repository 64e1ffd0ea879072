"""Composite custom layers: a layer made of other layers, traced into a graph of their calls.

A custom layer (a `@register_keras_serializable` class, keras-hub's `TransformerEncoder`) whose
weights all belong to its sub-layers is described through them. Its `call` is run once on
symbolic inputs shaped as the call's: every sub-layer call and `keras.ops` call it makes becomes
a node, and the nodes a functional model, which the frontend describes like a nested model.
Where that is not possible (its `call` uses TensorFlow directly, branches on values, or the
layer owns weights of its own) `sublayers` says which sub-layers hold the weights, and the
reason is kept for the page.

A call that needs concrete lengths (keras-hub's decoders build their causal mask with
`ops.arange` of the sequence length) is traced at the length the probe gives an open axis, one
item, and then re-run on an open batch: the traced graph then holds the mask as a constant of
that length, and `length` says so on the page.
"""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from generator.model.keras_calls import call_tensors, open_shape

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
    #: The sequence length the call was traced at, where it needs one (`None`: left open).
    length: int | None = None


def is_custom(layer: Any) -> bool:
    """Whether a layer is not one of Keras's built-in layers (nor a model)."""
    if hasattr(layer, "_nodes_by_depth") or getattr(layer, "_functional", None) is not None:
        return False
    bases = type(layer).__mro__[1:]
    if any(c.__module__.startswith("keras.src.layers.") and c.__name__ != "Layer" for c in bases):
        return False  # a built-in layer's subclass (keras-hub's cached attention): as its base
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
    length = None
    with _lenient_specs(layer):
        try:
            model = _functional(layer, node, concrete=False)
        except Exception:  # noqa: BLE001 - a shape-dependent call: retry at concrete lengths
            try:
                model = _open_batch(_functional(layer, node, concrete=True))
                _same_on_two_items(layer, node, model)
                length = _traced_length(node)
            except Exception as exc:  # noqa: BLE001 - any failure: describe it by its sub-layers
                reason = "its call could not be traced into Keras operations"
                return Composite(None, parts, f"{reason} ({type(exc).__name__})")
    traced_weights = {id(w) for w in model.weights}
    if any(id(w) not in traced_weights for w in layer.weights):
        return Composite(None, parts, "its call does not use every sub-layer's weights")
    return Composite(model, parts, length=length)


def _functional(layer: Any, node: Any, concrete: bool) -> Any:
    """The layer's call on fresh symbolic inputs shaped as the node's, as a functional model;
    `concrete`: one item, open lengths given the probe's length."""
    import keras

    fresh: dict[int, Any] = {}

    def symbolic(value: Any) -> Any:
        if hasattr(value, "_keras_history"):
            if id(value) not in fresh:
                shape = (1, *open_shape(value.shape)) if concrete else tuple(value.shape)
                fresh[id(value)] = keras.Input(batch_shape=shape, dtype=value.dtype)
            return fresh[id(value)]
        return value

    args = keras.tree.map_structure(symbolic, list(node.arguments.args))
    kwargs = keras.tree.map_structure(symbolic, dict(node.arguments.kwargs))
    inputs = [fresh[id(t)] for t in call_tensors(node) if id(t) in fresh]
    outputs = layer.call(*args, **kwargs)
    flat = keras.tree.flatten(outputs)
    if not flat or not all(hasattr(t, "_keras_history") for t in flat):
        raise TypeError("its call does not return Keras tensors")
    return keras.Model(
        inputs if len(inputs) > 1 else inputs[0],
        flat if len(flat) > 1 else flat[0],
        name=layer.name,
    )


def _open_batch(model: Any) -> Any:
    """The same graph of the same layers on inputs whose batch is open."""
    import keras

    inputs = keras.tree.map_structure(
        lambda t: keras.Input(batch_shape=(None, *t.shape[1:]), dtype=t.dtype, name=t.name),
        model.input,
    )
    return keras.models.clone_model(model, input_tensors=inputs, clone_function=lambda x: x)


def _same_on_two_items(layer: Any, node: Any, model: Any) -> None:
    """Raise unless the graph traced on one item gives the layer's output on two: a call that
    reshapes to the batch size it read (Mistral's attention) keeps that size in the graph."""
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    arrays = {}
    for tensor in call_tensors(node):
        shape = (2, *open_shape(tensor.shape))
        if "float" in str(tensor.dtype):
            arrays[id(tensor)] = rng.normal(0, 1, shape).astype(tensor.dtype)
        else:  # ids and masks: ones are in range for any table and keep every position
            arrays[id(tensor)] = np.ones(shape, dtype=tensor.dtype)

    def concrete(value: Any) -> Any:
        return arrays.get(id(value), value) if hasattr(value, "_keras_history") else value

    args = keras.tree.map_structure(concrete, list(node.arguments.args))
    kwargs = keras.tree.map_structure(concrete, dict(node.arguments.kwargs))
    expected = keras.tree.flatten(layer(*args, **kwargs, training=False))
    feed = [arrays[id(t)] for t in call_tensors(node) if id(t) in arrays]
    got = keras.tree.flatten(model(feed[0] if len(feed) == 1 else feed, training=False))
    for a, b in zip(expected, got, strict=True):
        a, b = keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
        if a.shape != b.shape or not np.allclose(a, b, atol=1e-4):
            raise ValueError("the graph traced on one item differs on two")


def _traced_length(node: Any) -> int | None:
    """The length the probe gives the call's open axes (after the batch), if any is open."""
    for tensor in call_tensors(node):
        shape = tuple(tensor.shape)
        if any(d is None for d in shape[1:]):
            return open_shape(shape)[[d is None for d in shape[1:]].index(True)]
    return None


@contextlib.contextmanager
def _lenient_specs(layer: Any) -> Iterator[None]:
    """While tracing, sub-layers' `compute_output_spec` ignore keywords they do not take.

    keras-hub's cached attention passes `cache=None` to `MultiHeadAttention`'s call, whose
    output spec has no such parameter: eager calls accept it, symbolic ones would fail.
    """
    patched = []
    for sub in layer._flatten_layers(include_self=False):
        original = sub.compute_output_spec
        try:
            accepted = inspect.signature(original).parameters
        except (TypeError, ValueError):
            continue
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
            continue

        def spec(*args: Any, _original: Any = original, _accepted: Any = accepted, **kw: Any):
            return _original(*args, **{k: v for k, v in kw.items() if k in _accepted})

        object.__setattr__(sub, "compute_output_spec", spec)
        patched.append(sub)
    try:
        yield
    finally:
        for sub in patched:
            object.__delattr__(sub, "compute_output_spec")


def _size(shape: Any) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n
