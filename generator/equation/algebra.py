"""Two algebras for one walk over the layers: sympy expressions, and their operation counts.

The builder (`generator.equation.build`) describes each layer as operations on lists of unit
values (one per feature). `SympyAlgebra` makes expressions; `CountAlgebra` makes, for the same
calls, the number of operations each expression would have written out as a tree, in time
proportional to the parameters. Counting first is how the size limit is respected without ever
building an expression that cannot fit; `expression_ops` counts a built expression the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import sympy as sp

from generator.equation.functions import Maximum, Minimum, SoftmaxUnit, apply

MERGES = ("add", "subtract", "multiply", "average", "maximum", "minimum")


def _number(value: Any) -> sp.Expr:
    """A weight as a sympy Float holding its exact float64 value, or a symbol as given."""
    if isinstance(value, sp.Basic):
        return value
    return sp.Float(float(value))


def _is(value: Any, number: float) -> bool:
    return not isinstance(value, sp.Basic) and float(value) == number


class SympyAlgebra:
    """Builds unevaluated sympy expressions (no expansion, no collecting of like terms)."""

    def affine(
        self, xs: Sequence[sp.Expr], kernel: np.ndarray, bias: np.ndarray | None
    ) -> list[sp.Expr]:
        """`sum_i kernel[i, j] x_i + bias[j]` for every unit `j` (Keras's `x @ kernel + bias`)."""
        units = []
        for j in range(kernel.shape[1]):
            terms = [sp.Mul(_number(kernel[i, j]), x, evaluate=False) for i, x in enumerate(xs)]
            if bias is not None:
                terms.append(_number(bias[j]))
            units.append(sp.Add(*terms, evaluate=False))
        return units

    def scale_shift(self, xs: Sequence[sp.Expr], scale: Sequence, shift: Sequence) -> list[sp.Expr]:
        """`scale_i x_i + shift_i`, leaving out a scale of exactly 1 and a shift of exactly 0."""
        out = []
        for x, a, c in zip(xs, scale, shift, strict=False):
            term = x if _is(a, 1.0) else sp.Mul(_number(a), x, evaluate=False)
            out.append(term if _is(c, 0.0) else sp.Add(term, _number(c), evaluate=False))
        return out

    def activation(self, xs: Sequence[sp.Expr], name: str, params: dict[str, Any]) -> list[sp.Expr]:
        """`name(x_i)` for each unit; array-valued parameters (PReLU) are taken per unit."""
        return [apply(name, x, _unit_params(params, i)) for i, x in enumerate(xs)]

    def softmax(self, xs: Sequence[sp.Expr]) -> list[sp.Expr]:
        return [SoftmaxUnit(sp.Integer(j), *xs, evaluate=False) for j in range(len(xs))]

    def merge(self, op: str, tensors: Sequence[Sequence[sp.Expr]]) -> list[sp.Expr]:
        """Element-wise `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`."""
        out = []
        for units in zip(*tensors, strict=False):
            if op == "add":
                out.append(sp.Add(*units, evaluate=False))
            elif op == "subtract":
                negated = sp.Mul(sp.Integer(-1), units[1], evaluate=False)
                out.append(sp.Add(units[0], negated, evaluate=False))
            elif op == "multiply":
                out.append(sp.Mul(*units, evaluate=False))
            elif op == "average":
                mean = sp.Float(1.0 / len(units))
                out.append(sp.Mul(mean, sp.Add(*units, evaluate=False), evaluate=False))
            elif op == "maximum":
                out.append(Maximum(*units, evaluate=False))
            else:
                out.append(Minimum(*units, evaluate=False))
        return out


class CountAlgebra:
    """The operation count of each unit's expression, mirroring `SympyAlgebra` call for call.

    A sum or product of `n` terms counts `n - 1`, a function application 1, a softmax unit over
    `n` logits `2n + 1` (n + 1 exponentials, n - 1 additions, one division) plus its logits.
    """

    def affine(self, xs: Sequence[int], kernel: np.ndarray, bias: np.ndarray | None) -> list[int]:
        terms = len(xs) + (bias is not None)
        ops = sum(xs) + len(xs) + terms - 1  # one product per input, then the sum
        return [ops] * kernel.shape[1]

    def scale_shift(self, xs: Sequence[int], scale: Sequence, shift: Sequence) -> list[int]:
        return [
            x + (not _is(a, 1.0)) + (not _is(c, 0.0))
            for x, a, c in zip(xs, scale, shift, strict=False)
        ]

    def activation(self, xs: Sequence[int], name: str, params: dict[str, Any]) -> list[int]:
        return list(xs) if name == "linear" else [x + 1 for x in xs]

    def softmax(self, xs: Sequence[int]) -> list[int]:
        total, n = sum(xs), len(xs)
        return [total + x + 2 * n + 1 for x in xs]

    def merge(self, op: str, tensors: Sequence[Sequence[int]]) -> list[int]:
        n = len(tensors)
        extra = {"subtract": 2, "average": n}.get(op, n - 1)
        return [sum(units) + extra for units in zip(*tensors, strict=False)]


def _unit_params(params: dict[str, Any], i: int) -> dict[str, float]:
    return {k: float(np.ravel(v)[i]) if np.ndim(v) else float(v) for k, v in params.items()}


def expression_ops(expr: sp.Expr) -> int:
    """Operations in `expr` written out as a tree (shared subexpressions count every time).

    Runs in time proportional to the distinct subexpressions, so it can count trees far too
    large to print.
    """
    memo: dict[int, int] = {}

    def ops(node: sp.Basic) -> int:
        key = id(node)
        if key in memo:
            return memo[key]
        if isinstance(node, SoftmaxUnit):
            logits = [ops(z) for z in node.logits]
            count = sum(logits) + logits[node.index] + 2 * len(logits) + 1
        elif not node.args or node.is_Number:
            count = 0
        elif isinstance(node, sp.Add | sp.Mul | Maximum | Minimum):
            count = len(node.args) - 1 + sum(ops(a) for a in node.args)
        else:  # a function (extra arguments are constant parameters) or a power
            count = 1 + sum(ops(a) for a in node.args)
        memo[key] = count
        return count

    return ops(expr)
