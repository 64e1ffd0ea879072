"""Taylor polynomials of a one-input network, computed by propagating truncated power series.

Differentiating the composed expression symbolically blows up with depth; instead every node of
the expression is evaluated once on a truncated series in `t = x - a` (Taylor-mode
differentiation): sums and products are exact on series, and each activation `g(u_0 + h)` is
`sum_k g^{(k)}(u_0) h^k / k!` with `g^{(k)}` from the activation table's sympy definition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from math import factorial
from typing import Any

import numpy as np
import sympy as sp

from generator.equation.functions import ActivationFunction, Maximum, Minimum, SoftmaxUnit
from generator.equation.latex import EquationLatexPrinter

GRID = 1001  # points on which the maximum error over the interval is measured


@dataclass(frozen=True)
class TaylorApprox:
    """A Taylor polynomial of a network around `point`, and its error over `interval`.

    Attributes:
        order: the polynomial's degree.
        point: the expansion point `a`.
        interval: where `max_error` was measured.
        coefficients: `c_k` of `sum_k c_k (x - a)^k`, `k = 0 ... order`.
        expr: the polynomial as a sympy expression in `x`.
        latex: `y \\approx ...` with coefficients rounded.
        max_error: largest `|f(x) - p(x)|` over the interval (on a grid of `GRID` points).
        network: the closed form `f` as a function of a 1-d array.
    """

    order: int
    point: float
    interval: tuple[float, float]
    coefficients: tuple[float, ...]
    expr: sp.Expr
    latex: str
    max_error: float
    network: Callable[[np.ndarray], np.ndarray] = field(compare=False, repr=False)

    def __call__(self, x: Any) -> np.ndarray:
        t = np.asarray(x, dtype=np.float64) - self.point
        return np.polynomial.polynomial.polyval(t, self.coefficients)


def taylor(
    source: Any,
    order: int = 3,
    point: float = 0.0,
    interval: tuple[float, float] | None = None,
    output: int = 0,
    digits: int = 3,
) -> TaylorApprox:
    """The Taylor polynomial of a one-input network's output `output` around `point`.

    Args:
        source: a `ComposedEquation` with a closed form (`generator.taylor` also takes a model).
        order: the polynomial's degree.
        point: the expansion point.
        interval: where the maximum error is measured; `point ± 1` when omitted.
        output: which output unit.
        digits: significant digits of the printed coefficients.
    """
    equation = _equation(source)
    if len(equation.inputs) != 1:
        raise ValueError(f"a Taylor polynomial here needs one input, not {len(equation.inputs)}")
    x = equation.inputs[0]
    series = _Series(x, float(point), order)
    coefficients = tuple(float(c) for c in series.of(equation.expressions[output]))
    interval = interval or (point - 1.0, point + 1.0)
    function = equation.function()

    def network(values: np.ndarray) -> np.ndarray:
        return function(np.asarray(values, dtype=np.float64).reshape(-1, 1))[:, output]

    symbol = sp.Symbol("x", real=True)
    shift = symbol if point == 0 else sp.Add(symbol, sp.Float(-float(point)), evaluate=False)
    terms = [sp.Float(coefficients[0])] + [
        sp.Mul(sp.Float(c), shift if k == 1 else sp.Pow(shift, k, evaluate=False), evaluate=False)
        for k, c in enumerate(coefficients)
        if k > 0
    ]
    expr = sp.Add(*terms, evaluate=False)
    printer = EquationLatexPrinter({"digits": digits})
    grid = np.linspace(interval[0], interval[1], GRID)
    approx = TaylorApprox(
        order=order,
        point=float(point),
        interval=tuple(interval),
        coefficients=coefficients,
        expr=expr,
        latex=rf"\hat{{y}} \approx {printer.doprint(expr)}",
        max_error=0.0,
        network=network,
    )
    error = float(np.max(np.abs(network(grid) - approx(grid))))
    return TaylorApprox(**{**approx.__dict__, "max_error": error})


def _equation(source: Any):
    if not (hasattr(source, "expressions") and hasattr(source, "inputs")):
        raise TypeError(f"expected a composed equation, not {type(source).__name__}")
    if not source.closed_form:
        raise ValueError(f"no closed form to expand: {source.reason}")
    return source


@cache
def _derivatives(func: Any, params: tuple[float, ...], order: int) -> tuple[sp.Expr, ...]:
    """`g, g', ..., g^{(order)}` of one activation (with its parameters) in a symbol `z`."""
    z = sp.Symbol("z", real=True)
    if isinstance(func, type) and issubclass(func, ActivationFunction):
        g = func.row.sympy_form(z, **dict(zip(func.row.params, params, strict=True)))
    else:
        g = func(z)
    out = [g]
    for _ in range(order):
        out.append(sp.diff(out[-1], z))
    return tuple(sp.Lambda(z, d) for d in out)


class _Series:
    """Truncated power series in `t = x - point`, computed once per distinct subexpression."""

    def __init__(self, x: sp.Symbol, point: float, order: int):
        self.x, self.point, self.order = x, point, order
        self.memo: dict[int, np.ndarray] = {}

    def constant(self, value: float) -> np.ndarray:
        out = np.zeros(self.order + 1)
        out[0] = value
        return out

    def mul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.convolve(a, b)[: self.order + 1]

    def compose(self, derivs: list[float], u: np.ndarray) -> np.ndarray:
        """`g(u)` from `g^{(k)}(u_0)`: `sum_k g^{(k)}(u_0) h^k / k!`, `h = u - u_0`."""
        h = u.copy()
        h[0] = 0.0
        out, power = self.constant(derivs[0]), self.constant(1.0)
        for k in range(1, self.order + 1):
            power = self.mul(power, h)
            out = out + derivs[k] / factorial(k) * power
        return out

    def apply(self, func: Any, params: tuple[float, ...], u: np.ndarray) -> np.ndarray:
        derivs = [float(sp.N(d(sp.Float(u[0])))) for d in _derivatives(func, params, self.order)]
        return self.compose(derivs, u)

    def of(self, node: sp.Basic) -> np.ndarray:
        key = id(node)
        if key not in self.memo:
            self.memo[key] = self._of(node)
        return self.memo[key]

    def _of(self, node: sp.Basic) -> np.ndarray:
        if node == self.x:
            out = self.constant(self.point)
            if self.order:
                out[1] = 1.0
            return out
        if node.is_Number:
            return self.constant(float(node))
        if isinstance(node, sp.Add):
            return sum((self.of(a) for a in node.args), self.constant(0.0))
        if isinstance(node, sp.Mul):
            out = self.constant(1.0)
            for a in node.args:
                out = self.mul(out, self.of(a))
            return out
        if isinstance(node, sp.Pow) and node.exp.is_Number:
            return self.apply(lambda z, e=node.exp: z**e, (), self.of(node.base))
        if isinstance(node, SoftmaxUnit):
            exps = [self.apply(sp.exp, (), self.of(z)) for z in node.logits]
            total = sum(exps, self.constant(0.0))
            return self.mul(exps[node.index], self.apply(lambda z: 1 / z, (), total))
        if isinstance(node, Maximum | Minimum):
            values = [self.of(a) for a in node.args]
            pick = max if isinstance(node, Maximum) else min
            return pick(values, key=lambda s: s[0])
        if isinstance(node, ActivationFunction):
            params = tuple(float(a) for a in node.args[1:])
            return self.apply(type(node), params, self.of(node.args[0]))
        if isinstance(node, sp.Function) and len(node.args) == 1:
            return self.apply(node.func, (), self.of(node.args[0]))
        raise ValueError(f"no Taylor series for {type(node).__name__}")
