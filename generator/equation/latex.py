"""LaTeX for composed equations: weights rounded for reading, long sums broken over lines."""

from __future__ import annotations

import math
from collections.abc import Sequence

import sympy as sp
from sympy.printing.latex import LatexPrinter

from generator.equation.functions import ActivationFunction, SoftmaxUnit
from generator.layers.common import aligned

LINE_CHARS = 120  # LaTeX characters per line of a broken sum; fits a page when typeset
# Heads TeX typesets as operators: they bring their own thin space after a coefficient.
OPERATOR_HEADS = (r"\tanh", r"\exp", r"\log", r"\max", r"\min", r"\operatorname")
BROKEN = ((r"\Bigl(", r"\Bigr)"), (r"\biggl(", r"\biggr)"))  # an inner, an outer broken group


def _zero(expr: sp.Expr) -> bool:
    """A zero number (a bias of exactly 0), without sympy's slow assumption queries."""
    return expr.is_Number and float(expr) == 0.0


def _hidden(term: sp.Expr) -> bool:
    """A term of a sum that is exactly zero (`0`, or a product led by exactly `0`); a term
    that only rounds to zero is always shown."""
    return _zero(term) or (isinstance(term, sp.Mul) and _zero(term.args[0]))


def rounded(value: float, digits: int) -> str:
    r"""`value` to `digits` significant digits: `0.45`, `1` (never `1.0`), `2 \cdot 10^{-5}`.

    Significant digits keep every nonzero value nonzero (`0.0004`, not `0`); a mantissa of 1
    is left out (`10^{-6}`).
    """
    if value == 0.0:
        return "0"  # also -0.0
    if not math.isfinite(value):
        return r"\mathrm{NaN}" if math.isnan(value) else ("-" if value < 0 else "") + r"\infty"
    text = f"{value:.{max(digits, 1)}g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    power = f"10^{{{int(exponent)}}}"
    return mantissa[:-1] + power if mantissa in ("1", "-1") else rf"{mantissa} \cdot {power}"


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
    """Sympy's LaTeX printer keeping the builder's term order and rounding Floats for reading.

    Only the printing rounds: a coefficient shown as 1 is left out (`\\tanh(z)`, `-x`), a sum
    hides terms that are exactly zero (`+ 0`), and `+ -0.3` reads `- 0.3`; the expression
    (and the NumPy module printed from it) keeps every weight's float64 value.

    With `max_terms`, a sum of more terms prints its first two, `\\dots` and its last (the
    general form in symbols stays short for any width).
    """

    _default_settings = {**LatexPrinter._default_settings, "digits": 3, "max_terms": None}

    def __init__(self, settings: dict | None = None):
        super().__init__({"order": "none", **(settings or {})})

    def _print_Float(self, expr: sp.Float) -> str:
        return rounded(float(expr), self._settings["digits"])

    def _print_Add(self, expr: sp.Add, order: str | None = None) -> str:
        terms = [t for t in expr.args if not _hidden(t)]
        if not terms:
            return "0"
        limit = self._settings["max_terms"]
        if limit and len(terms) > limit:
            head = join_terms([self._print(t) for t in terms[:2]])
            return f"{head} + \\dots{join_terms(['', self._print(terms[-1])])}"
        return join_terms([self._print(t) for t in terms])

    def _print_Mul(self, expr: sp.Mul) -> str:
        sign, factors = coefficient(self, expr)
        return product(self, sign, factors, bool(sign) or len(factors) > 1)

    def _print_tanh(self, expr: sp.Expr, exp: str | None = None) -> str:
        head = r"\tanh" + (f"^{{{exp}}}" if exp else "")
        return rf"{head}\left({self._print(expr.args[0])}\right)"

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        names = self._settings.get("symbol_names") or {}
        return names.get(expr, expr.name)


def coefficient(printer: EquationLatexPrinter, expr: sp.Mul) -> tuple[str, list[sp.Expr]]:
    """A product's leading number as shown (`""` when it reads 1, `"-"` when -1), and the
    factors after it."""
    factors = list(expr.args)
    if len(factors) < 2 or not factors[0].is_Number:
        return "", factors
    text = printer._print(factors[0])
    return (text[:-1] if text in ("1", "-1") else text), factors[1:]


def product(
    printer: EquationLatexPrinter, sign: str, factors: Sequence[sp.Expr], group: bool
) -> str:
    """`sign` and `factors` side by side; with `group`, sums and signed factors in parentheses."""
    out = sign
    for factor in factors:
        text = printer._print(factor)
        if group and grouped(printer, factor):
            text = rf"\left({text}\right)"
        out += factor_space(out, factor, text) + text
    return out


def grouped(printer: EquationLatexPrinter, factor: sp.Expr) -> bool:
    """Whether `factor` needs parentheses inside a product: a sum, or a product that shows a
    leading number or sign (`0.5 \\left(-x\\right)`, never `0.5 -x` or `0.5 0.3 x`)."""
    if isinstance(factor, sp.Add):
        shown = [t for t in factor.args if not _hidden(t)]
        return len(shown) != 1 or grouped(printer, shown[0])
    if isinstance(factor, sp.Mul):
        sign, rest = coefficient(printer, factor)
        return bool(sign) or (len(rest) == 1 and grouped(printer, rest[0]))
    text = printer._print(factor)
    return text.startswith("-") or text[:1].isdigit()


def factor_space(before: str, factor: sp.Expr, text: str) -> str:
    """What separates a factor from what precedes it: nothing after a bare sign, a thin space
    before an activation TeX would set flush (`0.5\\,\\sigma`), else a space."""
    if before in ("", "-"):
        return ""
    if isinstance(factor, ActivationFunction) and not text.startswith(OPERATOR_HEADS):
        return r"\,"
    return " "


def mul_factors(printer, expr: sp.Mul, left: str = "(", right: str = ")") -> list[str]:
    """A product's factors printed in order, a negative coefficient as a leading `-`.

    Sympy's own `_print_Mul` negates and re-evaluates products (`tanh(a)` becomes
    `-tanh(-a)`) and asks every factor for its precedence, which is slow on deep trees; this
    never builds a new expression except a negated number. (The NumPy printer's products;
    the LaTeX printer has its own, which also leaves out coefficients that read 1.)
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


def _tokens(
    expr: sp.Expr, printer: EquationLatexPrinter, width: int, split: bool = False
) -> list[str]:
    """`expr` printed as pieces a line may break between: the terms of a sum, and inside a
    term too long for a line, the terms of its function's argument or of its parenthesised
    sum, between `\\Bigl(` and `\\Bigr)` (fixed-size delimiters may open on one line and close
    on another; `\\biggl(` for one holding another). With `split`, a sum is split into its
    terms even when it fits (it is the argument of a term that does not)."""
    printed = printer._print(expr)
    if len(printed) <= width and not (split and isinstance(expr, sp.Add)):
        return [printed]
    if isinstance(expr, sp.Add):
        terms: list[sp.Expr | None] = [t for t in expr.args if not _hidden(t)]
        limit = printer._settings["max_terms"]
        if limit and len(terms) > limit:  # as `_print_Add` shows it: two terms, dots, the last
            terms = [*terms[:2], None, terms[-1]]
        out: list[str] = []
        for term in terms:
            pieces = [r"\dots"] if term is None else _tokens(term, printer, width)
            if out:
                first = pieces[0]
                pieces[0] = " - " + first[1:].lstrip() if first.startswith("-") else " + " + first
            out += pieces
        return out
    sign, factors = coefficient(printer, expr) if isinstance(expr, sp.Mul) else ("", [expr])
    *lead, inner = factors
    if isinstance(inner, sp.Add):
        if not sign and not lead:  # a coefficient that reads 1: the sum needs no parentheses
            return _tokens(inner, printer, width)
        head, body = "", _tokens(inner, printer, width, split=True)
    else:
        head = _function_head(inner, printer) if inner.args else None
        if head is None:
            return [printed]
        body = _tokens(inner.args[0], printer, width, split=True)
    if len(body) == 1:
        return [printed]
    left, right = BROKEN[any(r"\Bigl(" in piece or r"\biggl(" in piece for piece in body)]
    prefix = product(printer, sign, lead, True)
    opening = prefix + factor_space(prefix, inner, head) + head
    return [f"{opening}{left}{body[0]}", *body[1:], right]


def broken_lines(
    lhs: str, expr: sp.Expr, printer: EquationLatexPrinter, width: int = LINE_CHARS
) -> list[str]:
    """`lhs &= ...` as lines of `aligned`, broken between terms of sums (see `_tokens`)."""
    tokens = _tokens(expr, printer, width)
    closing = {right for _, right in BROKEN}
    lines, current = [], f"{lhs} &= {tokens[0]}"
    for token in tokens[1:]:
        if len(current) + len(token) > width and token not in closing:
            lines.append(current)
            current = r"&\quad " + token.lstrip()
        else:
            current += token
    lines.append(current)
    return lines


def output_names(n: int) -> list[str]:
    """The network's outputs as the notation names them: `\\hat{y}`, or `\\hat{y}_0, ...`."""
    return [r"\hat{y}"] if n == 1 else [rf"\hat{{y}}_{{{j}}}" for j in range(n)]


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
    return aligned(lines, "\n")
