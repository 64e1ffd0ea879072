"""Worked examples drawn: one output of a convolution or a pooling, with the numbers that make it.

The figures take plain arrays (the input window, the kernel slice, the bias, the output value),
so any source of numbers can feed them; `convolution_example` and `pooling_example` compute those
numbers from a layer's input and weights with NumPy. Colours match the worked-example formula:
`COLOURS` (and `tex_colour`) give the input window, kernel, bias and output one colour each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from generator.render.diagrams.svg import (
    FG_LIGHT,
    Figure,
    arrow,
    group,
    rect,
    text,
)

#: One colour per role, the same in the figure and (through `tex_colour`) in the formula.
COLOURS = {"input": "#e37400", "kernel": "#4285f4", "bias": "#a142f4", "output": "#34a853"}
CELL = 46
GAP = 48
MARGIN = 14
#: Input cells of context drawn around the window on each side.
CONTEXT = 1
#: Width of one character of a bold 11.5 px label, generously (for spacing, not measuring).
LABEL_EM = 7.2


def tex_colour(role: str, tex: str) -> str:
    """`tex` in the colour of `role` (`"input"`, `"kernel"`, `"bias"`, `"output"`) for MathJax.

    The outer braces keep the colour to `tex` whether `\\color` is LaTeX's switch (MathJax's
    `color` package) or MathJax's older two-argument form.
    """
    return rf"{{\color{{{COLOURS[role]}}}{{{tex}}}}}"


@dataclass(frozen=True)
class Grid:
    """Part of one channel of a tensor: `values[r, c]` is the element at `(top + r, left + c)`."""

    values: np.ndarray
    top: int = 0
    left: int = 0


def _window_start(index: int, stride: int, pad: int) -> int:
    return index * stride - pad


def _context(
    x: np.ndarray, channel: int, top: int, left: int, kh: int, kw: int, pad: float = 0.0
) -> Grid:
    """The window with `CONTEXT` cells around it, inside the input (padding drawn as `pad`:
    zeros for a convolution, `nan`, drawn as "pad", for a pooling that leaves it out)."""
    rows, cols = x.shape[0], x.shape[1]
    r0, c0 = max(top - CONTEXT, min(top, 0)), max(left - CONTEXT, min(left, 0))
    r1 = min(top + kh + CONTEXT, max(rows, top + kh))
    c1 = min(left + kw + CONTEXT, max(cols, left + kw))
    values = np.full((r1 - r0, c1 - c0), pad, dtype=float)
    for r in range(r0, r1):
        for c in range(c0, c1):
            if 0 <= r < rows and 0 <= c < cols:
                values[r - r0, c - c0] = x[r, c, channel]
    return Grid(values, r0, c0)


def convolution_example(
    x: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | None,
    index: tuple[int, int, int],
    strides: tuple[int, int] = (1, 1),
    pads: tuple[int, int] = (0, 0),
    channel: int | None = None,
    activation: Callable[[float], float] | None = None,
) -> dict:
    """The numbers of one output `a[i, j, k]` of a `Conv2D`, ready for `convolution_figure`.

    Args:
        x: the layer's input for one sample, `(rows, columns, channels)`.
        kernel: Keras's kernel `W[u, v, c, k]`; bias: `b[k]` or `None`.
        index: the output element `(i, j, k)`.
        pads: the zeros before the input along rows and columns (the layer's `pads`).
        channel: the input channel to draw; the one adding most to the sum when omitted.
        activation: the layer's activation as a function of `z` (none: `a = z`).

    Returns:
        Keyword arguments of `convolution_figure`, with `pre_activation` the sum plus the bias.
    """
    i, j, k = index
    kh, kw, channels, _ = kernel.shape
    top, left = _window_start(i, strides[0], pads[0]), _window_start(j, strides[1], pads[1])
    padded = np.pad(x, ((pads[0], kh), (pads[1], kw), (0, 0)))
    patch = padded[top + pads[0] : top + pads[0] + kh, left + pads[1] : left + pads[1] + kw, :]
    products = patch * kernel[:, :, :, k]
    per_channel = products.sum(axis=(0, 1))
    if channel is None:
        channel = int(np.argmax(np.abs(per_channel)))
    b = 0.0 if bias is None else float(bias[k])
    z = float(per_channel.sum()) + b
    return {
        "grid": _context(x, channel, top, left, kh, kw),
        "window": (top, left),
        "kernel": kernel[:, :, channel, k],
        "channel": channel,
        "channels": channels,
        "channel_sum": float(per_channel[channel]),
        "bias": b,
        "pre_activation": z,
        "value": z if activation is None else float(activation(z)),
        "index": (i, j, k),
        "inside": (x.shape[0], x.shape[1]),
    }


def pooling_example(
    x: np.ndarray,
    pool_size: tuple[int, int],
    index: tuple[int, int, int],
    strides: tuple[int, int] | None = None,
    kind: str = "max",
    pads: tuple[int, int] = (0, 0),
) -> dict:
    """The numbers of one output `a[i, j, k]` of a `MaxPooling2D` (or average).

    With padding (`pads` zeros before the input along rows and columns) the window may reach
    past the input; what lies outside is left out (of the max, and of the mean's count, as Keras
    does).

    Returns:
        Keyword arguments of `pooling_figure`: the value, and for max pooling the winner's
        position in the input.
    """
    i, j, k = index
    ph, pw = pool_size
    sh, sw = strides or pool_size
    top, left = i * sh - pads[0], j * sw - pads[1]
    r0, c0 = max(top, 0), max(left, 0)
    window = x[r0 : top + ph, c0 : left + pw, k]
    if kind == "max":
        r, c = np.unravel_index(int(np.argmax(window)), window.shape)
        value, winner = float(window[r, c]), (r0 + int(r), c0 + int(c))
    else:
        value, winner = float(window.mean()), None
    return {
        "grid": _context(x, k, top, left, ph, pw, pad=np.nan),
        "window": (top, left),
        "size": (ph, pw),
        "value": value,
        "winner": winner,
        "kind": kind,
        "index": (i, j, k),
        "inside": (x.shape[0], x.shape[1]),
    }


def _reaches_padding(
    window: tuple[int, int], size: tuple[int, int], inside: tuple[int, int] | None
) -> bool:
    """Whether a window at `window` (top, left) of `size` reads outside the input."""
    if inside is None:
        return False
    (top, left), (h, w) = window, size
    return top < 0 or left < 0 or top + h > inside[0] or left + w > inside[1]


def _number(value: float, digits: int) -> str:
    if np.isnan(value):
        return "pad"
    text = f"{value:.{digits}f}"
    return "0" if float(text) == 0 else text.replace("-", "−")


def _cells(
    grid: Grid,
    role_of: dict[tuple[int, int], str],
    x0: float,
    y0: float,
    digits: int,
    marked: tuple[int, int] | None = None,
    inside: tuple[int, int] | None = None,
) -> list[str]:
    """A grid of numbered cells; cells in `role_of` are filled in that role's colour, and
    cells outside an input of `inside` rows and columns (the padding) are dashed."""
    out = []
    rows, cols = grid.values.shape
    for r in range(rows):
        for c in range(cols):
            at = (grid.top + r, grid.left + c)
            role = role_of.get(at)
            x, y = x0 + c * CELL, y0 + r * CELL
            if role:
                colour = COLOURS[role]
                style = f"fill:{colour};fill-opacity:.2;stroke:{colour};stroke-width:1.6"
            else:
                style = f"fill:none;stroke:{FG_LIGHT};stroke-width:.6;stroke-opacity:.7"
            if inside and not (0 <= at[0] < inside[0] and 0 <= at[1] < inside[1]):
                style += ";stroke-dasharray:3 2"
            out.append(rect(x, y, CELL, CELL, style, rx=0))
            weight = "font-weight:700" if at == marked else ("" if role else "opacity:.55")
            out.append(
                text(
                    x + CELL / 2,
                    y + CELL / 2 + 4,
                    _number(grid.values[r, c], digits),
                    11,
                    "middle",
                    weight,
                    cls="naf-cell",
                )
            )
            if at == marked:
                out.append(
                    rect(
                        x + 3,
                        y + 3,
                        CELL - 6,
                        CELL - 6,
                        f"fill:none;stroke:{COLOURS[role or 'input']};stroke-width:2.4",
                        rx=CELL / 2,
                    )
                )
    return out


def convolution_figure(
    grid: Grid,
    window: tuple[int, int],
    kernel: np.ndarray,
    channel: int,
    channels: int,
    channel_sum: float,
    bias: float,
    pre_activation: float,
    index: tuple[int, int, int],
    value: float | None = None,
    activation: str = "linear",
    layer: str = "conv2d",
    digits: int = 2,
    inside: tuple[int, int] | None = None,
) -> Figure:
    """One output of a convolution: the input window on its grid, the kernel slice, the output.

    Args:
        grid: input channel `channel` around the window; window: its top-left input position.
        kernel: `W[:, :, channel, k]`; channels: how many input channels the sum runs over.
        channel_sum: the window times the kernel, summed, for this channel only.
        bias, pre_activation: `b[k]` and the whole sum with the bias, `z`.
        index: the output element `(i, j, k)`; value: `a[i, j, k]` after the activation.
        inside: the input's rows and columns: cells outside it, the padding, are dashed.
    """
    i, j, k = index
    kh, kw = kernel.shape
    value = pre_activation if value is None else value
    top, left = window
    roles = {(top + u, left + v): "input" for u in range(kh) for v in range(kw)}
    rows, cols = grid.values.shape
    y0 = MARGIN + 34
    body = [
        text(
            MARGIN,
            MARGIN + 12,
            f"input x, channel {channel} of {channels}, rows "
            f"{grid.top}–{grid.top + rows - 1}, columns {grid.left}–{grid.left + cols - 1}",
            11.5,
            style="opacity:.8",
        )
    ]
    body += _cells(grid, roles, MARGIN, y0, digits, inside=inside)
    kx = MARGIN + cols * CELL + GAP
    kernel_grid = Grid(np.asarray(kernel, dtype=float))
    label = f"kernel W[:, :, {channel}, {k}]"
    body.append(
        text(
            kx,
            y0 - 8,
            label,
            11.5,
            style=f"fill:{COLOURS['kernel']};font-weight:600",
        )
    )
    body += _cells(
        kernel_grid, {(u, v): "kernel" for u in range(kh) for v in range(kw)}, kx, y0, digits
    )
    body.append(text(kx - GAP / 2, y0 + kh * CELL / 2 + 6, "×", 20, "middle"))
    ox = kx + max(kw * CELL, LABEL_EM * len(label)) + GAP  # a 1×1 kernel: room for its label
    out_grid = Grid(np.array([[value]]), i, j)
    body.append(arrow(kx + kw * CELL + 8, y0 + kh * CELL / 2, ox - 6, y0 + kh * CELL / 2))
    body.append(
        text(
            ox,
            y0 - 8,
            f"output a[{i}, {j}, {k}]",
            11.5,
            style=f"fill:{COLOURS['output']};font-weight:600",
        )
    )
    body += _cells(out_grid, {(i, j): "output"}, ox, y0 + (kh - 1) * CELL / 2, digits)
    fy = y0 + max(rows, kh) * CELL + 26
    others = pre_activation - bias - channel_sum
    lines = [
        (f"window × kernel, channel {channel}: {_number(channel_sum, 4)}", "kernel"),
        (f"+ the same over the other {channels - 1} channels: {_number(others, 4)}", None)
        if channels > 1
        else None,
        (f"+ bias b[{k}] = {_number(bias, 4)}", "bias"),
        (
            f"= z = {_number(pre_activation, 4)};  a[{i}, {j}, {k}] = {activation}(z) = "
            f"{_number(value, 4)}",
            "output",
        ),
    ]
    padded = _reaches_padding(window, (kh, kw), inside)
    if padded:  # the border element learners get wrong: say what the padding adds
        lines.append(("dashed cells: the padding, zeros that add nothing to the sum", None))
    for n, entry in enumerate(e for e in lines if e):
        words, role = entry
        style = f"fill:{COLOURS[role]}" if role else ""
        body.append(text(MARGIN, fy + n * 18, words, 12.5, style=style, cls="naf-formula"))
    n_lines = sum(1 for e in lines if e)
    width = ox + CELL + MARGIN + 60
    return Figure(
        body=group(body, attrs=f'class="naf-worked" data-layer="{layer}"'),
        width=max(width, 520),
        height=fy + n_lines * 18 + MARGIN,
        title=f"Worked example of {layer}: output a[{i}, {j}, {k}]",
        desc=(
            f"The {kh}×{kw} window of input channel {channel} at row {top}, column {left}, "
            f"times kernel W[:, :, {channel}, {k}], summed over {channels} channels, plus bias "
            f"{_number(bias, 4)}, gives {_number(value, 4)}."
            + (" The window reaches into the padding (zeros)." if padded else "")
        ),
        kind="worked",
    )


def pooling_figure(
    grid: Grid,
    window: tuple[int, int],
    size: tuple[int, int],
    value: float,
    index: tuple[int, int, int],
    winner: tuple[int, int] | None = None,
    kind: str = "max",
    layer: str = "max_pooling2d",
    digits: int = 2,
    inside: tuple[int, int] | None = None,
) -> Figure:
    """One output of a pooling: the window on its grid, the winner marked, the output cell;
    cells outside an input of `inside` rows and columns, the padding, are dashed."""
    i, j, k = index
    top, left = window
    ph, pw = size
    roles = {(top + u, left + v): "input" for u in range(ph) for v in range(pw)}
    if winner is not None:
        roles[winner] = "output"
    rows, cols = grid.values.shape
    y0 = MARGIN + 34
    body = [
        text(
            MARGIN,
            MARGIN + 12,
            f"input, channel {k}, rows {grid.top}–"
            f"{grid.top + rows - 1}, columns {grid.left}–{grid.left + cols - 1}",
            11.5,
            style="opacity:.8",
        )
    ]
    body += _cells(grid, roles, MARGIN, y0, digits, marked=winner, inside=inside)
    ox = MARGIN + cols * CELL + GAP
    mid = y0 + rows * CELL / 2
    body.append(arrow(ox - GAP + 8, mid, ox - 6, mid))
    body.append(
        text(
            ox,
            y0 - 8,
            f"output a[{i}, {j}, {k}]",
            11.5,
            style=f"fill:{COLOURS['output']};font-weight:600",
        )
    )
    body += _cells(Grid(np.array([[value]]), i, j), {(i, j): "output"}, ox, mid - CELL / 2, digits)
    window_values = grid.values[
        top - grid.top : top - grid.top + ph, left - grid.left : left - grid.left + pw
    ]
    listed = ", ".join(_number(v, digits) for v in window_values.ravel() if not np.isnan(v))
    name = "max" if kind == "max" else "mean"
    fy = y0 + rows * CELL + 26
    body.append(
        text(
            MARGIN,
            fy,
            f"{name}({listed}) = {_number(value, 4)} = a[{i}, {j}, {k}]",
            12.5,
            style=f"fill:{COLOURS['output']}",
            cls="naf-formula",
        )
    )
    notes = []
    if winner is not None:
        notes.append(f"the largest input, at row {winner[0]}, column {winner[1]}, is circled")
    padded = _reaches_padding(window, size, inside)
    if padded:  # the border element learners get wrong: the padding is not a number here
        notes.append(f"dashed cells: the padding, left out of the {name}")
    for n, note in enumerate(notes, start=1):
        body.append(text(MARGIN, fy + 18 * n, note, 12, style="opacity:.8"))
    return Figure(
        body=group(body, attrs=f'class="naf-worked" data-layer="{layer}"'),
        width=max(ox + CELL + MARGIN, 420),
        height=fy + 18 * max(len(notes) + 1, 2) + MARGIN,
        title=f"Worked example of {layer}: output a[{i}, {j}, {k}]",
        desc=(
            f"The {ph}×{pw} window of channel {k} at row {top}, column {left}; its {name} "
            f"{_number(value, 4)} is the output."
            + (f" The winner is at row {winner[0]}, column {winner[1]}." if winner else "")
            + (f" The window reaches into the padding, left out of the {name}." if padded else "")
        ),
        kind="worked",
    )
