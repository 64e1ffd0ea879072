"""Probing a `torch.export` program: every call's input and output arrays, from one run.

The program's graph is run node by node (`torch.fx.Interpreter` over `ep.graph_module`, with the
parameters, buffers and constants fed as the placeholders they are), so every intermediate tensor
is at hand and nothing but ATen operators runs: a node whose target is not an ATen operator (or
`operator.getitem`) stops the probe before anything runs. `ExportedProgram.module()` is never
called (it compiles the archive's guard code). Arrays keep PyTorch's layout (channels first),
which is the IR's for these records; the batch axis is first.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from generator.exceptions import CourseError
from generator.model.graph import ModelGraph
from generator.model.probe import LayerIO, Probe, load_sample_file
from generator.model.torch_attrs import PASS_THROUGH, op_name, shape_of
from generator.model.torch_frontend import _Program, call_records, exported_calls

_RUNNABLE_NAMESPACES = ("aten", "prims")


def _check_runnable(program: _Program) -> None:
    """Refuse a graph that would call anything but an ATen operator."""
    import torch

    for node in program.functions:
        target = node.target
        if target is operator.getitem:
            continue
        if not isinstance(target, torch._ops.OpOverload) or target.namespace not in (
            _RUNNABLE_NAMESPACES
        ):
            raise CourseError(f"the program calls {target!r}, not an ATen operator: not run")


def _dtype(node: Any) -> Any:
    return node.meta["val"].dtype


def _id_range(program: _Program, graph: ModelGraph, name: str) -> int:
    """The smallest `input_dim` of an Embedding reading input `name` (2 if none)."""
    dims = [
        layer.attrs["input_dim"]
        for layer in graph.layers
        if layer.type == "Embedding" and name in layer.inbound
    ]
    return int(min(dims)) if dims else 2


def random_torch_sample(ep: Any, graph: ModelGraph, seed: int = 0) -> list[np.ndarray]:
    """A seeded sample shaped as the program was exported (its batch size included): uniform in
    [-1, 1], integer ids in range for an `Embedding`."""
    program = _Program(ep)
    rng = np.random.default_rng(seed)
    arrays = []
    for node in program.user_inputs:
        shape, dtype = shape_of(node), _dtype(node)
        if dtype.is_floating_point:
            arrays.append(rng.uniform(-1.0, 1.0, size=shape).astype(np.float32))
        else:
            high = _id_range(program, graph, node.name)
            arrays.append(rng.integers(0, high, size=shape).astype(np.int64))
    return arrays


def as_torch_sample(graph: ModelGraph, sample: Any) -> list[np.ndarray]:
    """A given sample (one array, a list in input order, or a dict by input name) as one array
    per model input, each checked against the input's shape (PyTorch's layout) after the batch."""
    names = [t.name for t in graph.inputs]
    if isinstance(sample, Mapping):
        missing = [n for n in names if n not in sample]
        if missing:
            raise CourseError(f"the sample has no array for input {missing[0]!r}")
        parts = [sample[n] for n in names]
    else:
        parts = list(sample) if isinstance(sample, list | tuple) else [sample]
    if len(parts) != len(names):
        raise CourseError(f"the sample has {len(parts)} arrays; the model has {len(names)} inputs")
    arrays = []
    for tensor, part in zip(graph.inputs, parts, strict=True):
        array, wanted = np.asarray(part), tuple(tensor.shape[1:])
        if array.shape[1:] != wanted:
            raise CourseError(
                f"the sample for input {tensor.name!r} has shape {array.shape}; the input takes "
                f"(batch, {', '.join(map(str, wanted))}) (PyTorch's layout, channels first)"
            )
        arrays.append(array)
    return arrays


def read_torch_sample(path: str | Path, graph: ModelGraph) -> list[np.ndarray]:
    """The sample in `path` for a model read from PyTorch, in PyTorch's layout (see
    `generator.model.probe.load_sample_file`)."""
    return load_sample_file(path, len(graph.inputs), lambda sample: as_torch_sample(graph, sample))


def _fed(program: _Program, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """The sample in the exported batch size and dtypes (the program is traced for both)."""
    fed = []
    for node, array in zip(program.user_inputs, arrays, strict=True):
        if array.shape != shape_of(node):
            raise CourseError(
                f"the sample for input {node.name!r} has shape {array.shape}; the program was "
                f"exported for {shape_of(node)}"
            )
        fed.append(array.astype(np.float32 if _dtype(node).is_floating_point else np.int64))
    return fed


def probe_exported(ep: Any, graph: ModelGraph, sample: Any = None, seed: int = 0) -> Probe:
    """Every IR call's input and output arrays on `sample` (drawn when `None`), by call name.

    Args:
        ep: the exported program `graph` was described from.
        graph: `describe_exported(ep)`.
        sample: the inputs (see `as_torch_sample`), in PyTorch's layout.
        seed: the random sample's seed.
    """
    import torch

    program = _Program(ep)
    _check_runnable(program)
    if sample is None:
        arrays = random_torch_sample(ep, graph, seed)  # the exported batch size: its items
    else:
        arrays = _fed(program, as_torch_sample(graph, sample))
    feeds = iter(torch.from_numpy(a) for a in arrays)
    args = [
        program.tensor(node) if program.is_state(node) else next(feeds)
        for node in program.placeholders
    ]
    values: dict[str, Any] = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, node):
            out = super().run_node(node)
            if isinstance(out, torch.Tensor):  # copied now: an in-place op may change it later
                values[node.name] = _array(out)
            return out

    with torch.no_grad():
        Recorder(ep.graph_module).run(*args)
    layers: dict[str, LayerIO] = {}
    for call in exported_calls(ep):
        if not call.module and op_name(call.main) in PASS_THROUGH and len(call.inputs) == 1:
            continue
        for record, inputs, outputs, _ in call_records(call, program):
            layers[record.name] = LayerIO(
                inputs=tuple(values[n.name] for n in inputs),
                outputs=tuple(values[n.name] for n in outputs),
            )
    return Probe(sample=tuple(arrays), layers=layers)


def _array(value: Any) -> np.ndarray:
    array = value.detach().cpu().numpy()
    return array.astype(np.float64) if np.issubdtype(array.dtype, np.floating) else array
