"""How worked examples and equations write numbers and index ranges as a reader would."""

from __future__ import annotations

import re

_LEADING_NEGATIVE = re.compile(r"^\((-[0-9.]+(?:e[-+]?[0-9]+)?)\)")


EXPONENT_NEGATIVE = re.compile(r"\^\{\((-[0-9.]+(?:e[-+]?[0-9]+)?)\)\}")


def leading(text: str) -> str:
    """`-1 \\cdot 2 + ...`: a negative number opening a sum needs no parentheses."""
    return _LEADING_NEGATIVE.sub(r"\1", text)


def call(f: str, arg: str) -> str:
    """`\\tanh(0.5)`, `\\tanh(-0.5)`: a function of one number, with one pair of parentheses."""
    if arg.startswith("(") and arg.endswith(")") and "(" not in arg[1:]:
        return f"{f}{arg}"
    return f"{f}({arg})"


def index_range(name: str, last: int, first: int = 0) -> str:
    """`j = 0, \\dots, 9`: the values an index takes; a range of one value prints as that value."""
    if last == first:
        return f"{name} = {first}"
    if abs(last - first) == 1:
        return f"{name} = {first}, {last}"
    return rf"{name} = {first}, \dots, {last}"
