"""The forms of the composed equation: the seed networks, collapse, Taylor, layered form, limits.

References are Keras's weights and `predict`, NumPy products of the kernels, and TensorFlow's
nested gradient tapes for the Taylor coefficients.
"""

from __future__ import annotations

import re
from math import factorial

import numpy as np
import pytest

from generator.model.reference import keras_reference
from generator.render.equation_page import equation_section

pytestmark = pytest.mark.tensorflow


def _mlp(units, activation="tanh", output_activation="linear", seed=3):
    import keras

    keras.utils.set_random_seed(seed)
    layers = [keras.Input((units[0],))]
    for i, n in enumerate(units[1:]):
        last = i == len(units) - 2
        layers.append(
            keras.layers.Dense(
                n,
                activation=output_activation if last else activation,
                bias_initializer="random_normal",
            )
        )
    return keras.Sequential(layers)


def _analyze(model, **overrides):
    from generator import analyze_model
    from generator.equation.settings import MathSettings

    return analyze_model(model, settings=MathSettings().merge(**overrides))


def _tree_count(units, function_layers):
    """Applications of the activation in the written-out tree of a dense chain."""
    count, copies = 0, 1
    for n in reversed(units[1 : function_layers + 1]):
        copies *= n
        count += copies
    return count


@pytest.mark.parametrize(
    "units, activation, output_activation",
    [
        ((1, 3, 2, 1), "tanh", "linear"),
        ((1, 10, 2, 1), "tanh", "linear"),
        ((2, 2, 1), "sigmoid", "sigmoid"),
    ],
    ids=["1-3-2-1 tanh", "1-10-2-1 tanh", "2-2-1 sigmoid"],
)
def test_seed_networks(units, activation, output_activation):
    model = _mlp(units, activation, output_activation)
    equation = _analyze(model).equation
    assert equation.closed_form
    latex = equation.latex
    assert latex.startswith("\\begin{aligned}\n\\hat{y} &= ")
    name = r"\tanh" if activation == "tanh" else r"\sigma"
    expected = _tree_count(units, len(units) - 2) + (output_activation != "linear")
    assert latex.count(name) == expected
    if output_activation == "sigmoid":  # the output activation wraps the broken sum
        assert re.match(r"\\begin\{aligned\}\n\\hat\{y\} &= \\sigma\\(left|Bigl)\(", latex)
        assert re.search(r"\\(right|Bigr)\)\n\\end\{aligned\}$", latex)
    for kernel in model.get_weights()[::2]:  # every weight, rounded to 3 significant digits
        for value in np.ravel(kernel):
            assert f"{abs(float(value)):.3g}" in latex
    assert r"W^{(1)}_{0,0}" in equation.symbolic_latex
    assert f"b^{{({len(units) - 1})}}_{{0}}" in equation.symbolic_latex
    sample = np.linspace(-3, 3, 101).reshape(-1, 1).repeat(units[0], axis=1).astype("float32")
    predicted = model.predict(sample, verbose=0)
    np.testing.assert_allclose(equation.function()(sample), predicted, atol=1e-5, rtol=1e-5)
    assert equation.max_abs_error < 1e-5
    assert [c.name for c in equation.checks] == ["closed form vs predict"]
    assert all(c.passed for c in equation.checks)


def test_long_sums_break_over_lines():
    from generator.equation.latex import LINE_CHARS

    equation = _analyze(_mlp((1, 10, 2, 1))).equation
    lines = equation.latex.splitlines()[1:-1]
    assert len(lines) > 1 and all(line.startswith("&\\quad ") for line in lines[1:])
    # the inner sums break too, so every line fits the width (a term of one unit is short)
    assert max(len(line) for line in lines) <= LINE_CHARS + len(r"&\quad \Bigr)\Bigr)")


@pytest.mark.parametrize(
    "units, product, bias",
    [
        ((3, 4, 2), "W^{(2)} W^{(1)}", "W^{(2)} b^{(1)} + b^{(2)}"),
        (
            (2, 3, 4, 2),
            "W^{(3)} W^{(2)} W^{(1)}",
            "W^{(3)} W^{(2)} b^{(1)} + W^{(3)} b^{(2)} + b^{(3)}",
        ),
    ],
    ids=["3-4-2", "2-3-4-2"],
)
def test_linear_collapse_equals_product_of_kernels_and_predict(units, product, bias):
    """Column convention: `W^{(l)} = kernel_l^T`, so `W = W^{(L)} ... W^{(1)}` (n_out x n_in)."""
    model = _mlp(units, activation="linear")
    equation = _analyze(model).equation
    collapse = equation.collapse
    weights = model.get_weights()
    mats = [kernel.astype(np.float64).T for kernel in weights[::2]]
    biases = [b.astype(np.float64) for b in weights[1::2]]
    w, b = mats[0], biases[0]
    for w_l, b_l in zip(mats[1:], biases[1:], strict=True):
        w, b = w_l @ w, w_l @ b + b_l
    assert collapse.weights.shape == (units[-1], units[0])
    np.testing.assert_allclose(collapse.weights, w, atol=1e-6)
    np.testing.assert_allclose(collapse.bias, b, atol=1e-6)
    assert collapse.symbolic_latex == rf"\hat{{y}} = W x + b, \quad W = {product}, \quad b = {bias}"
    x = np.random.default_rng(0).normal(size=(50, units[0])).astype("float32")
    np.testing.assert_allclose(x @ w.T + b, model.predict(x, verbose=0), atol=1e-5)
    np.testing.assert_allclose(collapse(x), model.predict(x, verbose=0), atol=1e-5)
    assert {c.name: c.passed for c in equation.checks}["linear collapse vs predict"]
    assert "collapses into one affine map" in equation_section(equation)
    assert _analyze(_mlp((3, 4, 2))).equation.collapse is None  # tanh: no collapse


GAMMA, BETA = r"\hat{\gamma}", r"\hat{\beta}"  # the folded scale and shift, as printed


def _page_values(model, graph):
    """Every general-form symbol's value from Keras's weights, by the page's definitions:
    `W^{(l)}_{j,i} = kernel[i, j]`, BatchNormalization `gamma^ = gamma / sqrt(var + eps)`,
    `beta^ = beta - gamma^ mu`, Normalization `gamma^ = 1 / sqrt(var)`,
    `beta^ = -mu / sqrt(var)`."""
    values = {}
    for index, record in enumerate(graph.layers, start=1):
        layer = model.get_layer(record.name)
        arrays = [np.asarray(a, dtype=np.float64) for a in layer.get_weights()]
        if record.type == "Dense":
            named = {"W": arrays[0].T, "b": arrays[1]}
        elif record.type == "BatchNormalization":
            gamma, beta, mean, variance = arrays
            scale = gamma / np.sqrt(variance + layer.epsilon)
            named = {GAMMA: scale, BETA: beta - scale * mean}
        elif record.type == "Normalization":
            mean, variance = arrays[0].ravel(), arrays[1].ravel()
            named = {GAMMA: 1 / np.sqrt(variance), BETA: -mean / np.sqrt(variance)}
        else:
            continue
        for symbol, array in named.items():
            for idx in np.ndindex(array.shape):
                sub = ",".join(str(i) for i in idx)
                values[f"{symbol}^{{({index})}}_{{{sub}}}"] = float(array[idx])
    return values


def test_general_form_with_keras_weights_is_the_network():
    """The general form in symbols, each symbol set from Keras's weights as the page defines it
    (W^{(l)} the transposed kernel, s and t of the normalisation layers), equals `predict`."""
    import keras
    import sympy as sp

    from generator.equation.algebra import SympyAlgebra
    from generator.equation.build import WeightSource, input_symbols, resolve_activation, walk
    from generator.equation.numpy_source import load_function, module_source

    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    L = keras.layers
    norm = L.Normalization()
    norm.adapt(rng.normal(loc=1.0, scale=2.0, size=(40, 3)).astype("float32"))
    bn = L.BatchNormalization(epsilon=0.01)
    model = keras.Sequential(
        [
            keras.Input((3,)),
            norm,
            L.Dense(4, activation="tanh", bias_initializer="random_normal"),
            bn,
            L.Dense(2, bias_initializer="random_normal"),
        ]
    )
    bn.set_weights(
        [rng.uniform(0.5, 2.0, 4), rng.normal(size=4), rng.normal(size=4), rng.uniform(0.2, 3.0, 4)]
    )
    math = _analyze(model)
    graph = math.graph
    markdown = equation_section(math.equation)
    assert r"$\hat{\gamma} = \gamma / \sqrt{\mathrm{var} + \epsilon}$, " in markdown
    assert r"$\hat{\beta} = \beta - \hat{\gamma}\,\mu$" in markdown
    assert (
        r"$\hat{\gamma} = 1 / \sqrt{\mathrm{var}}$, $\hat{\beta} = -\mu / \sqrt{\mathrm{var}}$"
        in markdown
    )
    assert r"W^{(2)}_{1,0}" in math.equation.symbolic_latex  # unit 1 of layer 2, input 0

    inputs = input_symbols(graph)
    general = walk(
        graph, SympyAlgebra(), inputs, resolve_activation, WeightSource(graph, symbolic=True)
    ).outputs
    values = _page_values(model, graph)
    free = {sym for expr in general for sym in expr.free_symbols} - set(inputs)
    assert {sym.name for sym in free} <= set(values)
    filled = [expr.xreplace({sym: sp.Float(values[sym.name]) for sym in free}) for expr in general]
    f = load_function(module_source(filled, inputs, "general", ["tanh"]))
    x = rng.normal(loc=1.0, scale=2.0, size=(30, 3)).astype("float32")
    np.testing.assert_allclose(f(x), model.predict(x, verbose=0), atol=1e-5, rtol=1e-5)


def _float64_copy(model):
    import keras

    copy = keras.Sequential(
        [keras.Input((1,), dtype="float64")]
        + [
            keras.layers.Dense(layer.units, activation=layer.activation, dtype="float64")
            for layer in model.layers
        ]
    )
    copy.set_weights([w.astype("float64") for w in model.get_weights()])
    return copy


def _derivatives(model, point, order):
    """f, f', ..., f^(order) at `point` by TensorFlow's nested gradient tapes (float64)."""
    import tensorflow as tf

    copy = _float64_copy(model)
    x = tf.Variable([[point]], dtype=tf.float64)

    def derivative(k):
        if k == 0:
            return copy(x)
        with tf.GradientTape() as tape:
            inner = derivative(k - 1)
        return tape.gradient(inner, x)

    return [float(derivative(k)[0, 0]) for k in range(order + 1)]


@pytest.mark.parametrize("order, point", [(1, 0.0), (3, 0.0), (5, 0.4)])
def test_taylor_coefficients_and_error(order, point):
    from generator import taylor

    model = _mlp((1, 3, 2, 1))
    equation = _analyze(model).equation
    approx = taylor(equation, order=order, point=point, interval=(point - 0.5, point + 0.5))
    expected = [d / factorial(k) for k, d in enumerate(_derivatives(model, point, order))]
    np.testing.assert_allclose(approx.coefficients, expected, rtol=1e-6, atol=1e-9)
    grid = np.linspace(point - 0.5, point + 0.5, 1001)
    reference = model.predict(grid.reshape(-1, 1).astype("float32"), verbose=0)[:, 0]
    assert abs(approx.max_error - np.max(np.abs(reference - approx(grid)))) < 1e-5
    assert approx.latex.startswith(r"\hat{y} \approx ")


def test_taylor_error_shrinks_with_order_and_plot():
    from generator import plot_approximation, taylor

    model = _mlp((1, 10, 2, 1))
    equation = _analyze(model).equation
    errors = [taylor(equation, order=k, interval=(-0.3, 0.3)).max_error for k in (1, 3, 5)]
    assert errors[0] > errors[1] > errors[2]
    fig = plot_approximation(taylor(equation, order=3), model=model)
    assert len(fig.axes[0].lines) == 3


def test_conv_model_gets_the_layered_form():
    import keras

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(2, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    )
    math = _analyze(model)
    equation = math.equation
    assert not equation.closed_form and equation.numpy is None
    assert "Conv2D" in equation.reason
    assert equation.latex == equation.layered_latex
    assert r"f &= f_{3} \circ f_{2} \circ f_{1}" in equation.latex
    # One row per Keras layer, in Keras's order, each under its own f_l and with an equation.
    rows = equation.latex.split(" \\\\\n")[1:]
    named = [re.match(r"\\underset\{\\text\{(.+?)\}\}\{f_\{(\d+)\}\} &: \\quad ", r) for r in rows]
    assert [(m.group(1).replace(r"\_", "_"), int(m.group(2))) for m in named] == [
        (layer.name, i) for i, layer in enumerate(model.layers, start=1)
    ]
    assert "no equation known" not in equation.latex
    assert equation.expansion_ops > 0
    assert f"$$\n{equation.layered_latex}\n$$" in equation_section(equation)


def test_size_limit_returns_layered_form_fast():
    from generator.equation.compose import compose_equation
    from generator.layers.derive import derive_model
    from generator.model.frontend import describe_model

    model = _mlp((8, 512, 512, 512, 4))
    math = derive_model(describe_model(model, with_weights=True))
    equation = compose_equation(keras_reference(model), math)  # its time: benchmarks/limits.py
    assert not equation.closed_form and "over the limit" in equation.reason
    assert equation.expansion_ops > 512**3


def test_json_field_and_growth():
    from generator import expression_growth, growth_table, plot_growth
    from generator.render.json import model_json

    math = _analyze(_mlp((2, 2, 1), "sigmoid", "sigmoid"))
    field = model_json(math)["equation"]
    assert set(field) == {"latex", "numpy", "symbolic_latex", "max_abs_error", "steps"}
    assert field["max_abs_error"] < 1e-5
    rows = expression_growth([(1, 4, 1), (1, 8, 1), (1, 8, 8, 1), (4, 32, 32, 4)])
    assert all(r.ops == r.built_ops for r in rows)
    assert rows[0].ops < rows[1].ops < rows[2].ops < rows[3].ops
    assert growth_table(rows).count("\n") == len(rows) + 1
    assert len(plot_growth(rows).axes[0].lines) == 1


@pytest.mark.slow
def test_resnet50_returns_the_layered_form():
    import keras

    from generator.equation.compose import compose_equation
    from generator.layers.derive import derive_model
    from generator.model.frontend import describe_model

    model = keras.applications.ResNet50(weights=None)
    math = derive_model(describe_model(model, with_weights=True))
    equation = compose_equation(keras_reference(model), math)  # its time: benchmarks/limits.py
    assert not equation.closed_form and equation.numpy is None
    # One step per call, the model's line, and one definition per layer.
    shared = sum(1 for layer in math.layers if layer.record.shares)
    assert equation.layered_latex.count("\\\\\n") == 2 * len(math.layers) - shared


def test_course_math_prints_the_numpy_module(tmp_path):
    from click.testing import CliRunner

    from generator.cli import main

    model = _mlp((2, 2, 1), "sigmoid", "sigmoid")
    path = tmp_path / "seed.keras"
    model.save(path)
    result = CliRunner().invoke(main, ["math", str(path), "--format", "numpy"])
    assert result.exit_code == 0, result.output
    namespace: dict = {}
    exec(compile(result.output, "seed_numpy", "exec"), namespace)  # noqa: S102
    x = np.random.default_rng(2).normal(size=(20, 2)).astype("float32")
    np.testing.assert_allclose(namespace["f"](x), model.predict(x, verbose=0), atol=1e-6)
