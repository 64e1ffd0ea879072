"""The closed form of every supported layer and activation, checked against `model.predict`.

Each row builds a small model with non-trivial weights (random biases, moving statistics set by
hand, an adapted Normalization); the generated NumPy module is executed and compared with
Keras's `predict` on inputs that cross every kink (1e-5, relative for outputs above 1).
"""

from __future__ import annotations

import ast

import numpy as np
import pytest

pytestmark = pytest.mark.tensorflow

ACTIVATIONS = [
    "linear",
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "mish",
    "softplus",
    "softsign",
    "sigmoid",
    "hard_sigmoid",
    "hard_silu",
    "tanh",
    "exponential",
]


def _dense(layers, units, activation="linear", bias=True):
    init = "random_normal" if bias else "zeros"
    return layers.Dense(units, activation=activation, use_bias=bias, bias_initializer=init)


def _batch_norm(layers, x, rng):
    bn = layers.BatchNormalization(epsilon=0.01)
    y = bn(x)
    n = x.shape[-1]
    bn.set_weights(
        [rng.uniform(0.5, 2.0, n), rng.normal(size=n), rng.normal(size=n), rng.uniform(0.2, 3.0, n)]
    )
    return y


def _normalization(layers, x, rng):
    norm = layers.Normalization()
    norm.adapt(rng.normal(loc=2.0, scale=3.0, size=(50, x.shape[-1])).astype("float32"))
    return norm(x)


# (id, input widths, build(layers, rng, *inputs) -> output or list of outputs)
CASES = [
    *[
        (f"act_{a}", [2], lambda L, r, x, a=a: _dense(L, 1)(_dense(L, 3, a)(x)))
        for a in ACTIVATIONS
    ],
    ("softmax_output", [3], lambda L, r, x: _dense(L, 3, "softmax")(_dense(L, 4, "tanh")(x))),
    ("no_bias", [2], lambda L, r, x: _dense(L, 2, bias=False)(_dense(L, 3, "relu", False)(x))),
    (
        "four_inputs_three_outputs",
        [4],
        lambda L, r, x: _dense(L, 3, "sigmoid")(_dense(L, 3, "elu")(x)),
    ),
    (
        "activation_layers",
        [2],
        lambda L, r, x: L.Softmax()(
            _dense(L, 2)(
                L.ELU(alpha=0.5)(
                    L.LeakyReLU(negative_slope=0.3)(
                        L.ReLU(max_value=6.0)(L.Activation("gelu")(_dense(L, 3)(x)))
                    )
                )
            )
        ),
    ),
    (
        "prelu",
        [2],
        lambda L, r, x: _dense(L, 1)(L.PReLU(alpha_initializer="random_normal")(_dense(L, 3)(x))),
    ),
    (
        "rescaling_dropout",
        [3],
        lambda L, r, x: _dense(L, 1)(
            L.Dropout(0.5)(_dense(L, 4, "relu")(L.Rescaling(0.5, offset=-1.0)(x)))
        ),
    ),
    ("batch_norm", [2], lambda L, r, x: _dense(L, 1)(_batch_norm(L, _dense(L, 3, "tanh")(x), r))),
    ("normalization", [3], lambda L, r, x: _dense(L, 2, "softplus")(_normalization(L, x, r))),
    (
        "merge_add_concat",
        [2, 1],
        lambda L, r, a, b: _dense(L, 1)(
            L.Concatenate()([L.Add()([_dense(L, 2, "tanh")(a), _dense(L, 2, "relu")(b)]), a])
        ),
    ),
    (
        "merge_sub_mul_avg",
        [1, 2],
        lambda L, r, a, b: _dense(L, 1)(
            L.Concatenate()(
                [
                    L.Subtract()([_dense(L, 2)(a), _dense(L, 2)(b)]),
                    L.Multiply()([_dense(L, 2, "tanh")(a), _dense(L, 2)(b)]),
                    L.Average()([_dense(L, 2)(a), _dense(L, 2, "sigmoid")(b)]),
                ]
            )
        ),
    ),
    (
        "two_heads",
        [2],
        lambda L, r, x: [_dense(L, 1)(h := _dense(L, 3, "mish")(x)), _dense(L, 2, "softmax")(h)],
    ),
]


def _build(widths, build):
    import keras

    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(7)
    inputs = [keras.Input((w,)) for w in widths]
    outputs = build(keras.layers, rng, *inputs)
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs)


def _sample(widths, n=200, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=2.0, size=(n, w)).astype("float32") for w in widths]


def _predicted(model, sample):
    out = model.predict(sample if len(sample) > 1 else sample[0], verbose=0)
    outs = out if isinstance(out, list) else [out]
    return np.concatenate([np.asarray(o, dtype=np.float64) for o in outs], axis=1)


def assert_close(ours, predicted, tolerance=1e-5):
    scaled = np.abs(ours - predicted) / np.maximum(1.0, np.abs(predicted))
    assert scaled.max() <= tolerance, f"largest scaled difference {scaled.max():.3g}"


@pytest.mark.parametrize("widths, build", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_numpy_closed_form_equals_predict(widths, build):
    from generator.equation.algebra import expression_ops
    from generator.equation.analyze import analyze_model

    model = _build(widths, build)
    math = analyze_model(model)
    equation = math.equation
    assert equation.closed_form, equation.reason
    sample = _sample(widths)
    ours = equation.function()(np.concatenate(sample, axis=1))
    predicted = _predicted(model, sample)
    assert ours.shape == predicted.shape
    assert_close(ours, predicted)
    assert all(check.passed for check in equation.checks), equation.checks
    # The count made without building equals the count of the built expression.
    assert equation.expansion_ops == sum(expression_ops(e) for e in equation.expressions)


@pytest.mark.parametrize("widths, build", [CASES[0][1:], CASES[-2][1:]], ids=["one", "merge"])
def test_numpy_module_is_self_contained(widths, build):
    from generator.equation.analyze import analyze_model

    model = _build(widths, build)
    source = analyze_model(model).equation.numpy
    tree = ast.parse(source)
    imports = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert imports == ["numpy"]
    assert not any(
        isinstance(n, ast.ImportFrom | ast.For | ast.While | ast.ListComp) for n in ast.walk(tree)
    )
    assert "np.array(" not in source
    # every weight appears at full precision, as Keras holds it (a minus may stand apart)
    for weight in model.get_weights():
        for value in np.ravel(weight):
            assert repr(abs(float(value))) in source


def test_registered_gelu_tanh_is_recognised():
    """Keras cannot serialize `gelu(approximate=True)` by name; a registered function can be
    probed and matched to the table's tanh-approximate GELU."""
    import keras

    @keras.saving.register_keras_serializable(package="test_compose")
    def gelu_approx(x):
        return keras.activations.gelu(x, approximate=True)

    model = _build([2], lambda L, r, x: _dense(L, 1)(_dense(L, 3, gelu_approx)(x)))
    from generator.equation.analyze import analyze_model

    equation = analyze_model(model).equation
    assert equation.closed_form
    assert "def gelu_tanh(z)" in equation.numpy
    sample = _sample([2])
    assert_close(equation.function()(sample[0]), _predicted(model, sample))
