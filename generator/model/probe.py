"""Probing a Keras model: every layer call's input and output arrays, from one `predict`.

The equation check (`generator.equation.layer_checks`) evaluates each layer's equation on the
arrays Keras fed that layer and compares with what the layer returned. One `keras.Model` over all
intermediate tensors gives both for every layer at once. Keras is imported lazily.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from generator.exceptions import CourseError
from generator.model.keras_calls import (  # noqa: F401  (the open sizes are the probe's)
    OPEN_IMAGE,
    OPEN_LENGTH,
    call_tensors,
    open_shape,
)

#: Items of a random sample; the first is the worked examples' item. An image-sized input gets
#: one item: each layer's output is then already thousands of numbers to compare.
SAMPLE_ITEMS = 2
LARGE_INPUT = 4096


@dataclass(frozen=True)
class LayerIO:
    """What one layer call received and returned, with the batch axis.

    `masks` holds the Keras mask of each input (`None` where there is none), so that a recurrent
    layer after `Embedding(mask_zero=True)` can be evaluated as Keras ran it.
    """

    inputs: tuple[np.ndarray, ...]
    outputs: tuple[np.ndarray, ...]
    masks: tuple[np.ndarray | None, ...] = ()


@dataclass(frozen=True)
class Probe:
    """The sample fed to the model (one array per input, in order) and every layer's arrays."""

    sample: tuple[np.ndarray, ...]
    layers: dict[str, LayerIO]


def _graph_model(model: Any) -> Any:
    return getattr(model, "_functional", None) or model


def _first_calls(graph_model: Any) -> list[Any]:
    """Each layer's first node in the order the frontend records layers (the recorded call)."""
    from generator.model.frontend import _nodes_in_order

    seen: set[int] = set()
    nodes = []
    for node in _nodes_in_order(graph_model):
        layer = node.operation
        if type(layer).__name__ == "InputLayer" or id(layer) in seen:
            continue
        seen.add(id(layer))
        nodes.append(node)
    return nodes


def recorded_calls(graph_model: Any) -> list[Any]:
    """Each layer's recorded call (its node) in a functional graph, in the frontend's order."""
    return _first_calls(graph_model)


def _id_range(graph_model: Any, tensor: Any) -> int:
    """How many ids an integer input may take: the smallest `input_dim` of a layer reading it."""
    dims = [
        node.operation.input_dim
        for node in _first_calls(graph_model)
        if hasattr(node.operation, "input_dim") and any(t is tensor for t in call_tensors(node))
    ]
    return int(min(dims)) if dims else 2


def random_sample(model: Any, items: int = SAMPLE_ITEMS, seed: int = 0) -> list[np.ndarray]:
    """A seeded sample: uniform in [-1, 1], integer ids in range for an `Embedding`."""
    graph_model = _graph_model(model)
    rng = np.random.default_rng(seed)
    arrays = []
    for tensor in graph_model.inputs:
        shape = (items, *open_shape(tensor.shape))
        dtype = np.dtype(str(tensor.dtype))
        if np.issubdtype(dtype, np.integer):
            arrays.append(rng.integers(0, _id_range(graph_model, tensor), size=shape).astype(dtype))
        else:
            arrays.append(rng.uniform(-1.0, 1.0, size=shape).astype(dtype))
    return arrays


def as_sample(model: Any, sample: Any) -> list[np.ndarray]:
    """A given sample (one array, a list in input order, or a dict by input name) as one array
    per model input, each shaped as the input (batch first) and of its dtype."""
    graph_model = _graph_model(model)
    inputs = list(graph_model.inputs)
    names = [t._keras_history.operation.name for t in inputs]
    if isinstance(sample, Mapping):
        missing = [n for n in names if n not in sample]
        if missing:
            raise CourseError(f"the sample has no array for input {missing[0]!r}")
        parts = [sample[n] for n in names]
    else:
        parts = list(sample) if isinstance(sample, list | tuple) else [sample]
    if len(parts) != len(inputs):
        raise CourseError(f"the sample has {len(parts)} arrays; the model has {len(inputs)} inputs")
    arrays = []
    for name, tensor, part in zip(names, inputs, parts, strict=True):
        array = np.asarray(part)
        wanted = tuple(tensor.shape[1:])
        if None not in wanted and array.size % max(1, int(np.prod(wanted))) == 0 and array.size:
            array = array.reshape(-1, *wanted)
        if array.ndim != len(tensor.shape):
            raise CourseError(
                f"the sample for input {name!r} has shape {array.shape}; "
                f"the input takes {tuple(tensor.shape)}"
            )
        arrays.append(array.astype(np.dtype(str(tensor.dtype))))
    return arrays


def read_sample(path: str | Path, model: Any) -> list[np.ndarray]:
    """The sample in `path` for a Keras model (see `load_sample_file`)."""
    inputs = len(_graph_model(model).inputs)
    return load_sample_file(path, inputs, lambda sample: as_sample(model, sample))


def load_sample_file(
    path: str | Path, inputs: int, convert: Callable[[Any], list[np.ndarray]]
) -> list[np.ndarray]:
    """The sample in `path`: `.npy` for a single-input model, `.npz` keyed by input name,
    turned into one array per input by `convert` (the frontend's own shape rules).

    Raises:
        CourseError: one line naming the file, for a missing or unreadable file, a wrong kind
            of file, a missing input or a shape the model does not take.
    """
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"{path}: no such sample file")
    if path.suffix not in (".npy", ".npz"):
        raise CourseError(f"{path}: a sample is a .npy file (one input) or .npz (by input name)")
    try:
        loaded = np.load(path, allow_pickle=False)
        sample = dict(loaded.items()) if path.suffix == ".npz" else loaded
    except (OSError, ValueError, EOFError) as exc:
        raise CourseError(f"{path}: not a NumPy {path.suffix} file ({exc})") from None
    try:
        if path.suffix == ".npy" and inputs != 1:
            raise CourseError("the model has several inputs: give an .npz keyed by input name")
        return convert(sample)
    except CourseError as exc:
        raise CourseError(f"{path}: {exc.message}") from None


def probe_layers(model: Any, sample: Any = None, seed: int = 0) -> Probe:
    """Every layer call's inputs, outputs and input masks on `sample` (drawn when `None`).

    One `keras.Model` from the model's inputs to every tensor a layer reads or writes, and one
    call: each layer's arrays are exactly what Keras computed inside the whole model.
    """
    import keras

    graph_model = _graph_model(model)
    if sample is None:
        shapes = [open_shape(t.shape) for t in graph_model.inputs]
        size = sum(int(np.prod(shape)) for shape in shapes)
        items = 1 if size > LARGE_INPUT else SAMPLE_ITEMS
        arrays = random_sample(model, items=items, seed=seed)
    else:
        arrays = as_sample(model, sample)
    fed = {id(t): a for t, a in zip(graph_model.inputs, arrays, strict=True)}
    nodes = _first_calls(graph_model)
    wanted: dict[int, Any] = {}
    for node in nodes:
        for tensor in (*call_tensors(node), *node.outputs):
            if id(tensor) not in fed:
                wanted.setdefault(id(tensor), tensor)
        for tensor in call_tensors(node):
            mask = getattr(tensor, "_keras_mask", None)
            if mask is not None:
                wanted.setdefault(id(mask), mask)
    values = dict(fed)
    if wanted:
        probe = keras.Model(graph_model.inputs, list(wanted.values()))
        # One eager call: `predict` would trace a function first, which costs far more than
        # running a single batch through once.
        outs = probe(list(arrays), training=False)
        outs = outs if isinstance(outs, list | tuple) else [outs]
        values.update(zip(wanted, (keras.ops.convert_to_numpy(o) for o in outs), strict=True))
    layers = {}
    for node in nodes:
        masks = tuple(
            None if getattr(t, "_keras_mask", None) is None else values[id(t._keras_mask)]
            for t in call_tensors(node)
        )
        layers[node.operation.name] = LayerIO(
            inputs=tuple(values[id(t)] for t in call_tensors(node)),
            outputs=tuple(values[id(t)] for t in node.outputs),
            masks=masks if any(m is not None for m in masks) else (),
        )
    return Probe(sample=tuple(arrays), layers=layers)


def first_items(arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The first item of each array, keeping the batch axis."""
    return [a[:1] for a in arrays]
