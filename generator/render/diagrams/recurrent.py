"""Recurrent layers drawn: the LSTM cell with its gates, and a recurrent layer unrolled in time."""

from __future__ import annotations

from generator.model.graph import ModelGraph
from generator.render.diagrams.svg import Figure


def recurrent_figures(graph: ModelGraph) -> list[Figure]:
    """The cell and the unrolled drawing of each recurrent layer type of the model."""
    return []
