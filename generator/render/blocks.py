"""Repeated blocks: runs of layer calls that repeat one pattern, as ResNet's bottlenecks do.

A block is recognised from the IR alone (`generator.model.graph`): each call gets a signature
(its type, its attributes without names, its shapes, its weights' shapes, and where its inputs
come from counted backwards from it), and a run is the same sequence of signatures two or more
times in a row. Each copy must be closed: its calls read only each other and the tensor just
before the copy, and nothing after the copy reads any of its calls but the last. So ResNet50's
stage 3 is its first block (a projection on the shortcut) and then three copies of one pattern;
MobileNetV2's inverted residuals and a stack of transformer layers fold the same way.

Pages show the first copy whole and fold the others into one row or box ("block 2-4 x 3, like
block 1"); the whole list stays one click away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any

from generator.model.graph import LayerRecord, ModelGraph, TensorRecord, TensorRef, as_ref

#: The shortest block folded; a single call folds only when it is a block itself (a nested
#: model or a composite layer such as a transformer layer), so a plain MLP stays whole.
MIN_LENGTH = 2
#: The class of the collapsed notes and details that hold a folded model's whole list (the
#: table, the diagram, the layered form): a page may typeset their math only when opened.
ALL_LAYERS = "naf-all-layers"
#: The type of the call that stands for a run's folded copies in `folded_graph`.
FOLDED = "Repeated block"
#: The longest block looked for, which bounds the search on very deep models.
MAX_LENGTH = 200


@dataclass(frozen=True)
class Repeat:
    """A run of `count` copies of a block of `length` calls, the first starting at call `start`
    (0-based, in the order of `ModelGraph.layers`)."""

    start: int
    length: int
    count: int

    @property
    def first(self) -> range:
        """The calls of the first copy, shown whole."""
        return range(self.start, self.start + self.length)

    @property
    def folded(self) -> range:
        """The calls of the copies after the first, folded."""
        return range(self.start + self.length, self.start + self.length * self.count)

    def copy(self, k: int) -> range:
        """The calls of copy `k` (0 is the first)."""
        begin = self.start + k * self.length
        return range(begin, begin + self.length)


def repeated_blocks(graph: ModelGraph) -> tuple[Repeat, ...]:
    """The runs of repeated blocks of a model's calls, left to right, not overlapping.

    At each call, the run starting there that covers the most calls wins (the shortest block
    among equals); the search then goes on after it.
    """
    layers = graph.layers
    tokens = _tokens(layers, [t.name for t in graph.inputs])
    readers = _readers(graph)
    runs: list[Repeat] = []
    i, n = 0, len(layers)
    while i < n:
        best: Repeat | None = None
        for length in range(1, min(MAX_LENGTH, (n - i) // 2) + 1):
            if length < MIN_LENGTH and layers[i].children is None:
                continue
            block = tokens[i : i + length]
            count = 1
            while tokens[i + count * length : i + (count + 1) * length] == block:
                count += 1
            while count > 1 and not all(
                _closed(layers, readers, i + k * length, length) for k in range(count)
            ):
                count -= 1
            if count > 1 and (best is None or count * length > best.count * best.length):
                best = Repeat(i, length, count)
        if best is None:
            i += 1
        else:
            best = _aligned(best, tokens, layers, readers)
            runs.append(best)
            i = best.start + best.length * best.count
    return tuple(runs)


def _aligned(run: Repeat, tokens: list[int], layers: Sequence[LayerRecord], readers) -> Repeat:
    """The run shifted to start where its input forks (a residual block starts at the call
    that both the branch and the shortcut read, not one call later), when that keeps it."""
    if _forks(layers, run.start, run.length):
        return run
    for shift in range(1, run.length):
        start = run.start + shift
        block = tokens[start : start + run.length]
        if any(
            tokens[start + k * run.length : start + (k + 1) * run.length] != block
            for k in range(run.count)
        ):
            break
        if _forks(layers, start, run.length) and all(
            _closed(layers, readers, start + k * run.length, run.length) for k in range(run.count)
        ):
            return Repeat(start, run.length, run.count)
    return run


def _forks(layers: Sequence[LayerRecord], start: int, length: int) -> bool:
    """Whether two or more calls of the block read the tensor it starts from."""
    if start == 0:  # the first call: the block starts from the model input it reads
        entry = next(iter(layers[0].inbound_calls), None)
    else:
        entry = layers[start - 1].name
    return sum(entry in layers[k].inbound_calls for k in range(start, start + length)) >= 2


def folded_calls(runs: Sequence[Repeat]) -> set[int]:
    """The indices of every call a page folds away."""
    return {i for run in runs for i in run.folded}


def folded_graph(graph: ModelGraph, runs: Sequence[Repeat]) -> ModelGraph:
    """The graph with each run's later copies replaced by one call of type `FOLDED`.

    The call is named after the layers it stands for (`layers 29–48`), reads what the first
    folded copy reads and gives what the last one gives; its code line says what it repeats.
    """
    layers = graph.layers
    stands_for: dict[str, str] = {}  # the last call of a run's copies -> the folded call
    kept: list[LayerRecord] = []
    starts = {run.folded[0]: run for run in runs}
    skip = folded_calls(runs)
    for i, layer in enumerate(layers):
        if i in starts:
            run = starts[i]
            first, last = run.first, run.folded
            copies = run.count - 1
            exit_ = layers[last[-1]]
            name = f"layers {last[0] + 1}–{last[-1] + 1}"
            stands_for[exit_.name] = name
            kept.append(
                LayerRecord(
                    name=name,
                    type=FOLDED,
                    attrs={},
                    input_shapes=(layers[last[0] - 1].output_shape,),
                    output_shapes=exit_.output_shapes,
                    inbound=(layers[last[0] - 1].name,),
                    weights=(),
                    framework_params=sum(layers[k].framework_params for k in last),
                    framework_trainable=sum(layers[k].framework_trainable for k in last),
                    code=(
                        f"{copies} more {'block' if copies == 1 else 'blocks'} like layers "
                        f"{first[0] + 1}–{first[-1] + 1} ({run.length} layers each)"
                    ),
                )
            )
        if i in skip:
            continue
        inbound = tuple(_renamed(ref, stands_for) for ref in layer.inbound)
        kept.append(replace(layer, inbound=inbound) if inbound != layer.inbound else layer)
    outputs = tuple(TensorRecord(_renamed(t.name, stands_for), t.shape) for t in graph.outputs)
    return replace(
        graph,
        layers=tuple(kept),
        outputs=outputs,
        output_layers=tuple(_renamed(name, stands_for) for name in graph.output_layers),
    )


def _renamed(ref: str, stands_for: dict[str, str]) -> str:
    ref = as_ref(ref)
    if ref.call not in stands_for:
        return ref
    return TensorRef(stands_for[ref.call], ref.output, 1 if str(ref) == ref.call else 2)


def _tokens(layers: Sequence[LayerRecord], inputs: Sequence[str]) -> list[int]:
    """Each call's signature as a small int (equal signatures, equal ints).

    Model inputs count as the calls just before the first (input k at -1-k), so a first block
    reading the input matches a later one reading the call before it.
    """
    index = {name: -1 - k for k, name in enumerate(inputs)}
    index.update({layer.name: i for i, layer in enumerate(layers)})
    seen: dict[str, int] = {}
    tokens = []
    for i, layer in enumerate(layers):
        sources = tuple(
            (i - index[ref.call], ref.output) if ref.call in index else ("input", ref.call)
            for ref in map(as_ref, layer.inbound)
        )
        key = repr((_signature(layer), sources, bool(layer.shares)))
        tokens.append(seen.setdefault(key, len(seen)))
    return tokens


def _signature(layer: LayerRecord) -> tuple:
    """What a call computes, without its name or its inputs' names."""
    children = tuple(_signature(child) for child in layer.children.layers) if layer.children else ()
    return (
        layer.type,
        _canonical(layer.attrs),
        layer.input_shapes,
        layer.output_shapes,
        tuple((w.role, w.shape, w.trainable) for w in layer.weights),
        layer.framework_params,
        layer.trainable,
        children,
    )


def _canonical(value: Any) -> Any:
    """A value with every `name` left out, as nested tuples that compare and print stably."""
    if isinstance(value, LayerRecord):
        return _signature(value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _canonical(v)) for k, v in value.items() if k != "name"))
    if isinstance(value, list | tuple):
        return tuple(_canonical(v) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, *(_canonical(getattr(value, f.name)) for f in fields(value)))
    if hasattr(value, "tolist"):
        return _canonical(value.tolist())
    return value if isinstance(value, bool | int | float | str | None) else repr(value)


def _readers(graph: ModelGraph) -> dict[str, list[int]]:
    """For each call, the indices of the calls reading it (`len(layers)` for a model output)."""
    readers: dict[str, list[int]] = {}
    for i, layer in enumerate(graph.layers):
        for call in layer.inbound_calls:
            readers.setdefault(call, []).append(i)
    for output in graph.outputs:
        readers.setdefault(as_ref(output.name).call, []).append(len(graph.layers))
    return readers


def _closed(
    layers: Sequence[LayerRecord], readers: dict[str, list[int]], start: int, length: int
) -> bool:
    """Whether calls `start .. start+length-1` read only each other and the call (or model input)
    just before them, and only their last call is read after them."""
    inside = {layers[k].name for k in range(start, start + length)}
    entry = layers[start - 1].name if start else None
    for k in range(start, start + length):
        for call in layers[k].inbound_calls:
            if call in inside:
                continue
            if entry is not None and call != entry:
                return False
            entry = call  # the first block of a model reads a model input
        if k < start + length - 1 and any(
            r >= start + length for r in readers.get(layers[k].name, [])
        ):
            return False
    return True
