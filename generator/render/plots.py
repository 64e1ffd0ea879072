"""Figures for the lessons: a network beside its Taylor polynomial, expression growth, and the
dark rendering of a chart for the site's dark scheme."""

from __future__ import annotations

import io
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


# The dark scheme's page background (mkdocs-material's slate, `--md-default-bg-color`).
DARK_BACKGROUND = (30, 33, 41)
# A chart, as opposed to a figure holding pictures (a photo, feature maps): mostly white paper
# and few distinct colours (lines, text and their antialiasing). A picture is left as it is:
# turning its light into dark would show the learner a different image.
CHART_WHITE = 0.4
CHART_COLOURS = 4096


def dark_rendering(png: bytes) -> bytes | None:
    """A chart's PNG (matplotlib's white figure) redrawn for a dark page, or `None` for a figure
    that is not a chart (see `CHART_WHITE`) or not a readable PNG.

    Lightness is inverted and hue and saturation kept: white paper becomes the page's dark
    background, black text and axes become light, a blue line stays blue (a lighter blue). In
    HSL terms `c -> c + 255 - max(c) - min(c)` per pixel, the inversion `255 - c` followed by a
    half turn of hue.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(png))
        image.load()
    except (UnidentifiedImageError, OSError):
        return None  # not a PNG Pillow can read: shown as it is, in both schemes
    alpha = image.getchannel("A") if "A" in image.getbands() else None
    rgb = np.asarray(image.convert("RGB"), dtype=np.int32)
    white = float((rgb.min(axis=2) >= 245).mean())
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    if white < CHART_WHITE or len(np.unique(packed)) > CHART_COLOURS:
        return None
    inverted = rgb + 255 - rgb.max(axis=2, keepdims=True) - rgb.min(axis=2, keepdims=True)
    background = np.asarray(DARK_BACKGROUND, dtype=np.int32)
    dark = background + inverted * (255 - background) // 255
    out = Image.fromarray(dark.clip(0, 255).astype(np.uint8), "RGB")
    if alpha is not None:
        out.putalpha(alpha)
    buffer = io.BytesIO()
    out.save(buffer, format="PNG")
    return buffer.getvalue()
