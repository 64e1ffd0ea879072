"""The composed gradient: the chain rule along the graph of calls, from the loss inwards.

Forward propagation builds the function one layer at a time; back-propagation peels it from the
outside: the loss's gradient `dL/da` at the model's output, then each call's backward equation
(`generator.layers.gradients`) from the last call to the first, every tensor's gradient the sum
of what the calls reading it send back. `backpropagate` runs this with NumPy on the layers'
own inputs; `gradient_steps` writes it in LaTeX; `check_gradients` compares every call's
`dL/da`, the inputs' gradients and every trainable weight's with `tf.GradientTape` on the whole
model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generator.equation.layer_checks import layer_weights
from generator.equation.losses import Loss, loss_named, seeded_target
from generator.layers.derive import Check, DerivedModel
from generator.layers.gradients.registry import Backward, backward_equation, input_key, partial
from generator.model.activations import layer_activation
from generator.model.graph import LayerRecord, as_ref
from generator.model.probe import LayerIO

#: Largest difference that passes, relative to the reference's largest magnitude (at least 1):
#: TensorFlow differentiates in float32, NumPy here in float64.
TOLERANCE = 1e-4
CHECK_NAME = "gradients vs tf.GradientTape"


@dataclass(frozen=True)
class GradientStep:
    """One line of the chain rule: `lhs = rhs`, the call it belongs to, and how it reads."""

    call: str
    lhs: str
    rhs: str
    text: str = ""

    @property
    def latex(self) -> str:
        return f"{self.lhs} = {self.rhs}"


@dataclass(frozen=True)
class ModelGradients:
    """A model's gradients on one sample and target, from the chain rule in NumPy.

    Attributes:
        loss: the loss's table row; `value` its value on the sample.
        target: what the output was compared with.
        outputs: `dL/da` of every call's output, by call name.
        inputs: `dL/dx` of every model input, by input name.
        weights: `dL/dW` of every weight, by `(layer name, WeightRecord.name)`.
        backward: each call's backward equation (`None`: none is known for its type).
        steps: the chain rule in LaTeX, from the output inwards.
        checks: each compared gradient's relative error (`check_gradients`); `check` the line.
        reference: `tf.GradientTape`'s `dL/dW`, by the same keys as `weights`.
    """

    loss: Loss
    value: float
    target: np.ndarray
    outputs: dict[str, np.ndarray]
    inputs: dict[str, np.ndarray]
    weights: dict[tuple[str, str], np.ndarray]
    backward: dict[str, Backward | None]
    steps: tuple[GradientStep, ...] = ()
    checks: dict[str, float] = field(default_factory=dict)
    check: Check | None = None
    reference: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)


def default_loss(math: DerivedModel) -> Loss:
    """Cross-entropy after a final softmax, else the mean squared error."""
    final = math.graph.layer(as_ref(math.graph.outputs[0].name).call)
    act = layer_activation(final)
    return loss_named(
        "categorical_crossentropy" if act is not None and act.name == "softmax" else "mse"
    )


def model_loss(model: Any, math: DerivedModel, name: str | None = None) -> Loss:
    """The loss `name`, else the model's compiled loss when the table knows it, else the
    default (`default_loss`)."""
    if name:
        return loss_named(name)
    compiled = getattr(model, "loss", None)
    if compiled is not None:
        key = compiled if isinstance(compiled, str) else getattr(compiled, "name", None)
        key = key or getattr(compiled, "__name__", None)
        try:
            return loss_named(str(key))
        except Exception:  # noqa: BLE001 - a loss the table does not know: the default
            pass
    return default_loss(math)


def layer_number(math: DerivedModel) -> dict[str, int]:
    """Each call's `l` in `a^{(l)}`: its position in the graph's order, from 1."""
    return {layer.record.name: k + 1 for k, layer in enumerate(math.layers)}


def _symbol(ref: str, math: DerivedModel, numbers: Mapping[str, int]) -> str:
    call = as_ref(ref).call
    if call in numbers:
        return f"a^{{({numbers[call]})}}"
    inputs = [t.name for t in math.graph.inputs]
    return "x" if len(inputs) == 1 else f"x^{{[{inputs.index(call) + 1}]}}"


def _consumers(math: DerivedModel) -> dict[str, list[tuple[LayerRecord, int]]]:
    readers: dict[str, list[tuple[LayerRecord, int]]] = {}
    for layer in math.layers:
        for m, ref in enumerate(layer.record.inbound):
            readers.setdefault(str(ref), []).append((layer.record, m))
    return readers


def softmax_cross_entropy(math: DerivedModel, loss: Loss) -> bool:
    """Whether the model ends in a softmax and the loss is categorical cross-entropy."""
    final = math.graph.layer(as_ref(math.graph.outputs[0].name).call)
    act = layer_activation(final)
    return loss.name == "categorical_crossentropy" and act is not None and act.name == "softmax"


def gradient_steps(math: DerivedModel, loss: Loss | None = None) -> tuple[GradientStep, ...]:
    """The chain rule along the graph of calls, from the loss inwards, in LaTeX.

    The first step is the loss's gradient at the output; each call's output then gets the sum,
    over the calls that read it, of what their backward equations send back
    (`(\\partial a^{(c)}/\\partial a^{(l)})^\\top \\partial L/\\partial a^{(c)}`), and each weight
    its layer's share. A softmax output with cross-entropy gets its famous shortcut.
    """
    loss = loss or default_loss(math)
    numbers = layer_number(math)
    readers = _consumers(math)
    output = str(math.graph.outputs[0].name)
    out_sym = _symbol(output, math, numbers)
    steps = [
        GradientStep(
            "", r"\mathcal L", loss.latex.removeprefix(r"\mathcal L = "), "the outer function"
        )
    ]
    steps.append(
        GradientStep(
            as_ref(output).call,
            partial(out_sym),
            loss.gradient_latex.partition(" = ")[2].replace("a_", f"{out_sym}_"),
            "the loss's gradient at the output",
        )
    )
    if softmax_cross_entropy(math, loss):
        last = numbers[as_ref(output).call]
        steps.append(
            GradientStep(
                as_ref(output).call,
                rf"\delta^{{({last})}} = \frac{{\partial \mathcal L}}{{\partial z^{{({last})}}}}",
                rf"\frac{{1}}{{B}}\left(a^{{({last})}} - y\right)",
                "softmax and cross-entropy together: the prediction minus the target",
            )
        )
    tensors = [str(t.name) for t in math.graph.inputs]
    tensors += [layer.record.name for layer in math.layers]
    for ref in reversed(tensors):
        if ref == output or ref not in readers:
            continue
        terms = []
        for reader, _m in readers[ref]:
            c = numbers[reader.name]
            terms.append(
                rf"\left(\frac{{\partial a^{{({c})}}}}{{\partial {_symbol(ref, math, numbers)}}}"
                rf"\right)^{{\!\top}} \frac{{\partial \mathcal L}}{{\partial a^{{({c})}}}}"
            )
        text = "the sum over the calls that read it" if len(terms) > 1 else ""
        steps.append(
            GradientStep(
                as_ref(ref).call, partial(_symbol(ref, math, numbers)), " + ".join(terms), text
            )
        )
    for layer in math.layers:
        trainable = [w for w in layer.record.weights if w.trainable and not layer.record.shares]
        l_ = numbers[layer.record.name]
        for w in trainable:
            symbol = {"kernel": "W", "bias": "b", "gamma": r"\gamma", "beta": r"\beta"}.get(
                w.role, rf"\mathrm{{{w.role}}}"
            )
            steps.append(
                GradientStep(
                    layer.record.name,
                    partial(f"{symbol}^{{({l_})}}"),
                    rf"\left(\frac{{\partial a^{{({l_})}}}}{{\partial {symbol}^{{({l_})}}}}"
                    rf"\right)^{{\!\top}} \frac{{\partial \mathcal L}}{{\partial a^{{({l_})}}}}",
                    f"{layer.record.name}'s backward equation",
                )
            )
    return tuple(steps)


def backpropagate(
    math: DerivedModel,
    probed: Mapping[str, LayerIO],
    target: np.ndarray,
    loss: Loss,
    sample: Sequence[np.ndarray] = (),
) -> ModelGradients:
    """The chain rule with NumPy: each call's backward equation on its own input, from the
    last call to the first; a tensor read by several calls sums their gradients.

    Raises:
        ValueError: for a call on the way that has no backward equation (its type is named).
    """
    graph = math.graph
    output = str(graph.outputs[0].name)
    final = as_ref(output).call
    a = np.asarray(probed[final].outputs[as_ref(output).output], dtype=np.float64)
    grads: dict[str, np.ndarray] = {output: loss.gradient(a, np.asarray(target, np.float64))}
    weights: dict[tuple[str, str], np.ndarray] = {}
    equations: dict[str, Backward | None] = {}
    for layer in reversed(math.layers):
        record = layer.record
        upstream = grads.get(record.name)
        if upstream is None:
            continue  # the loss does not depend on this call
        equation = backward_equation(record)
        equations[record.name] = equation
        if equation is None or record.name not in probed:
            raise ValueError(f"{record.name} ({record.type}) has no backward equation")
        io = probed[record.name]
        result = equation.evaluate(list(io.inputs), layer_weights(math, layer), upstream)
        for m, ref in enumerate(record.inbound):
            part = result[input_key(m, len(record.inbound))]
            grads[str(ref)] = grads[str(ref)] + part if str(ref) in grads else part
        for w in record.weights:
            if w.name in result:
                key = (record.layer_name, w.name)
                weights[key] = weights[key] + result[w.name] if key in weights else result[w.name]
    input_names = [t.name for t in graph.inputs]
    return ModelGradients(
        loss=loss,
        value=loss.value(a, np.asarray(target, np.float64)),
        target=np.asarray(target),
        outputs={
            r.record.name: grads[r.record.name] for r in math.layers if r.record.name in grads
        },
        inputs={n: grads[n] for n in input_names if n in grads},
        weights=weights,
        backward=equations,
        steps=gradient_steps(math, loss),
    )


def _error(ours: np.ndarray, theirs: np.ndarray) -> float:
    if np.shape(ours) != np.shape(theirs):
        return float("inf")
    return float(np.abs(ours - theirs).max(initial=0.0)) / max(1.0, float(np.abs(theirs).max()))


def check_gradients(
    model: Any,
    math: DerivedModel,
    sample: Any = None,
    loss: Loss | str | None = None,
    target: np.ndarray | None = None,
    seed: int = 0,
) -> ModelGradients:
    """The chain rule in NumPy against `tf.GradientTape` on the whole Keras model.

    Every call's `dL/da`, every model input's `dL/dx` and every trainable weight's `dL/dW` are
    compared; `checks` maps each (`dense_1`, `dense_1/kernel`, `input x`) to its relative error
    and `check` is the model's check line.

    Args:
        model: the Keras model `math` was derived from (with its weights).
        math: its derivation.
        sample: the inputs (a seeded random sample when `None`).
        loss: a table row or name; the model's compiled loss or the default when `None`.
        target: what the output is compared with; a seeded one of the loss's kind when `None`.
        seed: the seed of the sample and the target.
    """
    import keras

    from generator.equation.gradient_tape import model_tape
    from generator.model.probe import probe_layers

    loss = loss if isinstance(loss, Loss) else model_loss(model, math, loss)
    probe = probe_layers(model, sample, seed)
    output = str(math.graph.outputs[0].name)
    shape = probe.layers[as_ref(output).call].outputs[as_ref(output).output].shape
    target = seeded_target(loss, shape, seed) if target is None else np.asarray(target)
    ours = backpropagate(math, probe.layers, target, loss, probe.sample)
    calls = [(r.record.name, [w.name for w in r.record.weights]) for r in math.layers]
    tape = model_tape(model, probe.sample, target, getattr(keras.losses, loss.keras)(), calls)
    checks: dict[str, float] = {}
    unreached = [name for name in ours.outputs if name not in tape.outputs]
    for name, grad in ours.outputs.items():
        if name in tape.outputs:
            checks[name] = _error(grad, tape.outputs[name])
    for name, grad in ours.inputs.items():
        checks[f"input {name}"] = _error(grad, tape.inputs[name])
    for key, grad in tape.weights.items():
        checks["/".join(key)] = _error(ours.weights.get(key, np.zeros(0)), grad)
    bad = [k for k, e in checks.items() if not e <= TOLERANCE]
    detail = (
        f"{len(checks) - len(bad)} of {len(checks)} gradients agree "
        f"(loss {loss.name}), largest difference {max(checks.values(), default=0.0):.2g}"
    )
    if bad:
        detail += "; differ: " + ", ".join(bad[:4]) + (" and more" if len(bad) > 4 else "")
    if unreached:
        detail += (
            f"; not compared: dL/da of {', '.join(unreached)} (Keras's loss reads the logits, "
            "so TensorFlow has no gradient there)"
        )
    return ModelGradients(
        **{
            **ours.__dict__,
            "checks": checks,
            "check": Check(CHECK_NAME, not bad, detail),
            "reference": dict(tape.weights),
        }
    )
