"""The composed gradient against `tf.GradientTape` on whole saved-and-loaded models: the chain
rule along the graph of calls (branches summing), and the MLP closed form of `dL/dW`."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]


def _loaded(model, tmp_path):
    import keras

    path = tmp_path / "model.keras"
    model.save(path)
    return keras.saving.load_model(path)


def _derived(model):
    from generator.layers.derive import derive_model
    from generator.model.frontend import describe_model

    return derive_model(describe_model(model, with_weights=True))


def _branched():
    import keras

    L = keras.layers
    x = keras.Input((6, 6, 2))
    a = L.Conv2D(3, 3, padding="same", activation="relu")(x)
    b = L.Conv2D(3, 1, strides=1)(x)
    y = L.MaxPooling2D(2)(L.Add()([a, b]))
    y = L.BatchNormalization(gamma_initializer="random_normal")(y)
    y = L.Concatenate()([y, L.AveragePooling2D(2, padding="same")(b)])
    y = L.Dense(4, activation="softmax")(L.Flatten()(y))
    return keras.Model(x, y)


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "mse"])
def test_chain_rule_along_a_branched_graph_matches_gradient_tape(loss, tmp_path):
    import keras

    from generator.equation.gradients import check_gradients

    keras.utils.set_random_seed(3)
    model = _loaded(_branched(), tmp_path)
    math = _derived(model)
    result = check_gradients(model, math, loss=loss)
    assert result.check.passed, result.check.detail
    assert any(k.startswith("input ") for k in result.checks)
    trainable = {(r.name, w.name) for r in math.graph.layers for w in r.weights if w.trainable}
    assert set(result.weights) >= trainable and len(trainable) == 8
    # The input is read by both convolutions: its step sums two contributions.
    steps = [s for s in result.steps if s.lhs == r"\frac{\partial \mathcal L}{\partial x}"]
    assert len(steps) == 1 and steps[0].rhs.count("+") == 1


@pytest.mark.parametrize(
    ("activations", "loss"),
    [
        (("relu", "tanh", "linear"), "mse"),
        (("tanh", "softmax"), "categorical_crossentropy"),
        (("sigmoid", "softmax"), "mse"),
        (("elu", "sigmoid"), "mse"),
    ],
    ids=["relu-tanh-linear-mse", "tanh-softmax-ce", "sigmoid-softmax-mse", "elu-sigmoid-mse"],
)
def test_mlp_closed_form_matches_gradient_tape(activations, loss, tmp_path):
    import keras

    from generator.equation.gradient_closed_form import closed_form_weights, mlp_closed_form
    from generator.equation.gradient_tape import model_tape
    from generator.equation.losses import loss_named, seeded_target
    from generator.model.probe import random_sample

    keras.utils.set_random_seed(5)
    layers = [keras.layers.Dense(4 + k, activation=a) for k, a in enumerate(activations)]
    model = _loaded(keras.Sequential([keras.Input((3,)), *layers]), tmp_path)
    math = _derived(model)
    row = loss_named(loss)
    form = mlp_closed_form(math, row)
    assert form is not None
    x = random_sample(model, items=3, seed=1)[0].astype(np.float64)
    y = seeded_target(row, (3, 3 + len(activations)), seed=1)
    ours = form.function()(x, y, **closed_form_weights(math))
    calls = [(r.record.name, [w.name for w in r.record.weights]) for r in math.layers]
    tape = model_tape(model, [x], y, getattr(keras.losses, row.keras)(), calls)
    assert set(ours) == {"/".join(k) for k in tape.weights}
    for key, expected in tape.weights.items():
        np.testing.assert_allclose(ours["/".join(key)], expected, atol=1e-5, rtol=1e-4)
    assert all(r"\frac{\partial \mathcal L}{\partial" in g.latex for g in form.gradients)
