"""The graph view: one box per layer call, arrows for the data flow, nested models as groups.

A layered (Sugiyama-style) drawing: networkx gives the ranks (longest path from an input), edges
that skip ranks pass through narrow placeholder nodes so they never cross a box, a few
barycentre sweeps order each rank, and each box sits under the layer that feeds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import networkx as nx

from generator.model.graph import LayerRecord, ModelGraph
from generator.render.blocks import FOLDED, folded_graph, repeated_blocks
from generator.render.diagrams.svg import (
    ACCENT,
    BG,
    FG_LIGHT,
    MONO,
    Figure,
    Hotspot,
    arrow_head,
    attr,
    dims_text,
    fit_lines,
    group,
    path,
    rect,
    text,
)

NODE_WIDTH = 236
NODE_HEIGHT = 58
INPUT_HEIGHT = 40
GAP_X = 22
GAP_Y = 30
DUMMY_WIDTH = 10
MARGIN = 12
GROUP_PAD = 12
GROUP_HEADER = 44
SWEEPS = 4
#: Font sizes of a box's title and code lines, the step between lines, and the text's inset.
TITLE_SIZE = 12.5
CODE_SIZE = 11
LINE = 14
TEXT_X = 10
#: Bold titles run wider than `svg.CHAR_WIDTH` estimates: they get this share of the width.
BOLD_SHARE = 0.9

#: Link to each layer's section, by layer name (`{"conv2d": "#1-conv2d-conv2d"}`).
Anchors = Mapping[str, str]


def inbound_layers(record: LayerRecord) -> tuple[str, ...]:
    """Names of the nodes feeding `record`, in call order (the one place inputs are read)."""
    return record.inbound


@dataclass
class _Node:
    key: str
    rank: int = 0
    width: float = NODE_WIDTH
    height: float = NODE_HEIGHT
    record: LayerRecord | None = None
    input_shape: tuple | None = None
    dummy: bool = False
    inner: _Layout | None = None
    x: float = 0.0  # centre
    y: float = 0.0  # top


@dataclass
class _Layout:
    nodes: dict[str, _Node]
    chains: list[list[str]] = field(default_factory=list)  # source, dummies..., target
    rank_heights: list[float] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0


def graph_figure(graph: ModelGraph, anchors: Anchors | None = None, fold: bool = False) -> Figure:
    """The graph view of a model as a `Figure`.

    Args:
        graph: the model description.
        anchors: each layer's section link (`#3-conv2d-conv2d`) by name; boxes link there.
        fold: draw the later copies of each repeated block (`generator.render.blocks`) as one
            stacked box; the title and description still name every layer.
    """
    anchors = anchors or {}
    whole = graph
    if fold:
        graph = folded_graph(graph, repeated_blocks(graph))
    layout = _layout(graph)
    body = _draw(layout, graph)
    links = tuple(
        Hotspot(
            MARGIN + n.x - n.width / 2,
            MARGIN + n.y,
            n.width,
            n.height,
            anchors[n.key],
            f"{n.key} ({n.record.type}): its section",
        )
        for n in layout.nodes.values()
        if n.record is not None and n.key in anchors
    )
    names = [f"{r.name} ({r.type}) {dims_text(r.output_shape)}" for r in whole.layers]
    desc = f"Layers of {graph.name}, inputs first: " + "; ".join(names) + "."
    return Figure(
        body=group([body], MARGIN, MARGIN),
        width=layout.width + 2 * MARGIN,
        height=layout.height + 2 * MARGIN,
        title=f"Graph of the model {graph.name}: {len(whole.layers)} layers"
        + (", repeated blocks folded" if graph is not whole else ""),
        desc=desc,
        kind="graph",
        links=links,
    )


def _layout(graph: ModelGraph) -> _Layout:
    dag = nx.DiGraph()
    nodes: dict[str, _Node] = {}
    for tensor in graph.inputs:
        node = _Node(tensor.name, input_shape=tensor.shape)
        node.height = INPUT_HEIGHT + LINE * (len(_labels(node)[0]) - 1)
        nodes[tensor.name] = node
        dag.add_node(tensor.name)
    for record in graph.layers:
        node = _Node(record.name, record=record)
        title, code = _labels(node)
        node.height = NODE_HEIGHT + LINE * (len(title) + len(code) - 2)
        if record.children is not None:
            node.inner = _layout(record.children)
            node.width = node.inner.width + 2 * GROUP_PAD
            title, _ = _labels(node)
            node.height = node.inner.height + _header(title) + GROUP_PAD
        nodes[record.name] = node
        dag.add_node(record.name)
        for source in inbound_layers(record):
            if source in nodes and source != record.name:
                dag.add_edge(source, record.name)
    for key in nx.topological_sort(dag):
        preds = list(dag.predecessors(key))
        nodes[key].rank = max((nodes[p].rank + 1 for p in preds), default=0)
    layout = _Layout(nodes)
    order = {key: i for i, key in enumerate(nodes)}
    for record in graph.layers:  # in call order, so a layer's first input is its first edge
        for source in dict.fromkeys(inbound_layers(record)):
            if source not in nodes or source == record.name:
                continue
            chain = [source]
            for rank in range(nodes[source].rank + 1, nodes[record.name].rank):
                key = f"{source}->{record.name}@{rank}"
                nodes[key] = _Node(key, rank=rank, width=DUMMY_WIDTH, height=0, dummy=True)
                order[key] = len(order)
                chain.append(key)
            chain.append(record.name)
            layout.chains.append(chain)
    _place(layout, order)
    return layout


def _place(layout: _Layout, order: dict[str, int]) -> None:
    """Order each rank (barycentre sweeps), then set x (centre) and y (top) of every node."""
    nodes = layout.nodes
    preds: dict[str, list[str]] = {k: [] for k in nodes}
    succs: dict[str, list[str]] = {k: [] for k in nodes}
    for chain in layout.chains:
        for a, b in zip(chain, chain[1:], strict=False):
            preds[b].append(a)
            succs[a].append(b)
    n_ranks = max((n.rank for n in nodes.values()), default=-1) + 1
    ranks: list[list[str]] = [[] for _ in range(n_ranks)]
    for key in sorted(nodes, key=lambda k: (nodes[k].dummy, order[k])):
        ranks[nodes[key].rank].append(key)
    position = {key: i for rank in ranks for i, key in enumerate(rank)}

    def sweep(rank_ids: range, neighbours: dict[str, list[str]]) -> None:
        for r in rank_ids:

            def key(k: str) -> tuple:
                near = [position[n] for n in neighbours[k]]
                centre = sum(near) / len(near) if near else position[k]
                return (centre, nodes[k].dummy, order[k])

            ranks[r].sort(key=key)
            position.update({k: i for i, k in enumerate(ranks[r])})

    for _ in range(SWEEPS):
        sweep(range(1, n_ranks), preds)
        sweep(range(n_ranks - 2, -1, -1), succs)
    sweep(range(1, n_ranks), preds)

    y = 0.0
    for rank in ranks:
        left = 0.0
        for key in rank:
            node = nodes[key]
            # Sit under the real layers that feed this one (the main path, not a long skip).
            feeders = [nodes[p] for p in preds[key] if not nodes[p].dummy] or [
                nodes[p] for p in preds[key]
            ]
            want = sum(f.x for f in feeders) / len(feeders) if feeders else left + node.width / 2
            node.x = max(want, left + node.width / 2)
            node.y = y
            left = node.x + node.width / 2 + GAP_X
        layout.rank_heights.append(max(nodes[k].height for k in rank))
        y += layout.rank_heights[-1] + GAP_Y
    lowest = min((n.x - n.width / 2 for n in nodes.values()), default=0.0)
    for node in nodes.values():
        node.x -= lowest
    layout.width = max((n.x + n.width / 2 for n in nodes.values()), default=0.0)
    layout.height = max(y - GAP_Y, 0.0)


def _draw(layout: _Layout, graph: ModelGraph) -> str:
    out = [_edge(layout, chain) for chain in layout.chains]
    outputs = set(graph.output_layers)
    out += [_box(n, n.key in outputs) for n in layout.nodes.values() if not n.dummy]
    return "\n".join(out)


def _labels(node: _Node) -> tuple[list[str], list[str]]:
    """The box's title and code lines, whole: wrapped to the box's width, never cut."""
    inside = node.width - 2 * TEXT_X
    bold = inside * BOLD_SHARE
    record = node.record
    if record is None:
        return fit_lines(f"{node.key} · Input", TITLE_SIZE, bold), []
    if record.children is not None and node.inner is not None:
        title = f"{record.name} · {record.type} (nested model)"
        return fit_lines(title, TITLE_SIZE, bold), []
    code = record.code or f"{record.type}(...)"
    title = fit_lines(f"{record.name} · {record.type}", TITLE_SIZE, bold)
    return title, fit_lines(code, CODE_SIZE, inside, code=record.type != FOLDED)


def _header(title: list[str]) -> float:
    """The height of a nested model's header: its title lines and its shape."""
    return GROUP_HEADER + LINE * (len(title) - 1)


def _lines(x: float, y: float, lines: list[str], size: float, style: str = "") -> list[str]:
    return [text(x, y + LINE * k, line, size, style=style) for k, line in enumerate(lines)]


def _box(node: _Node, output: bool) -> str:
    x0, y0, w = node.x - node.width / 2, node.y, node.width
    record = node.record
    title, code = _labels(node)
    below = y0 + 17 + LINE * (len(title) - 1)  # the baseline of the title's last line
    if record is None:  # a model input
        shape = dims_text(node.input_shape or ())
        parts = [
            rect(x0, y0, w, node.height, f"fill:{BG};stroke:{FG_LIGHT};stroke-dasharray:4 3"),
            *_lines(x0 + TEXT_X, y0 + 17, title, TITLE_SIZE, "font-weight:600"),
            text(x0 + TEXT_X, below + 16, f"→ {shape}", 12, style=f"fill:{ACCENT}"),
        ]
        attrs = f'class="naf-node naf-input" data-layer="{attr(node.key)}" data-shape="{shape}"'
        return group(parts, attrs=attrs)
    shape = ", ".join(dims_text(s) for s in record.output_shapes)
    stroke = f"stroke:{ACCENT};stroke-width:{2.2 if output else 1.2}"
    folded = record.type == FOLDED
    parts = []
    if folded:  # a stack of boxes: the copies of a block folded into one
        for step in (8, 4):
            back = f"fill:{BG};stroke:{FG_LIGHT};stroke-width:1"
            parts.append(rect(x0 + step, y0 - step, w, node.height, back))
    parts.append(rect(x0, y0, w, node.height, f"fill:{BG};{stroke}"))
    parts += _lines(x0 + TEXT_X, y0 + 17, title, TITLE_SIZE, "font-weight:600")
    if node.inner is not None:
        parts += [
            text(x0 + TEXT_X, below + 13, f"→ {shape}", 12, style=f"fill:{ACCENT}"),
            group(
                [_draw(node.inner, record.children)],
                x0 + GROUP_PAD,
                y0 + _header(title),
            ),
        ]
    else:
        code_y = below + 16
        parts += _lines(x0 + TEXT_X, code_y, code, CODE_SIZE, f"{MONO};opacity:.8")
        parts.append(
            text(
                x0 + TEXT_X,
                code_y + LINE * (len(code) - 1) + 17,
                f"→ {shape}" + ("  (output)" if output else ""),
                12,
                style=f"fill:{ACCENT}",
            )
        )
    kind = "naf-node naf-folded" if folded else "naf-node"
    attrs = (
        f'class="{kind}" data-layer="{attr(record.name)}" data-type="{attr(record.type)}" '
        f'data-shape="{shape}"'
    )
    return group(parts, attrs=attrs)


def _edge(layout: _Layout, chain: list[str]) -> str:
    """A smooth line from the bottom of the source through the placeholders to the target."""
    nodes = layout.nodes
    first, last = nodes[chain[0]], nodes[chain[-1]]
    d: list[str | float] = ["M", first.x, first.y + first.height]
    for key in chain[1:-1]:
        dummy = nodes[key]
        d += _curve(d[-2], d[-1], dummy.x, dummy.y)
        bottom = dummy.y + layout.rank_heights[dummy.rank]
        d += ["L", dummy.x, bottom]
    d += _curve(d[-2], d[-1], last.x, last.y)
    style = f"stroke:{FG_LIGHT};stroke-width:1.3;fill:none"
    head = arrow_head(last.x, last.y, 0, 1, f"fill:{FG_LIGHT};stroke:none")
    attrs = f'class="naf-edge" data-from="{attr(first.key)}" data-to="{attr(last.key)}"'
    return group([path(d, style), head], attrs=attrs)


def _curve(x1: float, y1: float, x2: float, y2: float) -> list[str | float]:
    mid = (y2 - y1) / 2
    return ["C", x1, y1 + mid, x2, y2 - mid, x2, y2]
