"""LaTeX for composed equations: weights rounded for reading, long sums broken over lines."""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp
from sympy.printing.latex import LatexPrinter

from generator.equation.functions import ActivationFunction, SoftmaxUnit

LINE_CHARS = 170  # LaTeX characters per line of a broken sum; about a page width when typeset


def _zero(expr: sp.Expr) -> bool:
    """A zero number (a bias of exactly 0), without sympy's slow assumption queries."""
    return expr.is_Number and float(expr) == 0.0


def rounded(value: float, digits: int) -> str:
    """`value` to `digits` significant digits; `1.23 \\cdot 10^{-5}` for very small or large."""
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \cdot 10^{{{int(exponent)}}}"
    return text


class MemoPrinting:
    """Prints each distinct subexpression once: the composed tree shares most of its nodes."""

    def _print(self, expr, **kwargs) -> str:
        if kwargs or not isinstance(expr, sp.Basic):
            return super()._print(expr, **kwargs)
        memo = self.__dict__.setdefault("_memo", {})
        key = id(expr)
        if key not in memo:
            memo[key] = (super()._print(expr), expr)  # keep expr alive so its id stays unique
        return memo[key][0]


class EquationLatexPrinter(MemoPrinting, LatexPrinter):
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
        terms = [t for t in expr.args if not _zero(t)]
        if not terms:
            return "0"
        limit = self._settings["max_terms"]
        if limit and len(terms) > limit:
            head = join_terms([self._print(t) for t in terms[:2]])
            return f"{head} + \\dots{join_terms(['', self._print(terms[-1])])}"
        return join_terms([self._print(t) for t in terms])

    def _print_Mul(self, expr: sp.Mul) -> str:
        return " ".join(mul_factors(self, expr, r"\left(", r"\right)"))

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        names = self._settings.get("symbol_names") or {}
        return names.get(expr, expr.name)


def mul_factors(printer, expr: sp.Mul, left: str = "(", right: str = ")") -> list[str]:
    """A product's factors printed in order, a negative coefficient as a leading `-`.

    Sympy's own `_print_Mul` negates and re-evaluates products (`tanh(a)` becomes
    `-tanh(-a)`) and asks every factor for its precedence, which is slow on deep trees; this
    never builds a new expression except a negated number.
    """
    factors = list(expr.args)
    sign = ""
    if factors[0].is_Number and factors[0].is_negative:
        sign = "-"
        rest = factors[1:]
        factors = rest if factors[0] == -1 and rest else [-factors[0], *rest]
    printed = []
    for factor in factors:
        text = printer._print(factor)
        grouped = (
            isinstance(factor, sp.Add)
            or (isinstance(factor, sp.Mul) and factor.args[0].is_Number)
            or text.startswith("-")
        )
        alone = len(factors) == 1 and not sign
        printed.append(f"{left}{text}{right}" if grouped and not alone else text)
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


def _tokens(expr: sp.Expr, printer: EquationLatexPrinter, width: int) -> list[str]:
    """`expr` printed as pieces a line may break between: the terms of a sum, and inside a
    term too long for a line, the terms of its function's argument between `\\Bigl(` and
    `\\Bigr)` (fixed-size delimiters may open on one line and close on another)."""
    printed = printer._print(expr)
    if len(printed) <= width:
        return [printed]
    if isinstance(expr, sp.Add):
        out: list[str] = []
        for term in (t for t in expr.args if not _zero(t)):
            pieces = _tokens(term, printer, width)
            if out:
                first = pieces[0]
                pieces[0] = " - " + first[1:].lstrip() if first.startswith("-") else " + " + first
            out += pieces
        return out
    coefficient, inner = "", expr
    if isinstance(expr, sp.Mul) and len(expr.args) == 2 and expr.args[0].is_Number:
        coefficient, inner = printer._print(expr.args[0]) + " ", expr.args[1]
    head = _function_head(inner, printer) if inner.args else None
    if head is None or not isinstance(inner.args[0], sp.Add):
        return [printed]
    body = _tokens(inner.args[0], printer, width)
    return [f"{coefficient}{head}\\Bigl({body[0]}", *body[1:], r"\Bigr)"]


def broken_lines(
    lhs: str, expr: sp.Expr, printer: EquationLatexPrinter, width: int = LINE_CHARS
) -> list[str]:
    """`lhs &= ...` as lines of `aligned`, broken between terms of sums (see `_tokens`)."""
    tokens = _tokens(expr, printer, width)
    lines, current = [], f"{lhs} &= {tokens[0]}"
    for token in tokens[1:]:
        if len(current) + len(token) > width and token != r"\Bigr)":
            lines.append(current)
            current = r"&\quad " + token.lstrip()
        else:
            current += token
    lines.append(current)
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
