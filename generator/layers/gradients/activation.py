"""Activations backward: `\\delta = \\partial L/\\partial a \\odot f'(z)`, softmax's Jacobian.

Each derivative is the sympy derivative of the activation table's own definition
(`generator.model.activations`), so the table stays the one place that says what a function is;
only its printed form is tidied here where sympy's is hard to read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from generator.layers.gradients.registry import (
    PRE_ACTIVATION,
    UPSTREAM,
    GradientEquation,
    GradRead,
    Slots,
    Stage,
    register_backward,
)
from generator.layers.tensor_equation import VECTOR_ACTIVATIONS, TensorEquation, hidden_indices
from generator.layers.tensor_expr import Expr, Func, Idx, Prod, Read, Reduce, at
from generator.model.activations import ACTIVATIONS, activation_latex, layer_activation
from generator.model.graph import LayerRecord

#: Readable derivatives where sympy's printed form is not (`\theta(z)`, `1/\cosh^2`).
DERIVATIVE_LATEX = {
    "relu": r"\mathrm{relu}'(z) = [z > 0]",
    "relu6": r"\mathrm{relu6}'(z) = [0 < z < 6]",
    "leaky_relu": r"\mathrm{lrelu}'(z) = 1 \text{ if } z > 0 \text{ else } {slope}",
    "elu": r"\mathrm{elu}'(z) = 1 \text{ if } z > 0 \text{ else } {alpha}\, e^{z}",
    "sigmoid": r"\sigma'(z) = \sigma(z)\,(1 - \sigma(z))",
    "tanh": r"\tanh'(z) = 1 - \tanh^2(z)",
    "softplus": r"\mathrm{softplus}'(z) = \sigma(z)",
    "exponential": r"\exp'(z) = e^{z}",
    "linear": r"\mathrm{id}'(z) = 1",
}


@lru_cache(maxsize=64)
def _derivative(name: str, params: tuple[tuple[str, float], ...]) -> tuple[Any, str]:
    import sympy as sp

    row = ACTIVATIONS[name]
    z = sp.Symbol("z", real=True)
    d = sp.diff(row.sympy_form(z, **dict(params)), z)
    modules = [
        {
            "Heaviside": lambda x, h0=0.0: np.heaviside(x, 0.0),  # TensorFlow: relu'(0) = 0
            "erf": np.vectorize(math.erf, otypes=[float]),
        },
        "numpy",
    ]
    fn = sp.lambdify(z, d, modules=modules)
    values = {**row.params, **dict(params)}
    text = DERIVATIVE_LATEX.get(name)
    if text is None:
        text = rf"{row.latex}'(z) = {sp.latex(d)}"
    else:
        text = text.replace("{slope}", f"{values.get('negative_slope', 0):g}")
        text = text.replace("{alpha}", f"{values.get('alpha', 1):g}")
    return fn, text


def derivative(name: str, params: Sequence[tuple[str, Any]] = ()) -> tuple[Any, str]:
    """`f'` of a table activation as a NumPy function of `z`, and its definition in LaTeX."""
    numeric = tuple((k, float(v)) for k, v in params if not isinstance(v, str))
    fn, text = _derivative(name, numeric)

    def apply(z: np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.asarray(fn(np.asarray(z, dtype=np.float64)), float), np.shape(z))

    return apply, text


def _escaped(latex: str) -> str:
    """LaTeX put into a `Func` template, its braces doubled for `str.format`."""
    return latex.replace("{", "{{").replace("}", "}}")


def differentiable(name: str) -> bool:
    row = ACTIVATIONS.get(name)
    return row is not None and (row.sympy is not None or name in VECTOR_ACTIVATIONS)


def _reads(indices: Sequence[Idx]) -> tuple:
    return tuple(at(i) for i in indices)


def _softmax_axis(indices: Sequence[Idx], axis: int) -> tuple[tuple[Idx, ...], Idx]:
    """The indices with the softmax axis's index replaced by the summed one (`i`)."""
    inner = list(indices)
    taken = {i.name for i in indices}
    name = next(n for n in ("i", "k", "m", "i'", "k'") if n not in taken)
    inner[axis] = Idx(name, indices[axis].size)
    return tuple(inner), inner[axis]


def vector_body(
    name: str, indices: Sequence[Idx], axis: int, slots: Slots, a: tuple, up: tuple
) -> Expr:
    """`a_j (g_j - sum_i a_i g_i)` for softmax, `g_j - softmax_j sum_i g_i` for log-softmax."""
    inner, i = _softmax_axis(indices, axis)
    g_j = GradRead("a", slots(UPSTREAM), _reads(indices))
    g_i = GradRead("a", slots(UPSTREAM), _reads(inner))
    a_j, a_i = Read("a", a, _reads(indices)), Read("a", a, _reads(inner))
    if name == "softmax":
        total = Reduce("sum", (i,), Prod((a_i, g_i)))
        return Func(lambda s, g, t: s * (g - t), (a_j, g_j, total), r"{0} \left({1} - {2}\right)")
    total = Reduce("sum", (i,), g_i)
    return Func(lambda s, g, t: g - np.exp(s) * t, (a_j, g_j, total), r"{1} - e^{{{0}}} {2}")


def delta_stage(forward: TensorEquation, slots: Slots, z_symbol: str = "z") -> Stage | None:
    """`\\delta = \\partial L/\\partial z`, where `a = f(z)` is a layer's fused activation;
    `None` for a linear layer (its `\\delta` is the upstream gradient itself)."""
    act = forward.activation
    name = act.name if hasattr(act, "name") else str(act)
    if name == "linear":
        return None
    indices = forward.indices
    up = _reads(indices)
    if name in VECTOR_ACTIVATIONS:
        from generator.layers.gradients.registry import OUTPUT

        body = vector_body(name, indices, len(indices) - 1, slots, slots(OUTPUT), up)
        note = (
            r" \quad (\text{softmax's Jacobian: } \partial a_j/\partial z_i = a_j([i=j] - a_i))"
            if name == "softmax"
            else ""
        )
    else:
        params = tuple(getattr(act, "params", ()) or forward.activation_params.items())
        fn, text = derivative(name, params)
        z = Read(z_symbol, slots(PRE_ACTIVATION), up)
        fprime = Func(fn, (z,), _escaped(activation_latex(name)) + "'({0})")
        body = Prod((GradRead("a", slots(UPSTREAM), up), fprime))
        note = rf", \quad {text}"
    return Stage(
        "delta", GradientEquation(indices, body, symbol=z_symbol, named=r"\delta", note=note)
    )


def _grad_input(indices: Sequence[Idx], body: Expr, note: str = "") -> Stage:
    return Stage("input", GradientEquation(tuple(indices), body, symbol="x", note=note))


@register_backward("Activation")
def activation_backward(layer: LayerRecord):
    act = layer_activation(layer)
    if act is None or not differentiable(act.name):
        return None
    slots = Slots(1)
    indices = hidden_indices(layer.input_shape)
    if act.name in VECTOR_ACTIVATIONS:
        out = Idx("j", layer.input_shape[-1])
        indices = (*indices[:-1], out)
        body = vector_body(
            act.name, indices, len(indices) - 1, slots, slots("output"), _reads(indices)
        )
        forward = TensorEquation(indices, Read("x", ("input", 0), _reads(indices)), act.name)
        return slots.equation(1, [_grad_input(indices, body)], forward)
    fn, text = derivative(act.name, act.params)
    x = Read("x", ("input", 0), _reads(indices))
    body = Prod(
        (
            GradRead("a", slots(UPSTREAM), _reads(indices)),
            Func(fn, (x,), _escaped(act.latex) + "'({0})"),
        )
    )
    return slots.equation(
        1, [_grad_input(indices, body, rf" \ (\text{{entrywise}}), \quad {text}")]
    )


def _entrywise_backward(layer: LayerRecord, fn, template: str, text: str):
    slots = Slots(1)
    indices = hidden_indices(layer.input_shape)
    x = Read("x", ("input", 0), _reads(indices))
    body = Prod((GradRead("a", slots(UPSTREAM), _reads(indices)), Func(fn, (x,), template)))
    return slots.equation(
        1, [_grad_input(indices, body, rf" \ (\text{{entrywise}}), \quad {text}")]
    )


@register_backward("ReLU")
def relu_backward(layer: LayerRecord):
    attrs = layer.attrs
    top = attrs.get("max_value")
    slope = float(attrs.get("negative_slope", 0.0) or 0.0)
    theta = float(attrs.get("threshold", 0.0) or 0.0)
    top_value = np.inf if top is None else float(top)

    def fn(x: np.ndarray) -> np.ndarray:  # TensorFlow's choice at the kinks: the lower piece
        return np.where(x > theta, (x < top_value).astype(float), slope)

    cap = "" if top is None else rf" < {float(top):g}"
    text = rf"f'(x) = 1 \text{{ if }} {theta:g} < x{cap}, \ {slope:g} \text{{ if }} x \le {theta:g}"
    if top is not None:
        text += r", \ 0 \text{ above}"
    return _entrywise_backward(layer, fn, r"f'({0})", text)


@register_backward("LeakyReLU")
def leaky_relu_backward(layer: LayerRecord):
    slope = float(layer_activation(layer).param("negative_slope"))
    text = rf"f'(x) = 1 \text{{ if }} x > 0 \text{{ else }} {slope:g}"
    return _entrywise_backward(layer, lambda x: np.where(x > 0, 1.0, slope), r"f'({0})", text)


@register_backward("ELU")
def elu_backward(layer: LayerRecord):
    alpha = float(layer_activation(layer).param("alpha"))
    text = rf"f'(x) = 1 \text{{ if }} x > 0 \text{{ else }} {alpha:g}\, e^{{x}}"
    return _entrywise_backward(
        layer, lambda x: np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0))), r"f'({0})", text
    )


@register_backward("Softmax")
def softmax_backward(layer: LayerRecord):
    axis = layer.attrs.get("axis", -1)
    if isinstance(axis, list | tuple):
        if len(axis) != 1:
            return None
        axis = axis[0]
    rank = len(layer.input_shape)
    axis = axis % rank
    slots = Slots(1)
    indices = list(hidden_indices(layer.input_shape))
    indices[axis - 1] = Idx("j", layer.input_shape[axis])
    indices = tuple(indices)
    body = vector_body("softmax", indices, axis - 1, slots, slots("output"), _reads(indices))
    # The forward output, softmax over `axis`: evaluated by NumPy on the layer's input.
    forward = _SoftmaxForward(axis)
    return slots.equation(1, [_grad_input(indices, body)], forward)  # type: ignore[arg-type]


class _SoftmaxForward:
    """Softmax over one axis, the output a Softmax layer's backward reads."""

    def __init__(self, axis: int):
        self.axis = axis

    def evaluate(self, inputs, weights, positions=None):
        x = np.asarray(inputs[0], dtype=np.float64)
        e = np.exp(x - x.max(axis=self.axis, keepdims=True))
        return e / e.sum(axis=self.axis, keepdims=True)
