"""TensorFlow's own gradients, the reference the backward equations are checked against.

`layer_tape` differentiates one Keras layer on given inputs with `L = sum(a * upstream)`, so
that `dL/da` is `upstream`; `model_tape` differentiates a whole model's loss and returns the
gradient of every layer call's output, every input and every trainable weight. TensorFlow is
imported lazily.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def _trainable_index(layer: Any) -> list[tuple[int, Any]]:
    """(position in `layer.weights`, variable) of each trainable weight, as the frontend lists
    `WeightRecord`s in `layer.weights` order."""
    ids = {id(v) for v in layer.trainable_weights}
    return [(k, v) for k, v in enumerate(layer.weights) if id(v) in ids]


def layer_tape(
    layer: Any,
    inputs: Sequence[np.ndarray],
    upstream: np.ndarray,
    weight_names: Sequence[str],
    training: bool = False,
) -> dict[str, np.ndarray]:
    """TensorFlow's gradients of one layer call: `input` (or `input:m`) and each trainable
    weight by its `WeightRecord.name` (`weight_names` in `layer.weights` order)."""
    import tensorflow as tf

    xs = [tf.constant(np.asarray(x, dtype=np.float32)) for x in inputs]
    trainable = _trainable_index(layer)
    with tf.GradientTape() as tape:
        for x in xs:
            tape.watch(x)
        out = layer(xs if len(xs) > 1 else xs[0], training=training)
        loss = tf.reduce_sum(out * tf.constant(np.asarray(upstream, dtype=np.float32)))
    grads = tape.gradient(loss, [*xs, *(v for _, v in trainable)])
    result: dict[str, np.ndarray] = {}
    for m, grad in enumerate(grads[: len(xs)]):
        key = "input" if len(xs) == 1 else f"input:{m}"
        result[key] = _numpy(grad, xs[m].shape)
    for (k, v), grad in zip(trainable, grads[len(xs) :], strict=True):
        result[weight_names[k]] = _numpy(grad, v.shape)
    return result


def _numpy(grad: Any, shape: Any) -> np.ndarray:
    if grad is None:  # nothing depends on it
        return np.zeros(tuple(shape))
    return np.asarray(grad, dtype=np.float64)


@dataclass(frozen=True)
class TapeGradients:
    """A whole model's gradients from TensorFlow: the loss's value, the gradient of every
    layer call's output (by call name), of every model input (by input name) and of every
    trainable weight (by `(call name, WeightRecord.name)`)."""

    loss: float
    outputs: dict[str, np.ndarray]
    inputs: dict[str, np.ndarray]
    weights: dict[tuple[str, str], np.ndarray]


def model_tape(
    model: Any,
    sample: Sequence[np.ndarray],
    target: np.ndarray,
    loss: Callable[[Any, Any], Any],
    calls: Sequence[tuple[str, Sequence[str]]],
) -> TapeGradients:
    """Differentiate `loss(target, model(sample))` with `tf.GradientTape`.

    Args:
        model: a Keras model.
        sample: one array per model input.
        target: what the loss compares the model's output with.
        loss: a Keras loss, `loss(y_true, y_pred) -> scalar`.
        calls: each layer call to report as `(call name, weight names in layer.weights order)`.
    """
    import keras
    import tensorflow as tf

    from generator.model.probe import recorded_calls

    graph_model = getattr(model, "_functional", None) or model
    layers = {layer.name: layer for layer in graph_model.layers}
    # The tensors of each layer's call in this graph: a loaded Sequential's layers were called
    # more than once, and `layer.output` may name a call off the path to the loss.
    nodes = {node.operation.name: node for node in recorded_calls(graph_model)}
    names = [name for name, _ in calls if name in nodes]
    final = graph_model.outputs[0]._keras_history.operation.name
    if final not in names:
        names.append(final)
    probe = keras.Model(graph_model.inputs, [nodes[name].outputs[0] for name in names])
    xs = [tf.constant(np.asarray(x, dtype=np.float32)) for x in sample]
    variables = []
    for name, weight_names in calls:
        if name in layers:
            for k, v in _trainable_index(layers[name]):
                variables.append(((name, weight_names[k]), v))
    with tf.GradientTape() as tape:
        for x in xs:
            tape.watch(x)
        values = probe(xs, training=False)
        values = values if isinstance(values, list | tuple) else [values]
        # tf.identity drops the logits Keras keeps on a softmax output, so that the loss reads
        # the probabilities and every call's output lies on the path TensorFlow differentiates.
        prediction = tf.identity(values[names.index(final)])
        value = loss(tf.constant(np.asarray(target, dtype=np.float32)), prediction)
    grads = tape.gradient(value, [*values, *xs, *(v for _, v in variables)])
    inputs = [t._keras_history.operation.name for t in graph_model.inputs]
    return TapeGradients(
        loss=float(value),
        # A loss that reads a softmax's logits (Keras's cross-entropy does) leaves the softmax's
        # output off TensorFlow's path: its gradient is None, and is left out here.
        outputs={
            n: _numpy(g, v.shape)
            for n, g, v in zip(names, grads, values, strict=False)
            if g is not None
        },
        inputs={
            n: _numpy(g, x.shape)
            for n, g, x in zip(inputs, grads[len(names) : len(names) + len(xs)], xs, strict=True)
        },
        weights={
            key: _numpy(g, v.shape)
            for (key, v), g in zip(variables, grads[len(names) + len(xs) :], strict=True)
        },
    )
