"""LaTeX for composed equations: weights rounded for reading, long sums broken over lines."""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import precedence

from generator.equation.functions import ActivationFunction, SoftmaxUnit

LINE_CHARS = 170  # LaTeX characters per line of a broken sum; about a page width when typeset


def rounded(value: float, digits: int) -> str:
    """`value` to `digits` significant digits; `1.23 \\cdot 10^{-5}` for very small or large."""
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \cdot 10^{{{int(exponent)}}}"
    return text


class EquationLatexPrinter(LatexPrinter):
    """Sympy's LaTeX printer keeping the builder's term order, rounding Floats, hiding `+ 0`.

    With `max_terms`, a sum of more terms prints its first two, `\\dots` and its last (the
    general form in symbols stays short for any width).
    """

    _default_settings = {**LatexPrinter._default_settings, "digits": 3, "max_terms": None}

    def __init__(self, settings: dict | None = None):
        super().__init__({"order": "none", **(settings or {})})

    def _print_Float(self, expr: sp.Float) -> str:
        return rounded(float(expr), self._settings["digits"])

    def _print_Add(self, expr: sp.Add, order: str | None = None) -> str:
        terms = [t for t in expr.args if not t.is_zero]
        if not terms:
            return "0"
        limit = self._settings["max_terms"]
        if limit and len(terms) > limit:
            head = join_terms([self._print(t) for t in terms[:2]])
            return f"{head} + \\dots{join_terms(['', self._print(terms[-1])])}"
        return join_terms([self._print(t) for t in terms])

    def _print_Mul(self, expr: sp.Mul) -> str:
        return " ".join(mul_factors(self, expr))

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        names = self._settings.get("symbol_names") or {}
        return names.get(expr, expr.name)


def mul_factors(printer, expr: sp.Mul) -> list[str]:
    """A product's factors printed in order, a negative coefficient as a leading `-`.

    Sympy's own `_print_Mul` negates and re-evaluates products (`tanh(a)` becomes
    `-tanh(-a)`); this never builds a new expression except a negated number.
    """
    factors = list(expr.args)
    sign = ""
    if factors[0].is_Number and factors[0].is_negative:
        sign = "-"
        factors = (
            factors[1:] if factors[0] == -1 and len(factors) > 1 else [-factors[0], *factors[1:]]
        )
    level = precedence(expr)
    printed = [printer.parenthesize(f, level, strict=False) for f in factors]
    printed[0] = sign + printed[0]
    return printed


def join_terms(printed: Sequence[str]) -> str:
    """`a + b - c` from printed terms, folding a leading minus into the operator."""
    out = ""
    for i, term in enumerate(printed):
        if i == 0:
            out = term
        elif term.startswith("-"):
            out += " - " + term[1:].lstrip()
        else:
            out += " + " + term
    return out


def _function_head(expr: sp.Expr, printer: EquationLatexPrinter) -> str | None:
    """`\\tanh`, `\\sigma`, ... for a one-unit function whose argument can be broken."""
    if isinstance(expr, ActivationFunction):
        return expr.latex_name(printer)
    return {sp.tanh: r"\tanh", sp.exp: r"\exp"}.get(expr.func)


def _top_terms(expr: sp.Expr, printer: EquationLatexPrinter) -> tuple[str, str, list[sp.Expr]]:
    """Peel one-unit functions off `expr` down to a sum: (prefix, suffix, terms)."""
    prefix, suffix = "", ""
    while expr.args and isinstance(expr.args[0], sp.Add):
        head = _function_head(expr, printer)
        if head is None:
            break
        prefix, suffix = prefix + head + r"\Bigl(", r"\Bigr)" + suffix
        expr = expr.args[0]
    terms = list(expr.args) if isinstance(expr, sp.Add) else [expr]
    return prefix, suffix, [t for t in terms if not t.is_zero]


def broken_lines(
    lhs: str, expr: sp.Expr, printer: EquationLatexPrinter, width: int = LINE_CHARS
) -> list[str]:
    """`lhs &= ...` as lines of `aligned`, broken between the top-level terms of the sum."""
    prefix, suffix, terms = _top_terms(expr, printer)
    printed = [printer._print(t) for t in terms] or ["0"]
    pieces = [printed[0]] + [
        " - " + t[1:].lstrip() if t.startswith("-") else " + " + t for t in printed[1:]
    ]
    lines, current = [], f"{lhs} &= {prefix}{pieces[0]}"
    for piece in pieces[1:]:
        if len(current) + len(piece) > width:
            lines.append(current)
            current = r"&\quad " + piece.lstrip()
        else:
            current += piece
    lines.append(current + suffix)
    return lines


def aligned(lines: Sequence[str]) -> str:
    """Lines joined into one `aligned` environment."""
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


def output_names(n: int) -> list[str]:
    return ["y"] if n == 1 else [f"y_{{{j}}}" for j in range(n)]


def closed_form_latex(outputs: Sequence[sp.Expr], printer: EquationLatexPrinter) -> str:
    """Every output as `y_j = ...`; a softmax output as `e^{z_j} / sum e^{z_i}` with its `z`."""
    lines: list[str] = []
    names = output_names(len(outputs))
    done: set[tuple] = set()
    for name, expr in zip(names, outputs, strict=False):
        if isinstance(expr, SoftmaxUnit):
            n = len(expr.logits)
            lines.append(
                rf"{name} &= \frac{{e^{{z_{{{expr.index}}}}}}}"
                rf"{{\sum_{{i=0}}^{{{n - 1}}} e^{{z_i}}}}"
            )
            if expr.logits not in done:
                done.add(expr.logits)
                for i, z in enumerate(expr.logits):
                    lines += broken_lines(f"z_{{{i}}}", z, printer)
            continue
        lines += broken_lines(name, expr, printer)
    return aligned(lines)
