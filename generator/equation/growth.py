"""How the written-out expression grows with width and depth: the reason we keep layers.

The networks are dense chains with random weights (no training, no Keras): the same walk as
`compose_equation` runs on a small in-memory graph, so counts are exact for any size and the
expression is only built (and timed) where it fits.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from generator.equation.algebra import CountAlgebra, SympyAlgebra, expression_ops
from generator.equation.build import WeightSource, input_symbols, walk
from generator.model.activations import LayerActivation
from generator.model.graph import LayerRecord, ModelGraph, TensorRecord, WeightRecord


@dataclass(frozen=True)
class GrowthRow:
    """One architecture: its size, the operations of its expansion, and the time to build it.

    Attributes:
        architecture: units per layer, inputs first: `(1, 10, 10, 1)`.
        depth: weight layers.
        params: weights and biases.
        ops: operations of the written-out expression (all outputs), counted without building.
        built_ops: operations counted on the built sympy expression (`None` if not built).
        seconds: time to build the expressions (`None` if over `build_limit`).
    """

    architecture: tuple[int, ...]
    depth: int
    params: int
    ops: int
    built_ops: int | None
    seconds: float | None


def dense_chain(architecture: Sequence[int], activation: str = "tanh", seed: int = 0) -> ModelGraph:
    """A model graph of Dense layers with random (Glorot-like) weights, as the frontend
    would describe it."""
    rng = np.random.default_rng(seed)
    layers, values = [], {}
    previous = "input"
    for i, (n_in, n_out) in enumerate(zip(architecture[:-1], architecture[1:], strict=True)):
        name = f"dense_{i}"
        last = i == len(architecture) - 2
        attrs = {
            "units": n_out,
            "activation": LayerActivation("linear" if last else activation),
            "use_bias": True,
            "layout": "channels_last",
        }
        layers.append(
            LayerRecord(
                name=name,
                type="Dense",
                attrs=attrs,
                input_shapes=((None, n_in),),
                output_shapes=((None, n_out),),
                inbound=(previous,),
                weights=(
                    WeightRecord("kernel", (n_in, n_out), True),
                    WeightRecord("bias", (n_out,), True),
                ),
                framework_params=(n_in + 1) * n_out,
                framework_trainable=(n_in + 1) * n_out,
            )
        )
        scale = np.sqrt(2.0 / (n_in + n_out))
        values[(name, "kernel")] = rng.normal(scale=scale, size=(n_in, n_out))
        values[(name, "bias")] = rng.normal(scale=0.1, size=n_out)
        previous = name
    return ModelGraph(
        name="chain",
        type="Sequential",
        inputs=(TensorRecord("input", (None, architecture[0])),),
        outputs=(TensorRecord(previous, (None, architecture[-1])),),
        layers=tuple(layers),
        output_layers=(previous,),
        weight_values=values,
    )


def _resolve(layer: LayerRecord) -> LayerActivation:
    return layer.attrs["activation"]


def expression_growth(
    architectures: Sequence[Sequence[int]],
    activation: str = "tanh",
    build_limit: int = 100_000,
    seed: int = 0,
) -> list[GrowthRow]:
    """Count (and, under `build_limit` operations, build and time) each architecture's
    expanded expression."""
    rows = []
    for arch in architectures:
        graph = dense_chain(arch, activation, seed)
        inputs = input_symbols(graph)
        weights = WeightSource(graph)
        ops = sum(walk(graph, CountAlgebra(), [0] * len(inputs), _resolve, weights).outputs)
        built = seconds = None
        if ops <= build_limit:
            start = time.perf_counter()
            exprs = walk(graph, SympyAlgebra(), inputs, _resolve, weights).outputs
            seconds = time.perf_counter() - start
            built = sum(expression_ops(e) for e in exprs)
        rows.append(
            GrowthRow(
                architecture=tuple(arch),
                depth=len(arch) - 1,
                params=graph.framework_params,
                ops=ops,
                built_ops=built,
                seconds=seconds,
            )
        )
    return rows


def growth_table(rows: Sequence[GrowthRow]) -> str:
    """The rows as a Markdown table (no math inside, so it renders anywhere)."""
    lines = [
        "| architecture | depth | parameters | operations written out |",
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        arch = "-".join(str(n) for n in row.architecture)
        lines.append(f"| {arch} | {row.depth} | {row.params:,} | {row.ops:,} |")
    return "\n".join(lines)
