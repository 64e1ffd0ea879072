"""Every layer equation object evaluated with NumPy against Keras's output of that layer.

Each row builds a tiny model, saves it to `.keras` and loads it back; the loaded model is described
with its weights and derived. Every layer's equation is evaluated on Keras's own input of that
layer (a seeded random model input) and compared with Keras's output of that layer.
"""

from __future__ import annotations

import numpy as np
import pytest

from generator.layers.registry import sample_positions
from generator.layers.tensor_equation import TensorEquation, unique_rows
from generator.layers.tensor_expr import Func, Idx, Prod, Read, Reduce, Sum, Term, at
from generator.model.activations import ACTIVATIONS
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


def test_index_map_equation_reads_in_row_major_order():
    from generator.layers.tensor_equation import IndexMapEquation

    x = np.arange(2 * 3 * 4 * 2.0).reshape(2, 3, 4, 2)
    flatten = IndexMapEquation("", (24,), (0, 1, 2))
    np.testing.assert_array_equal(flatten.evaluate([x], {}), x.reshape(2, 24))
    channels_first = IndexMapEquation("", (24,), (1, 2, 0))
    expected = np.transpose(x, (0, 2, 3, 1)).reshape(2, 24)
    np.testing.assert_array_equal(channels_first.evaluate([x], {}), expected)
    example = channels_first.worked_example([x], {}, (7,))
    assert example.value == expected[0, 7] and example.index == (7,)


def test_transposed_and_grouped_index_maps():
    from generator.layers.tensor_expr import Affine

    # a_t = sum_u W_u x_{(t + 1 - u)/2}: only whole-number indices inside x contribute.
    t, u = Idx("t", 6), Idx("u", 3)
    x = Read("x", ("input", 0), (Affine((Term(t), Term(u, -1)), 1, 2),), outside=0.0)
    w = Read("W", ("weight", "w"), (at(u),), batched=False)
    eq = TensorEquation((t,), Reduce("sum", (u,), Prod((w, x))))
    assert eq.latex() == r"a_t = \sum_{u=0}^{2} W_u\, x_{(t - u + 1)/2}"
    xs, ws = np.array([[1.0, 10.0, 100.0]]), np.array([1.0, 2.0, 3.0])
    expected = np.zeros(6)
    for m in range(3):  # each input spreads its filter: out[2m + u - 1] += w_u x_m
        for k in range(3):
            if 0 <= 2 * m + k - 1 < 6:
                expected[2 * m + k - 1] += ws[k] * xs[0, m]
    np.testing.assert_allclose(eq.evaluate([xs], {"w": ws})[0], expected)
    # Channel 2g + c of a grouped read, with g = floor(k / 3) an alias of the output index.
    k, c, g = Idx("k", 6), Idx("c", 2), Idx("g", 2)
    read = Read("x", ("input", 0), (at(Term(g, 2), c),))
    grouped = TensorEquation((k,), Reduce("sum", (c,), read), aliases=((g, Term(k, div=3)),))
    assert grouped.latex() == r"a_k = \sum_{c=0}^{1} x_{2g + c}"
    np.testing.assert_allclose(
        grouped.evaluate([np.array([[1.0, 2.0, 30.0, 40.0]])], {})[0], [3, 3, 3, 70, 70, 70]
    )


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
        shape = (2, *(5 if d is None else d for d in tensor.shape[1:]))  # an open size: 5
        if "int" in str(tensor.dtype):
            ids = rng.integers(1, 10, size=shape)
            ids[0, -2:] = 0  # padded steps: a mask leaves them out
            out.append(ids)
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
    outputs = [keras.ops.convert_to_numpy(v).astype(np.float64) for v in probe(inputs)]
    values = dict(zip(names, outputs, strict=True))
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


ACTIVATION_NAMES = [name for name in ACTIVATIONS if name != "gelu_tanh"]  # not a Keras name

# Configurations beyond the table of tests/test_layers.py: every activation, strides with
# dilation, groups in 1D and 3D, depth multipliers with padding, layers without bias, channels
# first (Keras on CPU runs it by transposing), padding on transposed convolutions.
EXTRA = [
    *(
        (f"dense_{name}", [(5,)], lambda L, x, name=name: L.Dense(4, activation=name)(x))
        for name in ACTIVATION_NAMES
    ),
    *(
        (f"activation_{name}", [(3, 4)], lambda L, x, name=name: L.Activation(name)(x))
        for name in ACTIVATION_NAMES
    ),
    (
        "conv2d_tanh_stride_dilation",
        [(13, 13, 2)],
        lambda L, x: L.Conv2D(3, 3, strides=2, dilation_rate=1, activation="tanh")(x),
    ),
    (
        "conv2d_same_dilated",
        [(9, 9, 2)],
        lambda L, x: L.Conv2D(3, 3, padding="same", dilation_rate=2)(x),
    ),
    (
        "conv2d_same_even_kernel",
        [(7, 8, 2)],
        lambda L, x: L.Conv2D(3, (2, 4), strides=(2, 3), padding="same")(x),
    ),
    (
        "conv1d_groups_causal",
        [(9, 4)],
        lambda L, x: L.Conv1D(6, 3, groups=2, padding="causal", use_bias=False)(x),
    ),
    (
        "conv3d_groups_same",
        [(4, 5, 6, 4)],
        lambda L, x: L.Conv3D(4, 2, groups=4, padding="same")(x),
    ),
    (
        "conv2d_groups_softmax",
        [(6, 6, 4)],
        lambda L, x: L.Conv2D(6, 3, groups=2, activation="softmax")(x),
    ),
    (
        "conv2d_channels_first",
        [(3, 9, 8)],
        lambda L, x: L.Conv2D(4, 3, strides=2, padding="same", data_format="channels_first")(x),
    ),
    (
        "conv2d_transpose_same_dilated",
        [(5, 5, 2)],
        lambda L, x: L.Conv2DTranspose(3, 3, padding="same", dilation_rate=2)(x),
    ),
    (
        "conv2d_transpose_same_output_padding",
        [(4, 5, 2)],
        lambda L, x: L.Conv2DTranspose(3, 4, strides=3, padding="same", output_padding=1)(x),
    ),
    (
        "conv1d_transpose_no_bias_relu",
        [(6, 2)],
        lambda L, x: L.Conv1DTranspose(3, 4, strides=3, use_bias=False, activation="relu")(x),
    ),
    (
        "depthwise_conv2d_mult_same_stride",
        [(9, 8, 3)],
        lambda L, x: L.DepthwiseConv2D(3, strides=2, depth_multiplier=3, padding="same")(x),
    ),
    (
        "depthwise_conv1d_mult_relu",
        [(10, 2)],
        lambda L, x: L.DepthwiseConv1D(4, depth_multiplier=2, activation="relu")(x),
    ),
    (
        "separable_conv2d_mult_stride_relu",
        [(11, 10, 3)],
        lambda L, x: L.SeparableConv2D(5, 3, strides=2, depth_multiplier=2, activation="relu")(x),
    ),
    (
        "separable_conv1d_same_dilated",
        [(12, 2)],
        lambda L, x: L.SeparableConv1D(3, 3, padding="same", dilation_rate=2, depth_multiplier=3)(
            x
        ),
    ),
    (
        "max_pool2d_channels_first",
        [(3, 8, 7)],
        lambda L, x: L.MaxPooling2D(2, padding="same", data_format="channels_first")(x),
    ),
    (
        "avg_pool2d_same_stride1",
        [(5, 6, 2)],
        lambda L, x: L.AveragePooling2D(3, strides=1, padding="same")(x),
    ),
    (
        "global_avg2d_channels_first",
        [(3, 4, 5)],
        lambda L, x: L.GlobalAveragePooling2D(data_format="channels_first")(x),
    ),
    ("embedding_sequence", [(6,)], None),
    ("embedding_mask_average", [(6,)], "mask"),
    ("batch_norm_channels_first", [(3, 4, 4)], lambda L, x: L.BatchNormalization(axis=1)(x)),
    (
        "cropping2d_channels_first",
        [(2, 8, 9)],
        lambda L, x: L.Cropping2D(((1, 2), (2, 0)), data_format="channels_first")(x),
    ),
    (
        "zero_padding2d_channels_first",
        [(2, 4, 5)],
        lambda L, x: L.ZeroPadding2D(((1, 0), (2, 1)), data_format="channels_first")(x),
    ),
    (
        "up_sampling2d_channels_first",
        [(2, 3, 4)],
        lambda L, x: L.UpSampling2D((2, 3), data_format="channels_first")(x),
    ),
    (
        "up_sampling2d_bilinear_rect",
        [(4, 5, 2)],
        lambda L, x: L.UpSampling2D((3, 2), interpolation="bilinear")(x),
    ),
]


@pytest.mark.slow
@pytest.mark.tensorflow
@pytest.mark.parametrize(("shapes", "build"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_equation_matches_keras(shapes, build, tmp_path):
    from tests.test_layers import _model

    assert check_equations(_model(shapes, build), tmp_path) >= 1


@pytest.mark.slow
@pytest.mark.tensorflow
@pytest.mark.parametrize(("shapes", "build"), [c[1:] for c in EXTRA], ids=[c[0] for c in EXTRA])
def test_more_configurations_match_keras(shapes, build, tmp_path):
    import keras

    from tests.test_layers import _model

    if build is None or build == "mask":  # integer token ids in range for the embedding
        x = keras.Input(shapes[0], dtype="int32")
        a = keras.layers.Embedding(10, 3, mask_zero=build == "mask")(x)
        if build == "mask":  # the mask (token != 0) leaves padded steps out of the mean
            a = keras.layers.GlobalAveragePooling1D()(keras.layers.Dense(4)(a))
        model = keras.Model(x, a)
    else:
        model = _model(shapes, build)
    assert check_equations(model, tmp_path) >= 1


@pytest.mark.parametrize(
    "rows",
    [
        np.random.default_rng(0).integers(-2, 30, (20_000, 4)),  # padding reads are negative
        np.random.default_rng(1).integers(0, 3, (500, 1)),
        np.zeros((0, 3), dtype=np.int64),
        np.array([[2**40, 0], [0, 2**40], [2**40, 0]]),  # packed keys would overflow int64
    ],
    ids=["window-reads", "one-column", "empty", "huge-range"],
)
def test_unique_rows_is_numpys_unique_over_rows(rows):
    expected, inverse = np.unique(rows, axis=0, return_inverse=True)
    found, which = unique_rows(rows)
    assert np.array_equal(found, expected)
    assert np.array_equal(which, np.asarray(inverse).reshape(-1))
