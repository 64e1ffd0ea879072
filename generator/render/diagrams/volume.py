"""The volume view: the classic CNN figure, each feature map a box sized by height, width, channels.

Sides are log-scaled so that 3 and 512 channels, or 4 and 224 pixels, both fit on a page. The
drawing follows the model's main path (its longest chain of layers from an input to an output,
nested models opened up); layers that keep the shape of the one before them (a normalization,
an activation) share its box. Vectors (after `Flatten`, `Dense`) are thin bars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx

from generator.model.graph import LayerRecord, ModelGraph
from generator.render.diagrams.graph import Anchors, inbound_layers
from generator.render.diagrams.svg import (
    ACCENT,
    FG_LIGHT,
    Figure,
    Hotspot,
    arrow,
    attr,
    clip,
    dims_text,
    group,
    path,
    polygon,
    rect,
    text,
)

MARGIN = 14
GAP = 26
LABEL_SIZE = 11.5
#: Projection of the width axis: drawn up and to the right at this slope.
DEPTH_FACTOR = 0.42


def side(n: int | None) -> float:
    """Length in px of a height or width of `n` cells: 3 -> 33, 32 -> 88, 224 -> 133."""
    return 8 + 16 * math.log2(max(n or 1, 1))


def thickness(n: int | None) -> float:
    """Thickness in px of `n` channels: 3 -> 20, 32 -> 54, 512 -> 94."""
    return 4 + 10 * math.log2(max(n or 1, 1))


@dataclass(frozen=True)
class _Item:
    """One box (or bar): the shape it shows and the layers that produce it."""

    shape: tuple  # without the batch dimension
    records: tuple[LayerRecord, ...]
    label: str
    channels_first: bool = False  # PyTorch's layout: (channels, height, width)


def is_convolutional(graph: ModelGraph) -> bool:
    """Whether the model has a convolution with a spatial output: it gets the volume view."""
    for record in graph.layers:
        if record.children is not None and is_convolutional(record.children):
            return True
        if "Conv" in record.type and len(record.output_shape) >= 3:
            return True
    return False


def main_path(graph: ModelGraph) -> list[LayerRecord]:
    """The longest chain of layers from an input to an output, nested models opened up."""
    dag = nx.DiGraph()
    names = {r.name for r in graph.layers}
    for record in graph.layers:
        dag.add_node(record.name)
        for source in inbound_layers(record):
            if source in names and source != record.name:
                dag.add_edge(source, record.name)
    chain = nx.dag_longest_path(dag, topo_order=[r.name for r in graph.layers])
    out: list[LayerRecord] = []
    for name in chain:
        record = graph.layer(name)
        out += main_path(record.children) if record.children is not None else [record]
    return out


def _items(graph: ModelGraph) -> list[_Item]:
    items: list[_Item] = []
    if graph.inputs:
        tensor = graph.inputs[0]
        first = graph.framework == "torch"
        items.append(_Item(tuple(tensor.shape[1:]), (), "input", first))
    for record in main_path(graph):
        shape = tuple(record.output_shape[1:])
        if items and items[-1].shape == shape and items[-1].records:
            last = items[-1]
            items[-1] = _Item(shape, last.records + (record,), last.label, last.channels_first)
        else:
            items.append(_Item(shape, (record,), record.type, record.channels_first))
    return items


def volume_figure(graph: ModelGraph, anchors: Anchors | None = None) -> Figure:
    """The volume view of a convolutional model as a `Figure`."""
    anchors = anchors or {}
    items = _items(graph)
    sizes = [_size(item) for item in items]
    centre = MARGIN + max(h / 2 + d * DEPTH_FACTOR for _, h, d in sizes)
    label_y = centre + max(h / 2 for _, h, _ in sizes) + 20
    body, x = [], MARGIN
    links: list[Hotspot] = []
    previous_right = None
    for item, (w, h, d) in zip(items, sizes, strict=True):
        label_w = max(len(_dims(item.shape)), len(_types(item))) * LABEL_SIZE * 0.6
        slot = max(w + d * DEPTH_FACTOR, label_w)
        bx = x + (slot - w - d * DEPTH_FACTOR) / 2
        if previous_right is not None:
            body.append(arrow(previous_right + 3, centre, bx - 3, centre))
        body.append(_drawn(item, bx, centre - h / 2, w, h, d, x + slot / 2, label_y))
        first = item.records[0] if item.records else None
        if first is not None and first.name in anchors:
            depth = d * DEPTH_FACTOR
            links.append(
                Hotspot(
                    bx,
                    centre - h / 2 - depth,
                    w + depth,
                    h + depth,
                    anchors[first.name],
                    f"{first.name} ({first.type}): its section",
                )
            )
        previous_right = bx + w + d * DEPTH_FACTOR
        x += slot + GAP
    names = "; ".join(
        f"{_dims(item.shape)} from {', '.join(r.name for r in item.records) or 'the input'}"
        for item in items
    )
    return Figure(
        body="\n".join(body),
        width=x - GAP + MARGIN,
        height=label_y + 2 * 15 + MARGIN,
        title=f"Feature maps of the model {graph.name}, from input to output",
        desc=f"Each box is one tensor, {volume_order(graph)} (log-scaled): {names}.",
        kind="volume",
        links=tuple(links),
    )


def volume_order(graph: ModelGraph) -> str:
    """How a box's shape reads: Keras's channels last, PyTorch's channels first."""
    if graph.framework == "torch":
        return "channels by height by width"
    return "height by width by channels"


def _dims(shape: tuple) -> str:
    return dims_text((None, *shape))


def _types(item: _Item) -> str:
    if not item.records:
        return "Input"
    types = list(dict.fromkeys(r.type for r in item.records))
    return clip(" + ".join(types), LABEL_SIZE, 150)


def _size(item: _Item) -> tuple[float, float, float]:
    """Drawn (thickness, height, depth) of an item; a vector is a bar with no depth."""
    shape = item.shape
    if len(shape) <= 1:
        n = shape[0] if shape else 1
        return 9.0, min(side(n), 180.0), 0.0
    if item.channels_first:  # (c, h, w): draw it as (h, w, c)
        shape = (*shape[1:], shape[0])
    height = shape[0]
    width = shape[1] if len(shape) >= 3 else 1
    return thickness(shape[-1]), side(height), side(width)


def _drawn(
    item: _Item,
    x: float,
    y: float,
    w: float,
    h: float,
    d: float,
    label_x: float,
    label_y: float,
) -> str:
    stroke = f"stroke:{ACCENT};stroke-width:1;stroke-linejoin:round"
    dx, dy = d * DEPTH_FACTOR, -d * DEPTH_FACTOR
    parts = []
    if d:
        parts.append(
            polygon(
                [(x, y), (x + dx, y + dy), (x + w + dx, y + dy), (x + w, y)],
                f"fill:{ACCENT};fill-opacity:.32;{stroke}",
            )
        )
        parts.append(
            polygon(
                [(x + w, y), (x + w + dx, y + dy), (x + w + dx, y + h + dy), (x + w, y + h)],
                f"fill:{ACCENT};fill-opacity:.12;{stroke}",
            )
        )
    parts.append(rect(x, y, w, h, f"fill:{ACCENT};fill-opacity:.22;{stroke}", rx=0))
    if d:  # hidden edges would clutter; one dashed edge gives the depth
        parts.append(
            path(
                ["M", x + dx, y + dy, "L", x + dx, y + h + dy, "L", x + w + dx, y + h + dy],
                f"stroke:{FG_LIGHT};stroke-width:.6;fill:none;stroke-dasharray:2 2;opacity:.6",
            )
        )
    parts.append(text(label_x, label_y, _dims(item.shape), LABEL_SIZE, "middle", "font-weight:600"))
    parts.append(text(label_x, label_y + 15, _types(item), LABEL_SIZE - 1, "middle", "opacity:.75"))
    names = " ".join(r.name for r in item.records) or "input"
    attrs = f'class="naf-volume-item" data-layer="{attr(names)}" data-shape="{_dims(item.shape)}"'
    return group(parts, attrs=attrs)
