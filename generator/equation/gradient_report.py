"""A model's gradients as plain data for the pages: backward equations, chain rule, checks.

`model_gradient_report` runs where Keras is loaded (the CLI, a lesson's `publish()`): it checks
the chain rule against `tf.GradientTape` (`check_gradients`), prints every layer's backward
equation, works one weight's gradient out with its numbers and, for a small MLP, checks the
closed form of `dL/dW`. What it returns holds only strings, numbers and tuples, so it pickles
beside the model's math and the build renders it without TensorFlow.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from generator.equation.gradient_closed_form import closed_form_weights, mlp_closed_form
from generator.equation.gradients import (
    CHECK_NAME,
    TOLERANCE,
    GradientStep,
    ModelGradients,
    check_gradients,
    layer_number,
    model_loss,
)
from generator.equation.layer_checks import layer_weights
from generator.layers.derive import Check, DerivedModel
from generator.layers.gradients.registry import backward_equation
from generator.model.probe import LayerIO, probe_layers

#: Items of the batch written out term by term in the worked example.
WORKED_TERMS = 4


@dataclass(frozen=True)
class LayerBackward:
    """One call's backward equation, printed: one LaTeX line per stage (none: no equation)."""

    name: str
    type: str
    number: int
    lines: tuple[str, ...]


@dataclass(frozen=True)
class WorkedGradient:
    """One weight's gradient with its numbers: `dL/dW_{j,i} = sum_n delta_{n,j} a_{n,i}` for a
    Dense kernel (`terms` holds each item's `(delta, a)`), or the value alone for another
    weight; `ours` from the backward equation, `tape` from `tf.GradientTape`."""

    layer: str
    number: int
    weight: str
    symbol: str
    index: tuple[int, ...]
    terms: tuple[tuple[float, float], ...]
    ours: float
    tape: float


@dataclass(frozen=True)
class ClosedFormReport:
    """The MLP's closed form: `(lhs = rhs)` per weight, the NumPy source, and its largest
    relative difference from `tf.GradientTape`."""

    forward: tuple[str, ...]
    gradients: tuple[str, ...]
    source: str
    error: float

    @property
    def passed(self) -> bool:
        return self.error <= TOLERANCE


@dataclass(frozen=True)
class GradientReport:
    """What a page shows of a model's gradients, or why it shows none (`omitted`)."""

    loss: str = ""
    loss_latex: str = ""
    loss_gradient_latex: str = ""
    value: float = 0.0
    layers: tuple[LayerBackward, ...] = ()
    steps: tuple[GradientStep, ...] = ()
    checks: tuple[tuple[str, float], ...] = ()
    check: Check | None = None
    worked: WorkedGradient | None = None
    closed_form: ClosedFormReport | None = None
    seconds: float = 0.0
    omitted: str = ""

    @property
    def passed(self) -> bool:
        closed = self.closed_form is None or self.closed_form.passed
        return self.check is not None and self.check.passed and closed

    def failure(self) -> Check | None:
        """The first check that failed, if any."""
        return next((c for c in self.all_checks() if not c.passed), None)

    def all_checks(self) -> tuple[Check, ...]:
        """The gradient check and, for an MLP, the closed form's: lines for the page's list."""
        out = () if self.check is None else (self.check,)
        if self.closed_form is not None:
            out += (
                Check(
                    "MLP closed form of dL/dW vs tf.GradientTape",
                    self.closed_form.passed,
                    f"largest difference {self.closed_form.error:.2g}",
                ),
            )
        return out


def omitted_report(reason: str) -> GradientReport:
    """A report that only says why the gradients are not shown."""
    return GradientReport(omitted=reason)


def _backward_lines(math: DerivedModel) -> tuple[LayerBackward, ...]:
    numbers = layer_number(math)
    out = []
    for layer in math.layers:
        record = layer.record
        equation = backward_equation(record)
        if equation is None:
            lines: tuple[str, ...] = ()
        elif hasattr(equation, "lines"):
            lines = tuple(equation.lines()) + ((equation.note,) if equation.note else ())
        else:
            lines = (equation.latex(),)
        out.append(LayerBackward(record.name, record.type, numbers[record.name], lines))
    return tuple(out)


def _worked(math: DerivedModel, grads: ModelGradients, probed: dict[str, LayerIO]):
    """The last Dense kernel's entry with the largest gradient, item by item; else the largest
    entry of the last trainable weight, as a value."""
    numbers = layer_number(math)
    dense = [r.record for r in math.layers if r.record.type == "Dense"]
    dense = [r for r in dense if (r.layer_name, "kernel") in grads.reference]
    if dense and dense[-1].attrs.get("use_bias", True) and len(dense[-1].input_shape) == 2:
        record = dense[-1]
        tape = grads.reference[(record.layer_name, "kernel")]
        i, j = np.unravel_index(int(np.abs(tape).argmax()), tape.shape)
        x = np.asarray(probed[record.name].inputs[0], dtype=np.float64)
        upstream = grads.outputs[record.name]
        layer = next(d for d in math.layers if d.record.name == record.name)
        weights = layer_weights(math, layer)
        equation = backward_equation(record)
        terms = []
        for n in range(len(x)):
            item = equation.evaluate([x[n : n + 1]], weights, upstream[n : n + 1])
            terms.append((float(item["bias"][j]), float(x[n, i])))
        ours = float(grads.weights[(record.layer_name, "kernel")][i, j])
        return WorkedGradient(
            record.name,
            numbers[record.name],
            "kernel",
            "W",
            (int(j), int(i)),
            tuple(terms),
            ours,
            float(tape[i, j]),
        )
    keys = [k for k in grads.reference if k in grads.weights]
    if not keys:
        return None
    key = keys[-1]
    tape = grads.reference[key]
    index = np.unravel_index(int(np.abs(tape).argmax()), tape.shape)
    call = next(r.record for r in math.layers if r.record.layer_name == key[0])
    return WorkedGradient(
        call.name,
        numbers[call.name],
        key[1],
        rf"\mathrm{{{key[1].split('/')[-1]}}}",
        tuple(int(k) for k in index),
        (),
        float(grads.weights[key][index]),
        float(tape[index]),
    )


def _closed_form(math: DerivedModel, grads: ModelGradients, sample) -> ClosedFormReport | None:
    form = mlp_closed_form(math, grads.loss)
    if form is None or len(sample) != 1:
        return None
    values = form.function()(
        np.asarray(sample[0], np.float64),
        np.asarray(grads.target, np.float64),
        **closed_form_weights(math),
    )
    error = 0.0
    for layer in math.layers:
        for w in layer.record.weights:
            key = f"{layer.record.name}/{w.role}"
            theirs = grads.reference.get((layer.record.layer_name, w.name))
            if key in values and theirs is not None:
                diff = np.abs(values[key] - theirs).max(initial=0.0)
                error = max(error, float(diff) / max(1.0, float(np.abs(theirs).max())))
    return ClosedFormReport(
        form.forward_latex, tuple(g.latex for g in form.gradients), form.source, error
    )


def model_gradient_report(
    model: Any, math: DerivedModel, sample: Any = None, loss: str | None = None, seed: int = 0
) -> GradientReport:
    """Check `model`'s gradients against `tf.GradientTape` and keep what the pages show.

    Args:
        model: the Keras model `math` was derived from.
        math: its derivation.
        sample: the inputs (a seeded sample when `None`), as for the forward checks.
        loss: a loss name (`mse`, `categorical_crossentropy`, ...); the model's compiled loss,
            else cross-entropy after a softmax, else MSE when `None`.
        seed: the seed of the sample and the target.

    Raises:
        ValueError: a call on the way has no backward equation (its type is named).
        CourseError: an unknown loss name.
    """
    start = time.perf_counter()
    probe = probe_layers(model, sample, seed)
    sample = list(probe.sample)
    grads = check_gradients(model, math, sample, model_loss(model, math, loss), seed=seed)
    report = GradientReport(
        loss=grads.loss.name,
        loss_latex=grads.loss.latex,
        loss_gradient_latex=grads.loss.gradient_latex,
        value=float(grads.value),
        layers=_backward_lines(math),
        steps=grads.steps,
        checks=tuple(sorted(grads.checks.items())),
        check=grads.check,
        worked=_worked(math, grads, probe.layers),
        closed_form=_closed_form(math, grads, sample),
    )
    return replace(report, seconds=time.perf_counter() - start)


def model_gradients(
    model: Any, sample: Any = None, loss: str | None = None, seed: int = 0
) -> GradientReport:
    """A Keras model's gradients, checked against `tf.GradientTape` (`model_gradient_report`
    on the model's own derivation): what a lesson calls.

    Args:
        model: a built Keras model.
        sample: the inputs (a seeded sample when `None`).
        loss: a loss name; the model's compiled loss, else the default.
        seed: the seed of the sample and the target.
    """
    from generator.layers.derive import derive_model
    from generator.model.frontend import describe_model

    math = derive_model(describe_model(model, with_weights=True))
    return model_gradient_report(model, math, sample, loss, seed)


def with_gradients(math: Any, report: GradientReport) -> Any:
    """`math` (a `ModelMath`) with the report, its checks added to the model's checks."""
    return replace(math, gradients=report, checks=tuple(math.checks) + report.all_checks())


__all__ = [
    "CHECK_NAME",
    "ClosedFormReport",
    "GradientReport",
    "LayerBackward",
    "WorkedGradient",
    "model_gradient_report",
    "model_gradients",
    "omitted_report",
    "with_gradients",
]
