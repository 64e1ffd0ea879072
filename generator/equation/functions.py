"""Sympy functions for the activations and the softmax, unevaluated so the tree keeps its shape."""

from __future__ import annotations

from functools import cache

import sympy as sp

from generator.model.activations import ACTIVATIONS, Activation


class ActivationFunction(sp.Function):
    """An activation applied to one unit: `args[0]` is `z`, further args are its parameters.

    Subclasses are made per table row by `activation_function`; they never evaluate, so
    `relu(0.5)` stays `relu(0.5)` and printers see what the network computes.
    """

    row: Activation

    @classmethod
    def eval(cls, *args):  # noqa: D102 - never evaluates
        return None

    def _eval_evalf(self, prec):  # keep Float arguments from triggering numeric evaluation
        return None

    @property
    def param_values(self) -> dict[str, float]:
        return {
            name: float(value) for name, value in zip(self.row.params, self.args[1:], strict=False)
        }

    def definition(self, z: sp.Expr) -> sp.Expr:
        """This application's definition in standard sympy functions of `z`."""
        return self.row.sympy_form(z, **self.param_values)

    def latex_name(self, printer) -> str:
        """`\\mathrm{lrelu}`, with parameters that differ from Keras's defaults as a subscript."""
        params = [
            printer._print(value)
            for value, default in zip(self.args[1:], self.row.params.values(), strict=False)
            if float(value) != default
        ]
        return self.row.latex + (f"_{{{', '.join(params)}}}" if params else "")

    def _latex(self, printer) -> str:
        return rf"{self.latex_name(printer)}\left({printer._print(self.args[0])}\right)"


class SoftmaxUnit(sp.Function):
    """Unit `j` of a softmax over `z_0 ... z_{n-1}`: `e^{z_j} / \\sum_i e^{z_i}`.

    `args = (j, z_0, ..., z_{n-1})`; printers write it out in closed form.
    """

    @classmethod
    def eval(cls, *args):  # noqa: D102 - never evaluates
        return None

    def _eval_evalf(self, prec):
        return None

    @property
    def index(self) -> int:
        return int(self.args[0])

    @property
    def logits(self) -> tuple[sp.Expr, ...]:
        return self.args[1:]

    def definition(self) -> sp.Expr:
        """`exp(z_j) / sum(exp(z_i))` in standard sympy functions."""
        logits = self.logits
        return sp.exp(logits[self.index]) / sp.Add(*[sp.exp(z) for z in logits])

    def _latex(self, printer) -> str:
        logits = [printer._print(z) for z in self.logits]
        denominator = " + ".join(rf"e^{{{z}}}" for z in logits)
        return rf"\frac{{e^{{{logits[self.index]}}}}}{{{denominator}}}"


class Maximum(sp.Function):
    """Element-wise maximum of merged tensors (Keras `Maximum`), unevaluated."""

    @classmethod
    def eval(cls, *args):
        return None

    def _latex(self, printer) -> str:
        return rf"\max\left({', '.join(printer._print(a) for a in self.args)}\right)"


class Minimum(sp.Function):
    """Element-wise minimum of merged tensors (Keras `Minimum`), unevaluated."""

    @classmethod
    def eval(cls, *args):
        return None

    def _latex(self, printer) -> str:
        return rf"\min\left({', '.join(printer._print(a) for a in self.args)}\right)"


#: Activations sympy already knows; they print as `\tanh`, `e^{z}` and `np.tanh`, `np.exp`.
BUILTIN = {"tanh": sp.tanh, "exponential": sp.exp}


@cache
def activation_function(name: str) -> type[sp.Function]:
    """The sympy function class for the activation `name` (a key of `ACTIVATIONS`)."""
    if name in BUILTIN:
        return BUILTIN[name]
    row = ACTIVATIONS[name]
    return type(name, (ActivationFunction,), {"row": row, "nargs": 1 + len(row.params)})


def apply(name: str, z: sp.Expr, params: dict[str, float] | None = None) -> sp.Expr:
    """`name(z)` as an unevaluated sympy function; a linear activation returns `z` itself."""
    if name == "linear":
        return z
    cls = activation_function(name)
    if cls in BUILTIN.values():
        return cls(z, evaluate=False)
    row = ACTIVATIONS[name]
    values = {**row.params, **(params or {})}
    extra = [sp.Float(float(values[p])) for p in row.params]
    return cls(z, *extra, evaluate=False)
