"""The activation functions: one table row each, used by every backend.

Each row holds how the function is named in an equation and its definition in LaTeX. (The
composed-equation backend extends the rows with sympy and NumPy forms.)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Activation:
    name: str
    latex: str
    definition: str


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("linear", r"\mathrm{id}", r"\mathrm{id}(z) = z"),
        Activation("relu", r"\mathrm{relu}", r"\mathrm{relu}(z) = \max(0, z)"),
        Activation("relu6", r"\mathrm{relu6}", r"\mathrm{relu6}(z) = \min(\max(0, z), 6)"),
        Activation("leaky_relu", r"\mathrm{lrelu}",
                   r"\mathrm{lrelu}(z) = \max(0.2 z, z)"),
        Activation("elu", r"\mathrm{elu}",
                   r"\mathrm{elu}(z) = z \text{ if } z > 0 \text{ else } e^{z} - 1"),
        Activation("selu", r"\mathrm{selu}",
                   r"\mathrm{selu}(z) = \lambda\,(z \text{ if } z > 0 \text{ else } "
                   r"\alpha (e^{z} - 1))"),
        Activation("gelu", r"\mathrm{gelu}",
                   r"\mathrm{gelu}(z) = \tfrac{z}{2}\left(1 + \mathrm{erf}(z/\sqrt{2})\right)"),
        Activation("silu", r"\mathrm{silu}", r"\mathrm{silu}(z) = z\,\sigma(z)"),
        Activation("swish", r"\mathrm{silu}", r"\mathrm{silu}(z) = z\,\sigma(z)"),
        Activation("mish", r"\mathrm{mish}",
                   r"\mathrm{mish}(z) = z \tanh(\ln(1 + e^{z}))"),
        Activation("softplus", r"\mathrm{softplus}", r"\mathrm{softplus}(z) = \ln(1 + e^{z})"),
        Activation("softsign", r"\mathrm{softsign}", r"\mathrm{softsign}(z) = \frac{z}{1 + |z|}"),
        Activation("sigmoid", r"\sigma", r"\sigma(z) = \frac{1}{1 + e^{-z}}"),
        Activation("hard_sigmoid", r"\mathrm{hsig}",
                   r"\mathrm{hsig}(z) = \frac{\mathrm{relu6}(z + 3)}{6}"),
        Activation("hard_silu", r"\mathrm{hsilu}",
                   r"\mathrm{hsilu}(z) = z\,\frac{\mathrm{relu6}(z + 3)}{6}"),
        Activation("hard_swish", r"\mathrm{hsilu}",
                   r"\mathrm{hsilu}(z) = z\,\frac{\mathrm{relu6}(z + 3)}{6}"),
        Activation("tanh", r"\tanh", r"\tanh(z) = \frac{e^{z} - e^{-z}}{e^{z} + e^{-z}}"),
        Activation("exponential", r"\exp", r"\exp(z) = e^{z}"),
        Activation("softmax", r"\mathrm{softmax}",
                   r"\mathrm{softmax}(z)_j = \frac{e^{z_j}}{\sum_i e^{z_i}}"),
        Activation("log_softmax", r"\log\mathrm{softmax}",
                   r"\log\mathrm{softmax}(z)_j = z_j - \ln \sum_i e^{z_i}"),
    ]
}


def activation_name(value: object) -> str:
    """The activation's name from a layer config value (a string or a serialized function)."""
    if value is None:
        return "linear"
    if isinstance(value, dict):
        value = value.get("config", value.get("class_name", "linear"))
        if isinstance(value, dict):
            value = value.get("name", "linear")
    return str(value)


def activation_latex(value: object) -> str:
    """How the activation is written in an equation; an unknown one by its name."""
    name = activation_name(value)
    row = ACTIVATIONS.get(name)
    if row:
        return row.latex
    escaped = name.replace("_", r"\_")
    return rf"\mathrm{{{escaped}}}"
