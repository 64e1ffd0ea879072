"""Recurrent layers drawn: the LSTM cell with its gates, and a recurrent layer unrolled in time.

Drawn from the layer's record: its gates (in Keras's order), units, input features and
activations. Labels are plain Unicode text (`hₜ₋₁`), never TeX, so they need no MathJax.
"""

from __future__ import annotations

from generator.layers.recurrent import GATES
from generator.model.activations import activation_name
from generator.model.graph import LayerRecord, ModelGraph
from generator.render.diagrams.graph import Anchors
from generator.render.diagrams.svg import (
    ACCENT,
    BG,
    FG,
    Figure,
    Hotspot,
    arrow,
    group,
    line,
    rect,
    text,
    wrap,
)

#: How each LSTM gate is called on the page, in Keras's order `i, f, c, o`.
LSTM_GATES = {
    "i": "input gate iₜ",
    "f": "forget gate fₜ",
    "c": "candidate c̃ₜ",
    "o": "output gate oₜ",
}
STROKE = f"stroke:{FG};stroke-width:1.5;fill:none"
UNROLLED_STEPS = 3


def _act_symbol(value: object) -> str:
    name = activation_name(value)
    return {"sigmoid": "σ", "linear": "id"}.get(name, name)


def recurrent_figures(graph: ModelGraph, anchors: Anchors | None = None) -> list[Figure]:
    """The LSTM cell (for an LSTM) and the unrolled drawing, for the first layer of each type."""
    anchors = anchors or {}
    figures: list[Figure] = []
    seen: set[str] = set()
    for record in graph.layers:
        if record.type not in GATES or record.type in seen:
            continue
        seen.add(record.type)
        if record.type == "LSTM":
            figures.append(lstm_cell_figure(record, anchors.get(record.name)))
        figures.append(unrolled_figure(record, anchors.get(record.name)))
    return figures


def _op(x: float, y: float, symbol: str) -> str:
    """A pointwise operation: a circle with ⊗ or ⊕ drawn as lines (no font needed)."""
    parts = [f'<circle cx="{x}" cy="{y}" r="10" style="fill:{BG};{STROKE}"/>']
    if symbol == "+":
        parts += [line(x - 6, y, x + 6, y, STROKE), line(x, y - 6, x, y + 6, STROKE)]
    else:
        parts += [
            line(x - 4.5, y - 4.5, x + 4.5, y + 4.5, STROKE),
            line(x - 4.5, y + 4.5, x + 4.5, y - 4.5, STROKE),
        ]
    return "\n".join(parts)


def _gate(cx: float, y: float, act: str, label: str) -> str:
    box = rect(
        cx - 34, y, 68, 34, f"fill:{ACCENT};fill-opacity:.22;stroke:{ACCENT};stroke-width:1.5"
    )
    return "\n".join(
        [
            box,
            text(cx, y + 22, act, 14, "middle", "font-weight:700"),
            rect(
                cx - len(label) * 3.4, y + 42, len(label) * 6.8, 14, f"fill:{BG};stroke:none", rx=2
            ),
            text(cx, y + 52, label, 11, "middle", "opacity:.85"),
        ]
    )


def _path(points: list[tuple[float, float]], style: str = STROKE) -> str:
    d = " ".join(f"{'M' if n == 0 else 'L'}{x:g},{y:g}" for n, (x, y) in enumerate(points))
    return f'<path d="{d}" style="{style}"/>'


def _links(
    href: str | None, record: LayerRecord, boxes: list[tuple[float, float, float, float]]
) -> tuple[Hotspot, ...]:
    if not href:
        return ()
    label = f"{record.name} ({record.type}): its section"
    return tuple(Hotspot(x, y, w, h, href, label) for x, y, w, h in boxes)


def lstm_cell_figure(record: LayerRecord, href: str | None = None) -> Figure:
    """One step of an LSTM: the cell state along the top, the four gates below it."""
    units, features = record.attrs["units"], record.input_shape[-1]
    gate = _act_symbol(record.attrs.get("recurrent_activation", "sigmoid"))
    act = _act_symbol(record.attrs.get("activation", "tanh"))
    top, bus = 70, 300
    xs = {"f": 170, "i": 260, "c": 350, "o": 450}
    body = [
        rect(
            60,
            36,
            500,
            286,
            f"fill:{ACCENT};fill-opacity:.04;stroke:{ACCENT};stroke-dasharray:5 4",
            rx=14,
        ),
        text(60, 24, f"{record.name}: one step t", 12.5, style="font-weight:600"),
        # The cell state: in from the left, out to the right.
        _path([(18, top), (160, top)]),
        _op(170, top, "x"),
        _path([(180, top), (340, top)]),
        _op(350, top, "+"),
        arrow(360, top, 598, top, FG),
        text(18, top - 10, "cₜ₋₁", 13),
        text(598, top - 10, "cₜ (cell state)", 13, "end"),
        # Input and previous output join on the bus under the gates.
        arrow(18, bus, 100, bus, FG),
        text(18, bus - 8, "hₜ₋₁", 13),
        arrow(110, 348, 110, bus + 2, FG),
        text(118, 344, "xₜ", 13),
        _path([(100, bus), (450, bus)]),
    ]
    for key in ("f", "i", "c", "o"):
        body += [
            _path([(xs[key], bus), (xs[key], 236)]),
            _gate(xs[key], 202, act if key == "c" else gate, LSTM_GATES[key]),
        ]
    body += [
        arrow(170, 202, 170, top + 11, FG),  # forget gate scales the old cell state
        _path([(260, 202), (260, 150), (340, 150)]),
        _op(350, 150, "x"),
        _path([(350, 202), (350, 161)]),
        arrow(350, 139, 350, top + 11, FG),
        # Output: tanh of the new cell state times the output gate.
        _path([(500, top), (500, 98)]),
        f'<ellipse cx="500" cy="112" rx="22" ry="13" style="fill:{BG};{STROKE}"/>',
        text(500, 116, act, 11.5, "middle"),
        _path([(500, 125), (500, 150)]),
        _op(500, 160, "x"),
        _path([(450, 202), (450, 160), (489, 160)]),
        arrow(511, 160, 598, 160, FG),
        text(598, 150, "hₜ (output)", 13, "end"),
    ]
    legend = (
        f"{gate}, {act}: activations of the gate boxes; ⊗ elementwise product; ⊕ sum. "
        f"Each box: {units} units from xₜ ({features} features) and hₜ₋₁. "
        f"cₜ = fₜ ⊙ cₜ₋₁ + iₜ ⊙ c̃ₜ and hₜ = oₜ ⊙ {act}(cₜ); "
        "each gate is act(W xₜ + U hₜ₋₁ + b) with its own W, U and b."
    )
    lines = wrap(legend, 11.5, 584)
    body += [
        text(18, 374 + 17 * n, part, 11.5, style="opacity:.85") for n, part in enumerate(lines)
    ]
    return Figure(
        body=group(body, attrs=f'class="naf-cell" data-layer="{record.name}"'),
        width=620,
        height=374 + 17 * len(lines),
        title=f"The LSTM cell of {record.name}: gates and cell state",
        desc=(
            f"One time step of {record.name} ({units} units, {features} input features). The "
            "cell state c runs along the top: the forget gate f multiplies it, the input gate i "
            "times the candidate c̃ is added. The output gate o times tanh of the new cell "
            "state gives hₜ. All four gates read xₜ and hₜ₋₁."
        ),
        kind="lstm",
        links=_links(href, record, [(60, 36, 500, 286)]),
    )


def unrolled_figure(record: LayerRecord, href: str | None = None) -> Figure:
    """The layer unrolled in time: the same cell at t = 0, 1, 2, …, T−1, h feeding the next."""
    units = record.attrs["units"]
    steps = record.input_shape[1]
    last = "T−1" if steps is None else str(steps - 1)
    two_states = record.type == "LSTM"
    times = [str(t) for t in range(UNROLLED_STEPS)] + [last]
    w, h, gap, x0, y0 = 92, 62, 64, 86, 52
    body = [text(14, y0 + h / 2 - 8, "h₋₁ = 0", 12)]
    if two_states:
        body.append(text(14, y0 + h / 2 + 20, "c₋₁ = 0", 12))
    for n, t in enumerate(times):
        x = x0 + n * (w + gap)
        if n == len(times) - 1 and (steps is None or steps > UNROLLED_STEPS + 1):
            body.append(text(x - gap / 2, y0 + h / 2 + 5, "⋯", 18, "middle"))
        body += [
            rect(
                x, y0, w, h, f"fill:{ACCENT};fill-opacity:.2;stroke:{ACCENT};stroke-width:1.5", rx=8
            ),
            text(x + w / 2, y0 + 26, record.type, 12.5, "middle", "font-weight:700"),
            text(x + w / 2, y0 + 44, f"t = {t}", 12, "middle"),
            arrow(x + w / 2, y0 + h + 38, x + w / 2, y0 + h + 2, FG),
            text(x + w / 2, y0 + h + 54, f"x at t = {t}", 11.5, "middle"),
            arrow(x - gap + 12 if n else x - 22, y0 + h / 2 - 12, x - 2, y0 + h / 2 - 12, FG),
        ]
        if two_states:
            body.append(
                arrow(x - gap + 12 if n else x - 20, y0 + h / 2 + 14, x - 2, y0 + h / 2 + 14, FG)
            )
    end = x0 + len(times) * (w + gap) - gap
    body.append(arrow(end + 2, y0 + h / 2 - 12, end + 46, y0 + h / 2 - 12, FG))
    body.append(text(end + 50, y0 + h / 2 - 8, "y", 13))
    states = "h (top arrows) and c (bottom arrows)" if two_states else "h"
    note = (
        f"The same cell, with the same {record.framework_params:,} parameters, at every step; "
        f"{states} {'carry' if two_states else 'carries'} over to the next step "
        f"({units} units each), for any length T."
    )
    width = end + 70
    lines = wrap(note, 11.5, width - 30)
    body += [
        text(18, y0 + h + 84 + 17 * n, part, 11.5, style="opacity:.85")
        for n, part in enumerate(lines)
    ]
    body.insert(0, text(18, 24, f"{record.name} unrolled over time", 12.5, style="font-weight:600"))
    return Figure(
        body=group(body, attrs=f'class="naf-unrolled" data-layer="{record.name}"'),
        width=width,
        height=y0 + h + 90 + 17 * len(lines),
        title=f"{record.name} unrolled over time",
        desc=(
            f"The {record.type} cell of {record.name} repeated at t = 0, 1, 2 and {last}; each "
            f"step reads x at t and the state of the step before ({states}), starting from "
            "zero; the last step gives y."
        ),
        kind="unrolled",
        links=_links(href, record, [(x0 + n * (w + gap), y0, w, h) for n in range(len(times))]),
    )
