"""The integer formula tree: LaTeX in symbols and numbers, plain arithmetic, values.

No TensorFlow here. Each row's value is checked against Python evaluating the plain form, and
the plain form against the arithmetic a person would write.
"""

from __future__ import annotations

import re

import pytest

from generator.layers.formula import CeilDiv, FloorDiv, Mul, Num, Sub, Sym, product, total

kh, kw, cin, cout = Sym("k_h", 3), Sym("k_w", 3), Sym(r"c_{in}", 3), Sym(r"c_{out}", 32)
n, s, k = Sym("n_h", 32), Sym("s_h", 2), Sym("k_h", 3)

# (id, formula, symbols LaTeX, numbers LaTeX, plain, value)
ROWS = [
    (
        "conv_params",
        (kh * kw * cin + 1) * cout,
        r"\left(k_h k_w c_{in} + 1\right) c_{out}",
        r"\left(3 \cdot 3 \cdot 3 + 1\right) \cdot 32",
        "(3*3*3 + 1)*32",
        896,
    ),
    (
        "product_of_syms",
        product([Sym("n_h", 14), Sym("n_w", 14), Sym("c", 16)]),
        "n_h n_w c",
        r"14 \cdot 14 \cdot 16",
        "14*14*16",
        3136,
    ),
    ("digit_times_symbol", Mul((Num(4), Sym("c", 32))), "4 c", r"4 \cdot 32", "4*32", 128),
    ("digits_need_a_dot", Mul((Num(2), Num(3))), r"2 \cdot 3", r"2 \cdot 3", "2*3", 6),
    (
        "valid_window",
        FloorDiv(n + Mul((Num(2), Sym("p", 0))) - k, s) + 1,
        r"\left\lfloor \frac{n_h + 2 p - k_h}{s_h} \right\rfloor + 1",
        r"\left\lfloor \frac{32 + 2 \cdot 0 - 3}{2} \right\rfloor + 1",
        "(32 + 2*0 - 3)//(2) + 1",
        15,
    ),
    (
        "same_window",
        CeilDiv(Sym("n_w", 13), Sym("s_w", 2)),
        r"\left\lceil \frac{n_w}{s_w} \right\rceil",
        r"\left\lceil \frac{13}{2} \right\rceil",
        "-(-(13)//(2))",
        7,
    ),
    (
        "subtraction_keeps_right_sum_in_parens",
        Sub(Num(10), Num(4) + Num(3)),
        r"10 - \left(4 + 3\right)",
        r"10 - \left(4 + 3\right)",
        "10 - (4 + 3)",
        3,
    ),
    (
        "left_associative_subtraction",
        Sub(Sub(Sym("n", 10), Sym("a", 1)), Sym("b", 2)),
        "n - a - b",
        "10 - 1 - 2",
        "10 - 1 - 2",
        7,
    ),
    (
        "sum_of_products",
        Mul((kh, kw)) + Mul((Sym("m", 2), cout)),
        "k_h k_w + m c_{out}",
        r"3 \cdot 3 + 2 \cdot 32",
        "3*3 + 2*32",
        73,
    ),
    ("int_on_the_left", 2 * Sym("c", 5) + 1, "2 c + 1", r"2 \cdot 5 + 1", "2*5 + 1", 11),
    ("total_of_one", total([Sym("c", 5)]), "c", "5", "5", 5),
    ("total_of_none", total([]), "0", "0", "0", 0),
    ("product_of_none", product([]), "1", "1", "1", 1),
]

PLAIN = re.compile(r"^[0-9+\-*/() ]+$")


@pytest.mark.parametrize(
    "formula, symbols, numbers, plain, value", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_formula_prints_and_evaluates(formula, symbols, numbers, plain, value):
    assert formula.latex() == symbols
    assert formula.latex(numbers=True) == numbers
    assert formula.plain() == plain
    assert formula.value() == value
    assert PLAIN.match(formula.plain())
    assert eval(formula.plain()) == value  # noqa: S307 - digits and operators only


def test_derivation_leaves_out_repeated_steps():
    assert ((kh * kw * cin + 1) * cout).derivation() == (
        r"\left(k_h k_w c_{in} + 1\right) c_{out} = \left(3 \cdot 3 \cdot 3 + 1\right) \cdot 32"
        " = 896"
    )
    # Symbols that read as their numbers already: one step only.
    assert Num(7).derivation() == "7"
    assert (Num(3) + Num(4)).derivation() == "3 + 4 = 7"


def test_derivation_groups_thousands_for_latex():
    assert Mul((Sym("n", 3136), Sym("m", 128))).derivation() == r"n m = 3136 \cdot 128 = 401{,}408"


def test_parameter_counts_never_use_division():
    """Parameter formulas must stay `+ - * ( )` so programs can evaluate them; windows may
    divide, but floor and ceiling print as integer division."""
    conv = (kh * kw * cin + 1) * cout
    assert "/" not in conv.plain()
    assert "//" in FloorDiv(Num(7), Num(2)).plain()
