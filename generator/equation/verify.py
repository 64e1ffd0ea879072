"""Checking the closed form against Keras: the sample, `predict`, and the error measure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from generator.equation.settings import MathSettings
from generator.layers.derive import Check
from generator.model.activations import ACTIVATIONS, ELEMENTWISE
from generator.model.graph import ModelGraph

PROBE_POINTS = np.linspace(-5.0, 5.0, 81)


def sample_inputs(
    model: Any, graph: ModelGraph, sample: Any, settings: MathSettings
) -> tuple[np.ndarray, np.ndarray]:
    """The sample as one (batch, n_inputs) array, and `model.predict` on it as (batch, n_out)."""
    if sample is None:
        rng = np.random.default_rng(settings.seed)
        parts = [rng.normal(size=(settings.sample_size, t.shape[-1])) for t in graph.inputs]
    else:
        parts = list(sample) if isinstance(sample, list | tuple) else [sample]
    parts = [np.asarray(p, dtype=np.float32).reshape(len(p), -1) for p in parts]
    feed = parts[0] if len(parts) == 1 else parts
    predicted = model.predict(feed, verbose=0)
    outs = predicted if isinstance(predicted, list | tuple) else [predicted]
    y = np.concatenate([np.asarray(o, dtype=np.float64).reshape(len(o), -1) for o in outs], axis=1)
    return np.concatenate(parts, axis=1).astype(np.float64), y


def predict_error(
    name: str, ours: np.ndarray, predicted: np.ndarray, settings: MathSettings
) -> tuple[float, Check]:
    """The largest difference, and a check passing when it is within the tolerance
    (relative for outputs above 1 in magnitude, absolute below)."""
    diff = np.abs(np.asarray(ours, dtype=np.float64) - predicted)
    scaled = diff / np.maximum(1.0, np.abs(predicted))
    largest = float(diff.max()) if diff.size else 0.0
    worst = float(scaled.max()) if scaled.size else 0.0
    finite = bool(np.all(np.isfinite(ours)))
    passed = finite and worst <= settings.tolerance
    detail = (
        f"largest difference {largest:.3g} on {len(predicted)} inputs "
        f"(relative {worst:.3g}, tolerance {settings.tolerance:g})"
    )
    return largest, Check(name, passed, detail)


def keras_prober(model: Any) -> Callable[[str], str | None]:
    """Names a layer's activation by evaluating it: for functions Keras serialized by a
    custom name (a registered tanh-approximate GELU, say). Returns `None` if none matches."""
    from generator.equation.numpy_source import numpy_activation

    def probe(layer_name: str) -> str | None:
        try:
            import keras

            fn = model.get_layer(layer_name).activation
            values = np.asarray(
                keras.ops.convert_to_numpy(
                    fn(keras.ops.convert_to_tensor(PROBE_POINTS.astype(np.float32)))
                ),
                dtype=np.float64,
            )
        except Exception:  # noqa: BLE001 - a layer we cannot probe simply has no closed form
            return None
        for name in sorted(ELEMENTWISE):
            ours = numpy_activation(name)(PROBE_POINTS, **ACTIVATIONS[name].params)
            if np.allclose(ours, values, atol=1e-5, rtol=1e-5):
                return name
        return None

    return probe
