"""Checking the closed form against the model's framework: the sample, `predict`, the error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from generator.equation.settings import MathSettings
from generator.layers.derive import Check
from generator.model.graph import ModelGraph


def sample_inputs(
    predict: Callable[[list[np.ndarray]], list[np.ndarray]],
    graph: ModelGraph,
    sample: Any,
    settings: MathSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """The sample as one (batch, n_inputs) array, and the framework's outputs on it as
    (batch, n_out)."""
    if sample is None:
        rng = np.random.default_rng(settings.seed)
        parts = [rng.normal(size=(settings.sample_size, t.shape[-1])) for t in graph.inputs]
    else:
        parts = list(sample) if isinstance(sample, list | tuple) else [sample]
    parts = [np.asarray(p, dtype=np.float32).reshape(len(p), -1) for p in parts]
    outs = predict(parts)
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
