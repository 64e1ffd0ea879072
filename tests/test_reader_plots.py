"""The dark rendering of a lesson's chart: a matplotlib figure saved as PNG, as the kernel shows
it, redrawn dark with its lines' hues kept; a figure holding a picture is left alone."""

from __future__ import annotations

import colorsys
import io

import numpy as np
import pytest

from generator.render.plots import dark_rendering

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


def _png(draw) -> bytes:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3), dpi=72)
    draw(ax)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float) / 255


def test_a_chart_turns_dark_and_keeps_its_line_colour():
    x = np.linspace(0, 1, 50)
    light = _png(lambda ax: ax.plot(x, x, lw=8, color="tab:blue"))
    dark = dark_rendering(light)
    assert dark is not None
    before, after = _pixels(light), _pixels(dark)
    assert before.shape == after.shape
    # The paper (a corner) was white and is now the page's dark background.
    assert before[2, 2].min() > 0.95 and after[2, 2].max() < 0.2
    # The line's pixels: blue before, still blue after (hue within 10 degrees), lighter.
    blue = (before[..., 2] - before[..., 0]) > 0.4
    assert blue.sum() > 100
    hue = lambda rgb: colorsys.rgb_to_hls(*rgb)[0] * 360  # noqa: E731
    for rgb_before, rgb_after in zip(before[blue][:50], after[blue][:50], strict=True):
        assert abs(hue(rgb_before) - hue(rgb_after)) < 10
    # Text and axes were black: now light.
    assert after.max(axis=2).max() > 0.8 and (before.max(axis=2) < 0.1).sum() > 50


def test_a_figure_holding_a_picture_is_left_as_it_is():
    noise = np.random.default_rng(0).random((64, 64, 3))
    assert dark_rendering(_png(lambda ax: ax.imshow(noise))) is None


def test_bytes_that_are_no_png_are_left_as_they_are():
    assert dark_rendering(b"\x89PNG not really") is None
