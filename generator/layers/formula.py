"""Integer formulas that print themselves: symbols, the same with numbers put in, and the result.

Parameter counts and output sizes are small integer expressions that a learner reads in the order
they are written, `(k_h k_w c_{in} + 1) c_{out}`. A computer-algebra system would reorder and
collapse them, so they get this small expression tree instead: each node knows its value, its
LaTeX in symbols, its LaTeX with numbers, and plain arithmetic (`(3*3*3 + 1)*32`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

# Binding strength, for deciding where parentheses are needed.
_ATOM, _PRODUCT, _SUM = 3, 2, 1


class Formula:
    """Base of the expression tree. Combine with `+`, `-`, `*` and ints."""

    precedence = _ATOM

    def value(self) -> int:
        raise NotImplementedError

    def latex(self, numbers: bool = False) -> str:
        raise NotImplementedError

    def plain(self) -> str:
        raise NotImplementedError

    def derivation(self) -> str:
        """`symbols = numbers = result` in LaTeX, leaving out steps that say nothing new."""
        result = f"{self.value():,}".replace(",", "{,}")
        steps = [self.latex(numbers=False), self.latex(numbers=True), result]
        out: list[str] = []
        for step in steps:
            if not out or out[-1] != step:
                out.append(step)
        return " = ".join(out)

    def __add__(self, other: Formula | int) -> Formula:
        return Add((self, as_formula(other)))

    def __radd__(self, other: int) -> Formula:
        return Add((as_formula(other), self))

    def __sub__(self, other: Formula | int) -> Formula:
        return Sub(self, as_formula(other))

    def __mul__(self, other: Formula | int) -> Formula:
        return Mul((self, as_formula(other)))

    def __rmul__(self, other: int) -> Formula:
        return Mul((as_formula(other), self))


def as_formula(x: Formula | int) -> Formula:
    return x if isinstance(x, Formula) else Num(int(x))


def _wrap(child: Formula, min_precedence: int, numbers: bool) -> str:
    text = child.latex(numbers)
    return rf"\left({text}\right)" if child.precedence < min_precedence else text


def _wrap_plain(child: Formula, min_precedence: int) -> str:
    text = child.plain()
    return f"({text})" if child.precedence < min_precedence else text


@dataclass(frozen=True)
class Num(Formula):
    n: int

    def value(self) -> int:
        return self.n

    def latex(self, numbers: bool = False) -> str:
        return str(self.n)

    def plain(self) -> str:
        return str(self.n)


@dataclass(frozen=True)
class Sym(Formula):
    """A named quantity with its value: `Sym("k_h", 3)`."""

    symbol: str
    n: int

    def value(self) -> int:
        return self.n

    def latex(self, numbers: bool = False) -> str:
        return str(self.n) if numbers else self.symbol

    def plain(self) -> str:
        return str(self.n)


@dataclass(frozen=True)
class Add(Formula):
    terms: tuple[Formula, ...]
    precedence = _SUM

    def value(self) -> int:
        return sum(t.value() for t in self.terms)

    def latex(self, numbers: bool = False) -> str:
        return " + ".join(_wrap(t, _SUM, numbers) for t in self.terms)

    def plain(self) -> str:
        return " + ".join(_wrap_plain(t, _SUM) for t in self.terms)

    def __add__(self, other: Formula | int) -> Formula:
        return Add((*self.terms, as_formula(other)))


@dataclass(frozen=True)
class Sub(Formula):
    left: Formula
    right: Formula
    precedence = _SUM

    def value(self) -> int:
        return self.left.value() - self.right.value()

    def latex(self, numbers: bool = False) -> str:
        return f"{_wrap(self.left, _SUM, numbers)} - {_wrap(self.right, _PRODUCT, numbers)}"

    def plain(self) -> str:
        return f"{_wrap_plain(self.left, _SUM)} - {_wrap_plain(self.right, _PRODUCT)}"


@dataclass(frozen=True)
class Mul(Formula):
    factors: tuple[Formula, ...]
    precedence = _PRODUCT

    def value(self) -> int:
        out = 1
        for f in self.factors:
            out *= f.value()
        return out

    def latex(self, numbers: bool = False) -> str:
        parts = [_wrap(f, _PRODUCT, numbers) for f in self.factors]
        text = parts[0]
        for prev, part in pairwise(parts):
            # Juxtaposition reads as a product between symbols; digits next to digits need a dot.
            digits = prev[-1:].isdigit() and (part[:1].isdigit() or part.startswith(r"\left"))
            text += r" \cdot " if numbers or digits else " "
            text += part
        return text

    def plain(self) -> str:
        return "*".join(_wrap_plain(f, _PRODUCT) for f in self.factors)

    def __mul__(self, other: Formula | int) -> Formula:
        return Mul((*self.factors, as_formula(other)))


@dataclass(frozen=True)
class FloorDiv(Formula):
    """`\\lfloor a / b \\rfloor`, written as a fraction in LaTeX."""

    num: Formula
    den: Formula

    def value(self) -> int:
        return self.num.value() // self.den.value()

    def latex(self, numbers: bool = False) -> str:
        return (
            rf"\left\lfloor \frac{{{self.num.latex(numbers)}}}{{{self.den.latex(numbers)}}}"
            r" \right\rfloor"
        )

    def plain(self) -> str:
        return f"({self.num.plain()})//({self.den.plain()})"


@dataclass(frozen=True)
class CeilDiv(Formula):
    """`\\lceil a / b \\rceil`, written as a fraction in LaTeX."""

    num: Formula
    den: Formula

    def value(self) -> int:
        return -(-self.num.value() // self.den.value())

    def latex(self, numbers: bool = False) -> str:
        return (
            rf"\left\lceil \frac{{{self.num.latex(numbers)}}}{{{self.den.latex(numbers)}}}"
            r" \right\rceil"
        )

    def plain(self) -> str:
        return f"-(-({self.num.plain()})//({self.den.plain()}))"


def total(terms: list[Formula]) -> Formula:
    """The sum of `terms`; a single term stays itself, none gives 0."""
    if not terms:
        return Num(0)
    if len(terms) == 1:
        return terms[0]
    return Add(tuple(terms))


def product(factors: list[Formula]) -> Formula:
    """The product of `factors`; a single factor stays itself, none gives 1."""
    if not factors:
        return Num(1)
    if len(factors) == 1:
        return factors[0]
    return Mul(tuple(factors))
