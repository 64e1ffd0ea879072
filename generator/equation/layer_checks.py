"""Each layer's equation evaluated with NumPy on Keras's own inputs, compared with Keras's output.

The arrays come from `generator.model.probe`: what Keras fed each layer inside the whole model
and what the layer returned. A small output is compared whole; a big one at the positions its
equation samples (at least `POSITIONS`, corners included).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generator.layers.derive import Check, DerivedLayer, DerivedModel
from generator.layers.registry import LayerEquation, WorkedExample
from generator.model.graph import LayerRecord
from generator.model.probe import LayerIO, first_items

#: Outputs up to this many numbers (with the batch) are compared whole.
WHOLE_OUTPUT = 512
#: Positions compared in a bigger output (a 4-D output has 16 corners, then 8 inside).
POSITIONS = 24
#: Largest difference that passes, relative for outputs above 1 in magnitude. Keras computes in
#: float32 and NumPy here in float64, so a long sum differs in its last float32 digits.
TOLERANCE = 1e-4
CHECK_NAME = "layer equations vs {framework}"


@dataclass(frozen=True)
class LayerCheck:
    """One layer's equation against Keras: passed, largest difference, positions compared."""

    passed: bool
    max_abs_error: float
    positions: int
    detail: str = ""

    def to_json(self) -> dict:
        return {
            "passed": self.passed,
            "max_abs_error": self.max_abs_error,
            "positions": self.positions,
        }


@dataclass(frozen=True)
class CheckedExample:
    """A worked example and Keras's value at the same output element."""

    example: WorkedExample
    keras_value: float
    #: What the padding does to this element, when its window reaches into it ("" if not).
    padding: str = ""


@dataclass(frozen=True)
class EquationChecks:
    """The model's check line, each compared layer's result, the worked examples, and the
    layers left out (`skipped`)."""

    check: Check
    layers: dict[str, LayerCheck] = field(default_factory=dict)
    worked: dict[str, CheckedExample] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()
    windows: dict[str, InputWindow] = field(default_factory=dict)


#: Layer types whose worked example is drawn (the first of each kind in a model).
DRAWN = {"Conv2D": "convolution", "MaxPooling2D": "pooling", "AveragePooling2D": "pooling"}


@dataclass(frozen=True)
class InputWindow:
    """The part of a layer's input (first item) around its worked example, for the drawing.

    `values[r, c, :]` is the input at `(top + r, left + c)`; `size` is the whole input's
    `(rows, columns)`, which the padding depends on. Only this crop is kept: pages stay small.
    """

    values: np.ndarray
    top: int
    left: int
    size: tuple[int, int]


def input_window(layer: DerivedLayer, io: LayerIO, index: tuple[int, ...]) -> InputWindow | None:
    """The input rows and columns any window of output `index` can read, one cell around it."""
    x = np.asarray(first_items(io.inputs)[0], dtype=np.float64)
    if x.ndim != 4 or len(index) != 3:
        return None
    attrs = layer.record.attrs
    sizes = attrs.get("kernel_size") or attrs.get("pool_size") or (2, 2)
    strides = attrs.get("strides") or sizes
    sizes = (sizes, sizes) if isinstance(sizes, int) else sizes
    strides = (strides, strides) if isinstance(strides, int) else strides
    bounds = []
    for axis in (0, 1):
        # A window starts at i s - p with 0 <= p < kernel size; one cell of context each side.
        centre, size = index[axis] * int(strides[axis]), int(sizes[axis])
        bounds.append((max(centre - size, 0), min(centre + size + 1, x.shape[axis + 1])))
    (r0, r1), (c0, c1) = bounds
    return InputWindow(x[0, r0:r1, c0:c1, :].copy(), r0, c0, (x.shape[1], x.shape[2]))


def equation_object(layer: DerivedLayer) -> LayerEquation | None:
    """The layer's equation if it is an object that evaluates (a LaTeX string does not)."""
    equation = layer.equation
    return equation if isinstance(equation, LayerEquation) else None


def layer_weights(math: DerivedModel, layer: DerivedLayer) -> dict[str, np.ndarray]:
    """`WeightRecord.name -> array` for one layer, from the graph's weight values."""
    values = math.graph.weight_values
    name = layer.record.name
    return {
        w.name: values[(name, w.name)] for w in layer.record.weights if (name, w.name) in values
    }


def compare_layer(
    equation: LayerEquation,
    io: LayerIO,
    weights: Mapping[str, np.ndarray],
    rng: np.random.Generator,
    tolerance: float = TOLERANCE,
) -> LayerCheck:
    """Evaluate `equation` on the layer's inputs and compare with the layer's first output."""
    expected = np.asarray(io.outputs[0], dtype=np.float64)
    inputs = list(io.inputs)
    try:
        if expected.size <= WHOLE_OUTPUT:
            ours = np.asarray(equation.evaluate(inputs, weights), dtype=np.float64)
            if ours.shape != expected.shape:
                return LayerCheck(
                    False, float("inf"), 0, f"shape {ours.shape}, Keras {expected.shape}"
                )
            reference = expected
        else:
            positions = np.asarray(equation.sample_positions(expected.shape, POSITIONS, rng))
            ours = np.asarray(equation.evaluate(inputs, weights, positions), dtype=np.float64)
            reference = expected[tuple(positions.T)]
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - an equation that cannot run is a failed check
        return LayerCheck(False, float("inf"), 0, f"{type(exc).__name__}: {exc}")
    diff = np.abs(ours - reference)
    largest = float(diff.max()) if diff.size else 0.0
    scaled = diff / np.maximum(1.0, np.abs(reference))
    passed = bool(np.all(np.isfinite(ours))) and bool(not scaled.size or scaled.max() <= tolerance)
    return LayerCheck(passed, largest, int(reference.size))


#: What padding does to a worked example whose window reaches into it, by layer family.
PADDING_NOTES = {
    "Conv": "its window reaches into the padding, whose zeros add nothing to the sum",
    "MaxPooling": "its window reaches into the padding, which never wins the maximum",
    "AveragePooling": "its window reaches into the padding, which the mean leaves out: it "
    "divides by the inputs inside only",
}


def reads_padding(record: LayerRecord, index: tuple[int, ...]) -> bool:
    """Whether output `index`'s window (a convolution's or a pooling's) reads the padding."""
    attrs = record.attrs
    size = attrs.get("kernel_size") or attrs.get("pool_size")
    pads = attrs.get("pads")
    if size is None or not pads or "Transpose" in record.type or not any(map(any, pads)):
        return False
    rank = len(pads)
    first = record.layout == "channels_first"
    spatial = index[1 : 1 + rank] if first else index[:rank]
    sizes = record.input_shape[2 : 2 + rank] if first else record.input_shape[1 : 1 + rank]
    size, strides, dilations = (
        _per_axis(v, rank)
        for v in (size, attrs.get("strides") or size, attrs.get("dilation_rate", 1))
    )
    for i, n, k, s, d, (before, _) in zip(
        spatial, sizes, size, strides, dilations, pads, strict=True
    ):
        start = i * s - before
        if n is not None and (start < 0 or start + d * (k - 1) > n - 1):
            return True
    return False


def _per_axis(value: Any, rank: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (int(value),) * rank


def _padding_note(record: LayerRecord, index: tuple[int, ...]) -> str:
    family = next((f for f in PADDING_NOTES if f in record.type), None)
    return PADDING_NOTES[family] if family and reads_padding(record, index) else ""


def _worked(
    equation: LayerEquation,
    io: LayerIO,
    weights: Mapping[str, np.ndarray],
    record: LayerRecord | None = None,
) -> CheckedExample | None:
    try:
        example = equation.worked_example(first_items(io.inputs), weights)
    except NotImplementedError:
        return None
    if example is None:
        return None
    keras_value = float(np.asarray(io.outputs[0])[(0, *example.index)])
    note = _padding_note(record, example.index) if record is not None else ""
    return CheckedExample(example, keras_value, note)


def check_equations(
    math: DerivedModel,
    probed: Mapping[str, LayerIO],
    seed: int = 0,
    inner: Mapping[str, EquationChecks] | None = None,
    framework: str = "Keras",
) -> EquationChecks:
    """Every layer whose equation is an object, evaluated and compared with Keras.

    `inner` holds the checks of nested models' own layers (by the nested layer's name); their
    results count as `outer/inner`. Layers without an equation object, nested models not
    probed and layers Keras did not run are counted as not compared, and the check line says so.
    """
    rng = np.random.default_rng(seed)
    inner = inner or {}
    results: dict[str, LayerCheck] = {}
    worked: dict[str, CheckedExample] = {}
    windows: dict[str, InputWindow] = {}
    drawn: set[str] = set()
    no_equation, nested = [], []
    for layer in math.layers:
        name = layer.record.name
        equation = equation_object(layer)
        if layer.children is not None:
            if name not in inner:
                nested.append(name)
                continue
            results.update({f"{name}/{k}": v for k, v in inner[name].layers.items()})
            no_equation += [f"{name}/{k}" for k in inner[name].skipped]
            continue
        if equation is None or name not in probed:
            no_equation.append(name)
            continue
        weights = layer_weights(math, layer)
        try:
            results[name] = compare_layer(equation, probed[name], weights, rng)
        except NotImplementedError:
            no_equation.append(name)
            continue
        try:
            example = _worked(equation, probed[name], weights, layer.record)
        except Exception as exc:  # noqa: BLE001 - a worked example that cannot run fails too
            if not results[name].passed:
                continue
            results[name] = LayerCheck(
                False,
                results[name].max_abs_error,
                results[name].positions,
                f"worked example: {type(exc).__name__}: {exc}",
            )
            continue
        if example is not None:
            worked[name] = example
            kind = DRAWN.get(layer.record.type)
            if kind and kind not in drawn:
                window = input_window(layer, probed[name], example.example.index)
                if window is not None:
                    windows[name] = window
                    drawn.add(kind)
    summary = _summary(results, no_equation, nested, framework)
    return EquationChecks(summary, results, worked, tuple(no_equation + nested), windows=windows)


def _names(names: list[str], most: int = 4) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _summary(
    results: dict[str, LayerCheck], no_equation: list[str], nested: list[str], framework: str
) -> Check:
    """`6 of 6 layers agree, largest difference 2.4e-7`, with what was not compared."""
    bad = [name for name, r in results.items() if not r.passed]
    if results:
        largest = max(r.max_abs_error for r in results.values())
        detail = (
            f"{len(results) - len(bad)} of {len(results)} layers agree, "
            f"largest difference {largest:.2g}"
        )
    else:
        detail = "no layer has an equation to evaluate"
    if bad:
        reasons = [f"{n}: {results[n].detail}" if results[n].detail else n for n in bad]
        detail += f"; differ: {_names(reasons)}"
    skipped = []
    if no_equation:
        skipped.append(
            f"{len(no_equation)} without an equation to evaluate ({_names(no_equation)})"
        )
    if nested:
        skipped.append(f"{len(nested)} nested model{'s' * (len(nested) > 1)} ({_names(nested)})")
    if skipped:
        detail += "; not compared: " + ", ".join(skipped)
    return Check(CHECK_NAME.format(framework=framework), not bad, detail)
