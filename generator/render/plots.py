"""Figures for the lessons: a network beside its Taylor polynomial, and expression growth."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from generator.equation.growth import GrowthRow
from generator.equation.taylor import TaylorApprox


def plot_approximation(
    approx: TaylorApprox, model: Any = None, points: int = 400, margin: float = 0.5
):
    """Network (`model.predict`, when given), closed form and Taylor polynomial on one axis.

    The interval of the error is shaded; the plot extends `margin` beyond it on either side.
    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    low, high = approx.interval
    x = np.linspace(low - margin, high + margin, points)
    fig, ax = plt.subplots(figsize=(7, 4))
    if model is not None:
        predicted = np.asarray(model.predict(x.reshape(-1, 1).astype(np.float32), verbose=0))
        ax.plot(x, predicted.reshape(len(x), -1)[:, 0], lw=6, alpha=0.3, label="network (predict)")
    ax.plot(x, approx.network(x), lw=2, label="closed form")
    ax.plot(
        x,
        approx(x),
        "--",
        lw=2,
        label=f"Taylor polynomial, order {approx.order} at {approx.point:g}",
    )
    ax.axvspan(
        low,
        high,
        color="0.9",
        zorder=0,
        label=f"max error {approx.max_error:.2g} on [{low:g}, {high:g}]",
    )
    span = approx.network(x)
    pad = 0.25 * (span.max() - span.min() + 1e-9)
    ax.set_ylim(span.min() - pad, span.max() + pad)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    return fig


def plot_growth(rows: Sequence[GrowthRow], by: str = "params"):
    """Operations of the written-out expression against `params` or `depth`, log scale."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    xs = [getattr(row, by) for row in rows]
    ax.semilogy(xs, [row.ops for row in rows], "o-")
    for x, row in zip(xs, rows, strict=True):
        ax.annotate(
            "-".join(map(str, row.architecture)),
            (x, row.ops),
            fontsize="x-small",
            xytext=(4, -10),
            textcoords="offset points",
        )
    ax.set_xlabel({"params": "parameters", "depth": "weight layers"}.get(by, by))
    ax.set_ylabel("operations written out")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig
