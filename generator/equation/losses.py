"""The losses a gradient starts from: one table row each, as Keras computes them.

Each row gives the loss in LaTeX, its value and its gradient `dL/da` with respect to the
model's output `a` (NumPy), the Keras class that computes it (the check's reference) and the kind
of target it compares with. Keras averages over the batch (`sum_over_batch_size`); its
cross-entropies first divide `a` by its sum, so `dL/da_k` carries a `1/s` term that vanishes
through a softmax (`a^\\top` times it is constant), leaving `\\delta = (a - y)/B`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from generator.exceptions import CourseError

EPSILON = 1e-7  # Keras's backend epsilon: probabilities are clipped to [eps, 1 - eps]


def _positions(a: np.ndarray) -> int:
    """How many vectors the loss averages over: the batch and any leading axes."""
    return int(a.size // a.shape[-1])


def _mse(a, y):
    return float(np.mean((a - y) ** 2))


def _mse_grad(a, y):
    return 2.0 * (a - y) / a.size


def _cce(a, y):
    p = np.clip(a / a.sum(axis=-1, keepdims=True), EPSILON, 1 - EPSILON)
    return float(-(y * np.log(p)).sum(axis=-1).mean())


def _cce_grad(a, y):
    s = a.sum(axis=-1, keepdims=True)
    return (y.sum(axis=-1, keepdims=True) / s - y / a) / _positions(a)


def _bce(a, y):
    p = np.clip(a, EPSILON, 1 - EPSILON)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def _bce_grad(a, y):
    return (-(y / a) + (1 - y) / (1 - a)) / a.size


@dataclass(frozen=True)
class Loss:
    """One loss function.

    Attributes:
        name: Keras's name (`mean_squared_error`).
        latex: its definition, with `B` the number of output entries (or vectors) averaged.
        gradient_latex: `dL/da` in LaTeX.
        value: `(a, y) -> L`.
        gradient: `(a, y) -> dL/da`, shaped as `a`.
        keras: the `keras.losses` class computing it.
        target: `dense` (any numbers) or `one-hot` or `binary` (what a seeded target draws).
    """

    name: str
    latex: str
    gradient_latex: str
    value: Callable[[np.ndarray, np.ndarray], float]
    gradient: Callable[[np.ndarray, np.ndarray], np.ndarray]
    keras: str
    target: str


LOSSES: dict[str, Loss] = {
    row.name: row
    for row in [
        Loss(
            "mean_squared_error",
            r"\mathcal L = \frac{1}{B} \sum_{k} (a_k - y_k)^2",
            r"\frac{\partial \mathcal L}{\partial a_k} = \frac{2}{B} (a_k - y_k)",
            _mse,
            _mse_grad,
            "MeanSquaredError",
            "dense",
        ),
        Loss(
            "categorical_crossentropy",
            r"\mathcal L = -\frac{1}{B} \sum_{n} \sum_{k} y_{n,k} \ln \frac{a_{n,k}}{s_n}, \quad "
            r"s_n = \sum_k a_{n,k}",
            r"\frac{\partial \mathcal L}{\partial a_{n,k}} = \frac{1}{B}\left(\frac{1}{s_n} - "
            r"\frac{y_{n,k}}{a_{n,k}}\right)",
            _cce,
            _cce_grad,
            "CategoricalCrossentropy",
            "one-hot",
        ),
        Loss(
            "binary_crossentropy",
            r"\mathcal L = -\frac{1}{B} \sum_{k} \left(y_k \ln a_k "
            r"+ (1 - y_k) \ln (1 - a_k)\right)",
            r"\frac{\partial \mathcal L}{\partial a_k} = "
            r"\frac{1}{B}\left(\frac{1 - y_k}{1 - a_k} - \frac{y_k}{a_k}\right)",
            _bce,
            _bce_grad,
            "BinaryCrossentropy",
            "binary",
        ),
    ]
}

#: Keras's other names for the same losses.
ALIASES = {
    "mse": "mean_squared_error",
    "MeanSquaredError": "mean_squared_error",
    "cce": "categorical_crossentropy",
    "CategoricalCrossentropy": "categorical_crossentropy",
    "crossentropy": "categorical_crossentropy",
    "cross-entropy": "categorical_crossentropy",
    "bce": "binary_crossentropy",
    "BinaryCrossentropy": "binary_crossentropy",
}


def loss_named(name: str) -> Loss:
    """The table's row for a Keras loss name or alias.

    Raises:
        CourseError: for a loss with no row, listing the ones there are.
    """
    key = ALIASES.get(name, name)
    if key not in LOSSES:
        known = ", ".join(sorted([*LOSSES, *ALIASES]))
        raise CourseError(f"no gradient is known for the loss {name!r}; known: {known}")
    return LOSSES[key]


def seeded_target(loss: Loss, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A target of the loss's kind: one-hot rows, zeros and ones, or uniform in [-1, 1]."""
    rng = np.random.default_rng(seed + 7)
    if loss.target == "one-hot":
        classes = rng.integers(0, shape[-1], size=shape[:-1])
        return np.eye(shape[-1])[classes]
    if loss.target == "binary":
        return rng.integers(0, 2, size=shape).astype(np.float64)
    return rng.uniform(-1.0, 1.0, size=shape)
