"""The activation table: each row's sympy, NumPy and PyTorch columns compute the same function."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from generator.equation.numpy_source import HELPERS
from generator.model.activations import ACTIVATIONS, ELEMENTWISE, LayerActivation, layer_activation
from generator.model.graph import LayerRecord
from generator.model.keras_attrs import keras_attrs
from tests.torch_support import import_torch

Z = np.linspace(-4.0, 4.0, 17)


def numpy_column(name: str):
    row = ACTIVATIONS[name]
    scope: dict = {"np": np}
    for helper in row.needs:
        exec(HELPERS[helper], scope)
    params = ", ".join(f"{k}={v!r}" for k, v in row.params.items())
    exec(f"def f(z{', ' if params else ''}{params}):\n    return {row.numpy}", scope)
    return scope["f"]


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_sympy_and_numpy_columns_agree(name):
    z = sp.Symbol("z", real=True)
    expr = ACTIVATIONS[name].sympy_form(z)
    expected = np.array([float(expr.subs(z, v)) for v in Z])
    np.testing.assert_allclose(numpy_column(name)(Z), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.slow
@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_torch_column_agrees_with_numpy(name):
    torch = import_torch()
    F = torch.nn.functional
    row = ACTIVATIONS[name]
    assert row.torch, f"{name} has no PyTorch column"
    x = torch.tensor(Z, dtype=torch.float64).reshape(1, -1)
    got = eval(LayerActivation(name).torch("x", dim=1), {"torch": torch, "F": F, "x": x})
    got = got.numpy().reshape(-1)
    if name in ELEMENTWISE:
        expected = numpy_column(name)(Z)
    else:  # softmax and log-softmax over the row
        shifted = Z - Z.max()
        log = shifted - np.log(np.exp(shifted).sum())
        expected = log if name == "log_softmax" else np.exp(log)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def record(type_name: str, **config) -> LayerRecord:
    attrs = keras_attrs(type_name, config, (None, 4), (None, 4))
    return LayerRecord(type_name, type_name, attrs, ((None, 4),), ((None, 4),), (), (), 0, 0)


@pytest.mark.parametrize(
    "layer, name, params",
    [
        (record("Dense", activation="relu"), "relu", {}),
        (record("Dense", activation=None), "linear", {}),
        (record("Dense", activation={"class_name": "function", "config": "gelu"}), "gelu", {}),
        (record("Activation", activation="softmax"), "softmax", {}),
        (record("ReLU"), "relu", {}),
        (record("ReLU", max_value=6.0), "relu6", {}),
        (record("ReLU", negative_slope=0.1), "leaky_relu", {"negative_slope": 0.1}),
        (record("LeakyReLU"), "leaky_relu", {"negative_slope": 0.3}),
        (record("LeakyReLU", negative_slope=0.05), "leaky_relu", {"negative_slope": 0.05}),
        (record("ELU", alpha=0.5), "elu", {"alpha": 0.5}),
        (record("PReLU"), "leaky_relu", {"negative_slope": "alpha"}),
        (record("Softmax", axis=[-1]), "softmax", {"axis": -1}),
    ],
)
def test_layer_activation_reads_every_way_of_writing_one(layer, name, params):
    act = layer_activation(layer)
    assert act.name == name
    for key, value in params.items():
        assert act.param(key) == value


@pytest.mark.parametrize(
    "layer",
    [record("ReLU", threshold=0.5), record("ReLU", max_value=3.0), record("Softmax", axis=[1, 2])],
)
def test_layer_activation_is_none_outside_the_table(layer):
    assert layer_activation(layer) is None


def test_leaky_slope_is_written_once():
    row = ACTIVATIONS["leaky_relu"]
    slope = row.params["negative_slope"]
    assert f"{slope:g}" in row.definition
    assert LayerActivation("leaky_relu").torch("x") == f"F.leaky_relu(x, negative_slope={slope!r})"
