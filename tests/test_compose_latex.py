"""The closed form's LaTeX reads like a person wrote it: no `1 x`, `-1 x`, `+ -0.3`, `0 x`.

Small expressions are built by hand as the equation builder builds them (unevaluated sympy
products led by a Float weight) and compared with raw expected strings; the numbers behind the
rounded text are checked against Python's own formatting and against NumPy evaluating the same
weights, and the Keras rows against `model.predict`.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import sympy as sp

from generator.equation.functions import apply
from generator.equation.latex import EquationLatexPrinter, broken_lines, rounded

X = sp.Symbol("x_0", real=True)
X1 = sp.Symbol("x_1", real=True)
W = sp.Symbol("W")


def _n(value):
    return sp.Float(value) if isinstance(value, float) else value


def mul(*factors):
    return sp.Mul(*map(_n, factors), evaluate=False)


def add(*terms):
    return sp.Add(*map(_n, terms), evaluate=False)


def _printer(digits=3, **settings):
    return EquationLatexPrinter({"digits": digits, "symbol_names": {X: "x"}, **settings})


@pytest.mark.parametrize(
    "value, digits, expected",
    [
        (1.0, 3, "1"),
        (-1.0, 3, "-1"),
        (2.0, 3, "2"),
        (0.0, 3, "0"),
        (-0.0, 3, "0"),
        (0.5, 3, "0.5"),
        (-0.3, 3, "-0.3"),
        (0.99996, 3, "1"),
        (1.0004, 3, "1"),
        (0.996, 2, "1"),
        (0.0004, 3, "0.0004"),
        (0.00004, 3, r"4 \cdot 10^{-5}"),
        (0.000123456, 3, "0.000123"),
        (0.0000123456, 3, r"1.23 \cdot 10^{-5}"),
        (1e-6, 3, "10^{-6}"),
        (-1e-6, 3, "-10^{-6}"),
        (123456.0, 3, r"1.23 \cdot 10^{5}"),
        (0.123456, 5, "0.12346"),
        (float("inf"), 3, r"\infty"),
    ],
)
def test_rounded(value, digits, expected):
    assert rounded(value, digits) == expected


@pytest.mark.parametrize("digits", [1, 2, 3, 5])
def test_rounded_never_hides_a_nonzero_value(digits):
    values = np.random.default_rng(digits).standard_normal(500) * 10.0 ** np.arange(-9, 11).repeat(
        25
    )
    for value in values:
        text = rounded(float(value), digits)
        power = re.fullmatch(r"(-?)(?:([\d.]+) \\cdot )?10\^\{(-?\d+)\}", text)
        if power:
            sign, mantissa, exponent = power.groups()
            text = f"{sign}{mantissa or 1}e{exponent}"
        shown = float(text)
        assert shown != 0.0
        assert shown == float(f"{value:.{digits}g}")  # Python's own significant digits


PRINTED = [
    ("weight -1", apply("sigmoid", add(mul(-1.0, X), 0.5)), r"\sigma\left(-x + 0.5\right)"),
    ("weight 1", mul(1.0, apply("tanh", mul(0.5, X))), r"\tanh\left(0.5 x\right)"),
    ("rounds to 1", mul(0.99996, apply("tanh", X)), r"\tanh\left(x\right)"),
    ("rounds to -1", mul(-1.0004, apply("tanh", X)), r"-\tanh\left(x\right)"),
    ("integer -1", mul(sp.Integer(-1), X), "-x"),
    ("plus minus", add(X, -0.3), "x - 0.3"),
    (
        "minus term",
        add(mul(0.5, X), mul(-0.3, apply("tanh", X))),
        r"0.5 x - 0.3 \tanh\left(x\right)",
    ),
    ("small weight", mul(0.0004, X), "0.0004 x"),
    ("tiny weight", add(mul(0.00002, X), mul(-1e-6, X1)), r"2 \cdot 10^{-5} x - 10^{-6} x_1"),
    ("exact zero hidden", add(mul(0.0, X), 0.0, 0.5), "0.5"),
    ("all zero", add(mul(0.0, X), 0.0), "0"),
    ("one reads 1", add(mul(2.0, X), 1.0), "2 x + 1"),
    ("sum in product", mul(2.0, add(mul(1.0, X), 0.5)), r"2 \left(x + 0.5\right)"),
    ("negated product", mul(-0.3, mul(-1.0, X)), r"-0.3 \left(-x\right)"),
    ("scale about 1", mul(0.983, mul(0.9995, mul(-1.0, X))), r"0.983 \left(-x\right)"),
    ("hidden 1 of a sum", mul(0.5, mul(1.0001, add(X, 1.0))), r"0.5 \left(x + 1\right)"),
    ("zero bias left out", mul(0.5, add(mul(1.2, X), 0.0)), r"0.5 \left(1.2 x\right)"),
    ("subtract merge", mul(sp.Integer(-1), add(X, 0.5)), r"-\left(x + 0.5\right)"),
    (
        "average merge",
        mul(0.5, add(X, apply("tanh", X))),
        r"0.5 \left(x + \tanh\left(x\right)\right)",
    ),
    ("thin space", mul(0.5, apply("relu", X)), r"0.5\,\mathrm{relu}\left(x\right)"),
    ("thin space after symbol", mul(W, apply("sigmoid", X)), r"W\,\sigma\left(x\right)"),
    (
        "multiply merge",
        mul(apply("tanh", X), apply("sigmoid", X)),
        r"\tanh\left(x\right)\,\sigma\left(x\right)",
    ),
    ("operator head", mul(-0.25, apply("tanh", X)), r"-0.25 \tanh\left(x\right)"),
    (
        "parameter subscript",
        apply("leaky_relu", add(X, 1.0), {"negative_slope": 0.3}),
        r"\mathrm{lrelu}_{0.3}\left(x + 1\right)",
    ),
    ("default parameter", apply("elu", X, {"alpha": 1.0}), r"\mathrm{elu}\left(x\right)"),
    ("exponential", mul(0.5, apply("exponential", X)), "0.5 e^{x}"),
]


@pytest.mark.parametrize(
    "expr, expected", [row[1:] for row in PRINTED], ids=[r[0] for r in PRINTED]
)
def test_printed(expr, expected):
    assert _printer().doprint(expr) == expected


def test_fewer_digits_hide_more_coefficients():
    expr = add(mul(0.996, X), mul(-0.996, X1))
    assert _printer(digits=3).doprint(expr) == "0.996 x - 0.996 x_1"
    assert _printer(digits=2).doprint(expr) == "x - x_1"


INNER = add(
    mul(0.5, apply("tanh", mul(2.0, X))), mul(-0.25, apply("sigmoid", X)), mul(0.125, X), 1.5
)

BROKEN = [
    (
        "inside a function",
        mul(-0.75, apply("tanh", INNER)),
        40,
        [
            r"y &= -0.75 \tanh\Bigl(0.5 \tanh\left(2 x\right)",
            r"&\quad - 0.25\,\sigma\left(x\right)",
            r"&\quad + 0.125 x + 1.5\Bigr)",
        ],
    ),
    (
        "inside parentheses",
        add(mul(3.0, add(mul(0.5, X), mul(-0.25, apply("relu", X)), 0.125)), 1.0),
        30,
        [
            r"y &= 3 \Bigl(0.5 x",
            r"&\quad - 0.25\,\mathrm{relu}\left(x\right)",
            r"&\quad + 0.125\Bigr) + 1",
        ],
    ),
    (
        "nested, larger outer delimiters",
        apply("sigmoid", add(mul(0.5, apply("tanh", INNER)), mul(-1.0, apply("tanh", INNER)))),
        50,
        [
            r"y &= \sigma\biggl(0.5 \tanh\Bigl(0.5 \tanh\left(2 x\right)",
            r"&\quad - 0.25\,\sigma\left(x\right) + 0.125 x",
            r"&\quad + 1.5\Bigr)",
            r"&\quad - \tanh\Bigl(0.5 \tanh\left(2 x\right)",
            r"&\quad - 0.25\,\sigma\left(x\right) + 0.125 x",
            r"&\quad + 1.5\Bigr)\biggr)",
        ],
    ),
    (
        "symbol coefficient",
        mul(W, apply("relu", add(mul(W, X), mul(W, X1), W))),
        25,
        [
            r"y &= W\,\mathrm{relu}\Bigl(W x",
            r"&\quad + W x_1 + W\Bigr)",
        ],
    ),
    (
        "fits",
        mul(1.0, apply("tanh", INNER)),
        200,
        [r"y &= \tanh\left(" + _printer().doprint(INNER) + r"\right)"],
    ),
]


@pytest.mark.parametrize(
    "expr, width, expected", [row[1:] for row in BROKEN], ids=[r[0] for r in BROKEN]
)
def test_broken_lines(expr, width, expected):
    lines = broken_lines("y", expr, _printer(), width)
    assert lines == expected
    for line in lines:  # \left( ... \right) may not span lines of `aligned`
        assert line.count(r"\left(") == line.count(r"\right)")


def test_general_form_keeps_its_dots_when_broken():
    terms = [mul(sp.Symbol(f"W_{{{i}}}"), apply("tanh", X)) for i in range(6)]
    expr = mul(W, apply("sigmoid", add(*terms, sp.Symbol("b"))))
    printer = EquationLatexPrinter({"max_terms": 4, "symbol_names": {X: "x"}})
    lines = broken_lines("y", expr, printer, width=40)
    assert "".join(lines).count(r"\tanh") == 2
    assert lines[-1].endswith(r"\dots + b\Bigr)")


def test_latex_and_numpy_come_from_one_expression():
    """Only the printing rounds: the NumPy module keeps 0.99996, -1.0004 and 2e-5."""
    from generator.equation.numpy_source import load_function, module_source

    hidden = add(mul(0.99996, X), mul(-1.0004, X1), 2e-5)
    expr = mul(1.0, apply("tanh", hidden))
    assert _printer().doprint(expr) == r"\tanh\left(x - x_1 + 2 \cdot 10^{-5}\right)"
    f = load_function(module_source([expr], [X, X1], "hand"))
    x = np.random.default_rng(0).uniform(-2, 2, size=(50, 2))
    reference = np.tanh(0.99996 * x[:, 0] - 1.0004 * x[:, 1] + 2e-5)
    np.testing.assert_allclose(f(x)[:, 0], reference, rtol=1e-15, atol=0)
    assert np.max(np.abs(f(x)[:, 0] - np.tanh(x[:, 0] - x[:, 1]))) > 1e-4  # not the rounded


def _model(layers_and_weights, n_in=1):
    import keras

    model = keras.Sequential([keras.Input((n_in,)), *[layer for layer, _ in layers_and_weights]])
    for layer, weights in layers_and_weights:
        layer.set_weights([np.asarray(w, dtype="float32") for w in weights])
    return model


def _linear(L):
    return [
        (L.Dense(2), [[[1.0, -1.0]], [0.5, 0.0]]),
        (L.Dense(1), [[[2.0], [-0.3]], [4e-5]]),
    ]


def _batch_norm(L):
    return [
        (L.Dense(1), [[[-1.0]], [0.25]]),
        (L.BatchNormalization(), [[1.0], [0.0], [0.0], [1.0]]),  # scale 1/sqrt(1.001)
        (L.Activation("tanh"), []),
    ]


def _sigmoid(L):
    return [
        (L.Dense(2, activation="sigmoid"), [[[1.0, 0.0004], [-1.0, 0.99996]], [0.5, -0.3]]),
        (L.Dense(1, activation="sigmoid"), [[[-1.0], [2.0]], [0.0]]),
    ]


KERAS = [
    (
        "linear 1-2-1",
        _linear,
        1,
        r"\hat{y} &= 2 \left(x + 0.5\right) - 0.3 \left(-x\right) + 4 \cdot 10^{-5}",
    ),
    ("batch norm, scale about 1", _batch_norm, 1, r"\hat{y} &= \tanh\left(-x + 0.25\right)"),
    (
        "2-2-1 sigmoid",
        _sigmoid,
        2,
        r"\hat{y} &= \sigma\left(-\sigma\left(x_0 - x_1 + 0.5\right)"
        r" + 2\,\sigma\left(0.0004 x_0 + x_1 - 0.3\right)\right)",
    ),
]


@pytest.mark.tensorflow
@pytest.mark.parametrize("build, n_in, expected", [r[1:] for r in KERAS], ids=[r[0] for r in KERAS])
def test_keras_models(build, n_in, expected):
    import keras

    from generator.equation.analyze import analyze_model

    model = _model(build(keras.layers), n_in)
    equation = analyze_model(model).equation
    assert equation.latex == f"\\begin{{aligned}}\n{expected}\n\\end{{aligned}}"
    # the hidden coefficients (0.9995, 0.99996) are still in the numbers `predict` is checked on
    assert equation.max_abs_error < 1e-5
    assert all(check.passed for check in equation.checks)
