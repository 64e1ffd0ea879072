"""Diagrams of a model, as SVG written from Python: its graph, its volumes, its recurrent cells.

Every figure is inline SVG (no script, no font, nothing from another host) coloured from the
theme, with a `<title>` and a `<desc>` naming the layers for screen readers and the site search.
`diagram_section` is what a model page shows; `worked_figure` draws a convolution's or a
pooling's worked example from the layer's input and weights (`worked` from plain arrays).
"""

from __future__ import annotations

from collections.abc import Sequence

from generator.layers.derive import DerivedModel
from generator.render.blocks import ALL_LAYERS, repeated_blocks
from generator.render.diagrams.examples import worked_figure
from generator.render.diagrams.graph import Anchors, graph_figure, inbound_layers
from generator.render.diagrams.recurrent import recurrent_figures
from generator.render.diagrams.svg import Figure
from generator.render.diagrams.volume import is_convolutional, volume_figure, volume_order
from generator.render.diagrams.worked import (
    convolution_example,
    convolution_figure,
    pooling_example,
    pooling_figure,
)

__all__ = [
    "Anchors",
    "Figure",
    "convolution_example",
    "convolution_figure",
    "diagram_section",
    "graph_figure",
    "inbound_layers",
    "pooling_example",
    "pooling_figure",
    "volume_figure",
    "worked_figure",
]


def diagram_section(
    math: DerivedModel, anchors: Anchors | None = None, worked: Sequence[Figure] = ()
) -> str:
    """The body of a model page's "Diagram" section: Markdown with the figures inline.

    Args:
        math: the derived model.
        anchors: each layer's section link on the same page, by name; boxes link there.
        worked: worked-example figures (`convolution_figure`, `pooling_figure`) to show after
            the model's own diagrams.
    """
    graph = math.graph
    parts = [
        f"The model as a graph: one box per layer with its type, its {graph.framework_name} line "
        "and its output shape; arrows carry the data."
        + (" Select a box to go to that layer's section." if anchors else ""),
    ]
    if repeated_blocks(graph):
        parts += [
            "The copies of a repeated block after its first are drawn as one stacked box.",
            graph_figure(graph, anchors, fold=True).html(),
            f'<details class="{ALL_LAYERS}">\n<summary>All {len(graph.layers)} layers</summary>'
            f"\n{graph_figure(graph, anchors).html()}\n</details>",
        ]
    else:
        parts.append(graph_figure(graph, anchors).html())
    if is_convolutional(graph):
        parts += [
            f"The same model as volumes: each box is a tensor, {volume_order(graph)} "
            "(sides on a log scale), then the vectors after it.",
            volume_figure(graph, anchors).html(max_height="none"),
        ]
    parts += [figure.html(max_height="none") for figure in recurrent_figures(graph, anchors)]
    parts += [figure.html(max_height="none") for figure in worked]
    return "\n\n".join(parts)
