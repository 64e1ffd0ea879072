"""Every layer equation object evaluated with NumPy against Keras's output of that layer.

Each row builds a tiny model, saves it to `.keras` and loads it back; the loaded model is described
with its weights and derived. Every layer's equation is evaluated on Keras's own input of that
layer (a seeded random model input) and compared with Keras's output of that layer.
"""

from __future__ import annotations

import numpy as np
import pytest

from generator.layers.tensor_equation import TensorEquation, sample_positions
from generator.layers.tensor_expr import Func, Idx, Prod, Read, Reduce, Sum, Term, at
from tests.test_layers import CASES

# --- quick, no TensorFlow: the printer and the evaluator on hand-made equations -----------------


def _conv1d(padding: int, outside: float | None = 0.0) -> TensorEquation:
    """`a_{t,k} = b_k + sum_u sum_c W_{u,c,k} x_{2t + u - p, c}` on 7 steps, 2 channels."""
    t, k, u, c = Idx("t", 4), Idx("k", 3), Idx("u", 3), Idx("c", 2)
    x = Read("x", ("input", 0), (at(Term(t, 2), u, -padding), at(c)), outside=outside)
    w = Read("W", ("weight", "kernel"), (at(u), at(c), at(k)), batched=False)
    b = Read("b", ("weight", "bias"), (at(k),), batched=False)
    return TensorEquation((t, k), Sum((b, Reduce("sum", (u, c), Prod((w, x))))), "relu")


def _conv1d_reference(x, kernel, bias, padding):
    padded = np.pad(x, ((0, 0), (padding, padding), (0, 0)))
    out = np.zeros((x.shape[0], 4, kernel.shape[-1]))
    for t in range(4):
        window = padded[:, 2 * t : 2 * t + 3, :]
        out[:, t, :] = np.einsum("buc,uck->bk", window, kernel) + bias
    return np.maximum(out, 0.0)


def test_printer_writes_strides_padding_and_activation():
    assert _conv1d(1).latex() == (
        r"a_{t,k} = \mathrm{relu}\!\left(b_k + \sum_{u=0}^{2} \sum_{c=0}^{1} "
        r"W_{u,c,k}\, x_{2t + u - 1,\, c}\right)"
    )


def test_evaluator_matches_a_loop_with_zero_padding():
    rng = np.random.default_rng(0)
    x, kernel, bias = rng.uniform(-1, 1, (2, 7, 2)), rng.normal(size=(3, 2, 3)), rng.normal(size=3)
    eq = _conv1d(1)
    weights = {"kernel": kernel, "bias": bias}
    expected = _conv1d_reference(x, kernel, bias, 1)
    np.testing.assert_allclose(eq.evaluate([x], weights), expected, atol=1e-12)
    positions = sample_positions((2, 4, 3), count=20)
    assert len(positions) >= 20 and [0, 0, 0] in positions.tolist()
    assert [0, 3, 2] in positions.tolist()  # a corner
    got = eq.evaluate([x], weights, positions)
    np.testing.assert_allclose(got, expected[tuple(positions.T)], atol=1e-12)


def test_reading_outside_without_a_padding_rule_is_an_error():
    x = np.zeros((1, 7, 2))
    with pytest.raises(IndexError, match="outside"):
        _conv1d(1, outside=None).evaluate([x], {"kernel": np.zeros((3, 2, 3)), "bias": np.zeros(3)})


def test_worked_example_puts_the_numbers_in():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (1, 7, 2))
    weights = {"kernel": rng.normal(size=(3, 2, 3)), "bias": rng.normal(size=3)}
    example = _conv1d(1).worked_example([x], weights)
    assert example.index == (0, 0)
    assert example.value == pytest.approx(_conv1d_reference(x, **weights, padding=1)[0, 0, 0])
    assert r"\mathrm{relu}" in example.latex and r"+ \text{2 more terms}" in example.latex


def test_max_and_mean_inside_ignore_what_is_outside():
    t, u = Idx("t", 3), Idx("u", 2)
    x_max = Read("x", ("input", 0), (at(t, u, -1),), outside=-np.inf)
    x_mean = Read("x", ("input", 0), (at(t, u, -1),), outside=np.nan)
    x = np.array([[-3.0, -1.0, -2.0]])
    np.testing.assert_allclose(
        TensorEquation((t,), Reduce("max", (u,), x_max)).evaluate([x], {}), [[-3.0, -1.0, -1.0]]
    )
    np.testing.assert_allclose(
        TensorEquation((t,), Reduce("mean_inside", (u,), x_mean)).evaluate([x], {}),
        [[-3.0, -2.0, -1.5]],
    )


def test_vector_activation_and_functions():
    j, i = Idx("j", 3), Idx("i", 2)
    x = Read("x", ("input", 0), (at(i),))
    w = Read("W", ("weight", "kernel"), (at(i), at(j)), batched=False, order=(1, 0))
    eq = TensorEquation((j,), Reduce("sum", (i,), Prod((w, x))), "softmax", ranges=True)
    assert eq.latex() == (
        r"a = \mathrm{softmax}(z), \quad z_{j} = \sum_{i=0}^{1} W_{j,i}\, x_i, \quad "
        r"j = 0, \dots, 2"
    )
    kernel, xs = np.arange(6.0).reshape(2, 3) / 10, np.array([[1.0, -1.0], [0.5, 2.0]])
    z = xs @ kernel
    expected = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(eq.evaluate([xs], {"kernel": kernel}), expected, atol=1e-12)
    root = Func(np.sqrt, (Read("x", ("input", 0), (at(j),)),), r"\sqrt{{{0}}}")
    assert TensorEquation((j,), root).latex() == r"a_j = \sqrt{x_j}"


# --- every layer of the table against Keras --------------------------------------------------


def _keras_outputs(model):
    """Keras's output tensor of every layer and operation, by name."""
    graph_model = getattr(model, "_functional", None) or model
    return {
        node.operation.name: node.outputs
        for nodes in graph_model._nodes_by_depth.values()
        for node in nodes
    }


def _saved_and_loaded(model, tmp_path):
    import keras

    path = tmp_path / "model.keras"
    model.save(path)
    return keras.saving.load_model(path)


def _random_inputs(model, rng):
    out = []
    for tensor in model.inputs:
        shape = (2, *tensor.shape[1:])
        if "int" in str(tensor.dtype):
            out.append(rng.integers(0, 10, size=shape))
        else:
            out.append(rng.uniform(-1, 1, size=shape).astype("float32"))
    return out


def check_equations(model, tmp_path, rng=None):
    """Every layer's equation on Keras's input of that layer vs Keras's output; the worst error."""
    import keras

    from generator.layers.derive import derive_model
    from generator.model.frontend import describe_model

    rng = rng or np.random.default_rng(0)
    loaded = _saved_and_loaded(model, tmp_path)
    graph = describe_model(loaded, with_weights=True)
    math = derive_model(graph)
    tensors = _keras_outputs(loaded)
    names = [
        name
        for name in tensors
        if name in {r.name for r in graph.layers} | {t.name for t in graph.inputs}
    ]
    probe = keras.Model(loaded.inputs, [tensors[n][0] for n in names])
    inputs = _random_inputs(loaded, rng)
    values = dict(zip(names, [np.asarray(v) for v in probe(inputs)], strict=True))
    checked = 0
    for layer in math.layers:
        record = layer.record
        equation = layer.equation
        assert equation is not None, f"{record.name} ({record.type}) has no equation"
        weights = {
            w.name: graph.weight_values[(record.name, w.name)]
            for w in record.weights
            if (record.name, w.name) in graph.weight_values
        }
        layer_inputs = [values[n] for n in record.inbound]
        expected = values[record.name]
        got = equation.evaluate(layer_inputs, weights)
        assert got.shape == expected.shape, f"{record.name}: {got.shape} vs {expected.shape}"
        scale = max(1.0, float(np.abs(expected).max()))
        error = float(np.abs(got - expected).max()) / scale
        assert error < 1e-4, f"{record.name} ({record.type}): error {error:.2e}\n{equation.latex()}"
        positions = equation.sample_positions(expected.shape, 16, rng)
        np.testing.assert_allclose(
            equation.evaluate(layer_inputs, weights, positions),
            expected[tuple(positions.T)],
            atol=1e-4 * scale,
        )
        example = equation.worked_example(layer_inputs, weights)
        if example is not None:
            assert example.value == pytest.approx(expected[(0, *example.index)], abs=1e-4 * scale)
        checked += 1
    return checked


@pytest.mark.slow
@pytest.mark.tensorflow
@pytest.mark.parametrize(("shapes", "build"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_equation_matches_keras(shapes, build, tmp_path):
    from tests.test_layers import _model

    assert check_equations(_model(shapes, build), tmp_path) >= 1
