"""The activation functions: one table row each, used by every backend.

Each row holds how the function is named in an equation, its definition in LaTeX, its definition
as a sympy expression of `z` (the composed equation differentiates it for Taylor polynomials), its
NumPy body (the generated NumPy module defines one small function per activation it uses) and its
PyTorch expression. Parameters (the slope of a leaky ReLU, ELU's alpha) are keyword arguments with
Keras's defaults.

`layer_activation` reads which row a layer applies, with its parameters, from the layer's record:
the fused `activation=` of a `Dense` or `Conv2D` layer and the activation layers (`ReLU`,
`LeakyReLU`, `ELU`, `PReLU`, `Softmax`) alike, so no backend parses a config for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import sympy as sp

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
LEAKY_RELU_SLOPE = 0.2  # keras.activations.leaky_relu's default negative slope
LEAKY_RELU_LAYER_SLOPE = 0.3  # keras.layers.LeakyReLU's default: not the function's


def _hard_sigmoid(z: sp.Expr) -> sp.Expr:
    return sp.Min(sp.Max(0, z / 6 + sp.Rational(1, 2)), 1)


def _leaky(z: sp.Expr, negative_slope: float) -> sp.Expr:
    return sp.Piecewise((z, z > 0), (negative_slope * z, True))


def _elu(z: sp.Expr, alpha: float) -> sp.Expr:
    return sp.Piecewise((z, z > 0), (alpha * (sp.exp(z) - 1), True))


@dataclass(frozen=True)
class Activation:
    """One activation function.

    Attributes:
        name: Keras's name (`"relu"`); the NumPy module's function has the same name.
        latex: how it is written in an equation (`\\mathrm{relu}`).
        definition: its definition in LaTeX.
        sympy: `z, **params -> sympy expression` in standard sympy functions (`Max`, `exp` ...).
        numpy: the NumPy body of `def name(z, **params)`, one expression in `z` (`np` is numpy).
        params: parameter names and Keras's default values.
        needs: helper functions of the NumPy module this one calls (`"erf"`).
        torch: the PyTorch expression of `{x}`, with `{dim}` the dimension a softmax runs over
            and each parameter by its name (`{negative_slope!r}`); empty where PyTorch has none.
    """

    name: str
    latex: str
    definition: str
    sympy: Callable[..., sp.Expr] | None = None
    numpy: str = ""
    params: dict[str, float] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    torch: str = ""

    @property
    def linear(self) -> bool:
        return self.name == "linear"

    def sympy_form(self, z: sp.Expr, **params: Any) -> sp.Expr:
        """The definition as a sympy expression of `z` with the given (or default) parameters."""
        values = {**self.params, **params}
        return self.sympy(z, **values)


_SIGMOID = "0.5 * (1.0 + np.tanh(0.5 * z))"  # = 1 / (1 + e^{-z}), without overflow warnings
_HARD_SIGMOID = "np.clip(z / 6.0 + 0.5, 0.0, 1.0)"

ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("linear", r"\mathrm{id}", r"\mathrm{id}(z) = z", lambda z: z, "z", torch="{x}"),
        Activation(
            "relu",
            r"\mathrm{relu}",
            r"\mathrm{relu}(z) = \max(0, z)",
            lambda z: sp.Max(0, z),
            "np.maximum(z, 0.0)",
            torch="F.relu({x})",
        ),
        Activation(
            "relu6",
            r"\mathrm{relu6}",
            r"\mathrm{relu6}(z) = \min(\max(0, z), 6)",
            lambda z: sp.Min(sp.Max(0, z), 6),
            "np.clip(z, 0.0, 6.0)",
            torch="F.relu6({x})",
        ),
        Activation(
            "leaky_relu",
            r"\mathrm{lrelu}",
            rf"\mathrm{{lrelu}}(z) = \max({LEAKY_RELU_SLOPE:g} z, z)",
            _leaky,
            "np.where(z > 0, z, negative_slope * z)",
            {"negative_slope": LEAKY_RELU_SLOPE},
            torch="F.leaky_relu({x}, negative_slope={negative_slope!r})",
        ),
        Activation(
            "elu",
            r"\mathrm{elu}",
            r"\mathrm{elu}(z) = z \text{ if } z > 0 \text{ else } e^{z} - 1",
            _elu,
            "np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))",
            {"alpha": 1.0},
            torch="F.elu({x}, alpha={alpha!r})",
        ),
        Activation(
            "selu",
            r"\mathrm{selu}",
            r"\mathrm{selu}(z) = \lambda\,(z \text{ if } z > 0 \text{ else } "
            r"\alpha (e^{z} - 1))",
            lambda z: SELU_SCALE * _elu(z, SELU_ALPHA),
            f"{SELU_SCALE!r} * np.where(z > 0, z, {SELU_ALPHA!r} * np.expm1(np.minimum(z, 0.0)))",
            torch="F.selu({x})",
        ),
        Activation(
            "gelu",
            r"\mathrm{gelu}",
            r"\mathrm{gelu}(z) = \tfrac{z}{2}\left(1 + \mathrm{erf}(z/\sqrt{2})\right)",
            lambda z: z / 2 * (1 + sp.erf(z / sp.sqrt(2))),
            "0.5 * z * (1.0 + erf(z / np.sqrt(2.0)))",
            needs=("erf",),
            torch="F.gelu({x})",
        ),
        Activation(
            "gelu_tanh",
            r"\mathrm{gelu}_{\tanh}",
            r"\mathrm{gelu}_{\tanh}(z) = \tfrac{z}{2}\left(1 + \tanh\left("
            r"\sqrt{2/\pi}\,(z + 0.044715 z^3)\right)\right)",
            lambda z: z / 2 * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (z + 0.044715 * z**3))),
            "0.5 * z * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (z + 0.044715 * z**3)))",
            torch='F.gelu({x}, approximate="tanh")',
        ),
        Activation(
            "silu",
            r"\mathrm{silu}",
            r"\mathrm{silu}(z) = z\,\sigma(z)",
            lambda z: z / (1 + sp.exp(-z)),
            f"z * {_SIGMOID}",
            torch="F.silu({x})",
        ),
        Activation(
            "mish",
            r"\mathrm{mish}",
            r"\mathrm{mish}(z) = z \tanh(\ln(1 + e^{z}))",
            lambda z: z * sp.tanh(sp.log(1 + sp.exp(z))),
            "z * np.tanh(np.logaddexp(0.0, z))",
            torch="F.mish({x})",
        ),
        Activation(
            "softplus",
            r"\mathrm{softplus}",
            r"\mathrm{softplus}(z) = \ln(1 + e^{z})",
            lambda z: sp.log(1 + sp.exp(z)),
            "np.logaddexp(0.0, z)",
            torch="F.softplus({x})",
        ),
        Activation(
            "softsign",
            r"\mathrm{softsign}",
            r"\mathrm{softsign}(z) = \frac{z}{1 + |z|}",
            lambda z: z / (1 + sp.Abs(z)),
            "z / (1.0 + np.abs(z))",
            torch="F.softsign({x})",
        ),
        Activation(
            "sigmoid",
            r"\sigma",
            r"\sigma(z) = \frac{1}{1 + e^{-z}}",
            lambda z: 1 / (1 + sp.exp(-z)),
            _SIGMOID,
            torch="torch.sigmoid({x})",
        ),
        Activation(
            "hard_sigmoid",
            r"\mathrm{hsig}",
            r"\mathrm{hsig}(z) = \frac{\mathrm{relu6}(z + 3)}{6}",
            _hard_sigmoid,
            _HARD_SIGMOID,
            torch="F.hardsigmoid({x})",
        ),
        Activation(
            "hard_silu",
            r"\mathrm{hsilu}",
            r"\mathrm{hsilu}(z) = z\,\frac{\mathrm{relu6}(z + 3)}{6}",
            lambda z: z * _hard_sigmoid(z),
            f"z * {_HARD_SIGMOID}",
            torch="F.hardswish({x})",
        ),
        Activation(
            "tanh",
            r"\tanh",
            r"\tanh(z) = \frac{e^{z} - e^{-z}}{e^{z} + e^{-z}}",
            sp.tanh,
            "np.tanh(z)",
            torch="torch.tanh({x})",
        ),
        Activation(
            "exponential",
            r"\exp",
            r"\exp(z) = e^{z}",
            sp.exp,
            "np.exp(z)",
            torch="torch.exp({x})",
        ),
        Activation(
            "softmax",
            r"\mathrm{softmax}",
            r"\mathrm{softmax}(z)_j = \frac{e^{z_j}}{\sum_i e^{z_i}}",
            torch="F.softmax({x}, dim={dim})",
        ),
        Activation(
            "log_softmax",
            r"\log\mathrm{softmax}",
            r"\log\mathrm{softmax}(z)_j = z_j - \ln \sum_i e^{z_i}",
            torch="F.log_softmax({x}, dim={dim})",
        ),
    ]
}

#: Keras's other names for the same functions (a NumPy module names its function as the model).
ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}
ACTIVATIONS.update(
    {alias: replace(ACTIVATIONS[name], name=alias) for alias, name in ALIASES.items()}
)

#: Applied to each unit on its own (softmax and log-softmax mix the units of a layer).
ELEMENTWISE = frozenset(name for name, row in ACTIVATIONS.items() if row.sympy is not None)


#: Activations registered by libraries under their own names, and the table's row for each.
REGISTERED_NAMES = {
    "keras_hub>gelu_approximate": "gelu_tanh",  # keras-hub: `gelu(x, approximate=True)`
}


def activation_name(value: object) -> str:
    """The activation's name from a layer config value (a string or a serialized function)."""
    if value is None:
        return "linear"
    if isinstance(value, LayerActivation):
        return value.name
    if isinstance(value, dict):
        value = value.get("config", value.get("class_name", "linear"))
        if isinstance(value, dict):
            value = value.get("name", "linear")
    return REGISTERED_NAMES.get(str(value), str(value))


def activation_latex(value: object) -> str:
    """How the activation is written in an equation; an unknown one by its name."""
    name = activation_name(value)
    row = ACTIVATIONS.get(name)
    if row:
        return row.latex
    escaped = name.replace("_", r"\_")
    return rf"\mathrm{{{escaped}}}"


#: Layers that are an activation function by themselves (their config holds its parameters).
ACTIVATION_LAYERS = frozenset({"Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax"})


@dataclass(frozen=True)
class LayerActivation:
    """The activation a layer applies: a table row's name and the layer's parameters for it.

    A parameter whose value is a string names one of the layer's weights (PReLU's learned
    slopes); a Softmax layer's `axis` is kept as a parameter. An unknown name (a custom function)
    has no row.
    """

    name: str = "linear"
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def row(self) -> Activation | None:
        return ACTIVATIONS.get(self.name)

    @property
    def linear(self) -> bool:
        return self.name == "linear"

    @property
    def latex(self) -> str:
        return activation_latex(self.name)

    def param(self, key: str) -> Any:
        """A parameter's value: the layer's own, else the table's default."""
        values = {**(self.row.params if self.row else {}), **dict(self.params)}
        return values.get(key)

    def torch(self, x: str, dim: int = -1) -> str | None:
        """The PyTorch expression of this activation applied to `x`; `None` where none exists."""
        row = self.row
        if row is None or not row.torch:
            return None
        return row.torch.format(x=x, dim=dim, **{**row.params, **dict(self.params)})


_LINEAR = LayerActivation()


def layer_activation(layer: Any, key: str = "activation") -> LayerActivation | None:
    """The activation `layer` (a `LayerRecord`) applies after its own computation, as its
    frontend split it off; linear for a layer that has none, `None` for an activation layer that
    is no row of the table."""
    return layer.attrs.get(key, _LINEAR)


def numpy_function(name: str) -> Callable[..., Any]:
    """An elementwise activation of the table as a NumPy function of `z` (and its parameters)."""
    import math

    import numpy as np

    row = ACTIVATIONS[activation_name(name)]
    namespace: dict = {"np": np, "erf": np.vectorize(math.erf, otypes=[float])}
    params = "".join(f", {key}={value!r}" for key, value in row.params.items())
    source = f"def {row.name}(z{params}):\n    return {row.numpy}\n"
    exec(compile(source, f"<activation {row.name}>", "exec"), namespace)  # noqa: S102
    return namespace[row.name]
