"""`course torch`: every translated layer type gives Keras's output in PyTorch (to 1e-4)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.torch_support import HUB_TRANSLATED_TYPES, import_torch

torch = import_torch()
keras = pytest.importorskip("keras", reason="Keras is not installed")

from generator.exceptions import CourseError  # noqa: E402
from generator.model.frontend import describe_model  # noqa: E402
from generator.torch import translate_model, translated_layers  # noqa: E402
from generator.torch.writer import torch_tab_markdown, write_torch_package  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]

L = keras.layers
TOLERANCE = 1e-4


def randomize(model: keras.Model, seed: int = 0, scale: float = 0.4) -> keras.Model:
    """Give every weight a random value, so biases, BN statistics and all are non-trivial."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        shape = tuple(weight.shape)
        if "int" in str(weight.dtype):
            continue  # a counter, such as Normalization's
        if "variance" in weight.path:
            value = rng.uniform(0.5, 1.5, shape)
        elif weight.path.endswith("embeddings"):
            value = rng.normal(0, 1, shape)
        else:
            value = rng.normal(0, scale, shape)
        weight.assign(value.astype(weight.dtype))
    for layer in model.layers:
        if type(layer).__name__ == "Normalization":
            layer.finalize_state()  # it computes from its weights once, as after loading
    return model


def load_generated(path: Path):
    spec = importlib.util.spec_from_file_location(f"generated_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def to_torch(array: np.ndarray, layout: str) -> torch.Tensor:
    if layout == "channels_first":
        array = np.moveaxis(array, -1, 1)
    return torch.from_numpy(np.ascontiguousarray(array))


def to_keras(tensor: torch.Tensor, layout: str) -> np.ndarray:
    array = tensor.detach().numpy()
    return np.moveaxis(array, 1, -1) if layout == "channels_first" else array


def sample(shape: tuple, seed: int, integers: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if integers:
        return rng.integers(0, integers, (2, *shape)).astype("int32")
    return rng.normal(0, 1, (2, *shape)).astype("float32")


def max_difference(model: keras.Model, inputs: list[np.ndarray], outdir: Path) -> float:
    """Run the model in Keras and its generated PyTorch twin on the same inputs."""
    generated = load_generated(write_torch_package(model, outdir))
    net = generated.load()
    assert not net.training
    expected = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    expected = expected if isinstance(expected, list | tuple) else [expected]
    with torch.no_grad():
        layouts = generated.INPUT_LAYOUTS
        got = net(*(to_torch(x, lay) for x, lay in zip(inputs, layouts, strict=True)))
    got = got if isinstance(got, tuple) else (got,)
    diffs = []
    for e, g, lay in zip(expected, got, generated.OUTPUT_LAYOUTS, strict=True):
        e = keras.ops.convert_to_numpy(e)
        g = to_keras(g, lay)
        assert e.shape == g.shape
        diffs.append(float(np.max(np.abs(e - g))))
    return max(diffs)


def sequential(shape: tuple, layers: list, dtype: str = "float32") -> keras.Model:
    return randomize(keras.Sequential([keras.Input(shape, dtype=dtype), *layers]))


ACTIVATIONS = [
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "mish",
    "softplus",
    "softsign",
    "sigmoid",
    "hard_sigmoid",
    "hard_silu",
    "tanh",
    "exponential",
    "softmax",
    "log_softmax",
    "linear",
]


# One row per translated layer type and setting: (id, input shape, layers).
def _layer_scale():
    from keras.src.applications.convnext import LayerScale

    return LayerScale(0.5, 3)


SEQUENTIAL_CASES = [
    ("dense", (5,), lambda: [L.Dense(4, activation="tanh")]),
    ("layer_scale", (4, 4, 3), lambda: [L.Conv2D(3, 1), _layer_scale()]),  # ConvNeXt's
    ("dense_no_bias_rank3", (3, 5), lambda: [L.Dense(4, use_bias=False)]),
    ("conv1d_valid", (10, 3), lambda: [L.Conv1D(4, 3)]),
    ("conv1d_same_strides", (11, 3), lambda: [L.Conv1D(4, 4, strides=2, padding="same")]),
    (
        "conv1d_causal_dilation",
        (12, 3),
        lambda: [L.Conv1D(4, 3, padding="causal", dilation_rate=2)],
    ),
    ("conv2d_valid_relu", (8, 8, 3), lambda: [L.Conv2D(4, 3, activation="relu")]),
    ("conv2d_same_even_kernel", (8, 8, 3), lambda: [L.Conv2D(4, 4, padding="same")]),
    (
        "conv2d_same_strides_asymmetric",
        (8, 8, 3),
        lambda: [L.Conv2D(4, 3, strides=2, padding="same")],
    ),
    (
        "conv2d_same_strides_symmetric",
        (9, 9, 3),
        lambda: [L.Conv2D(4, 3, strides=2, padding="same")],
    ),
    ("conv2d_valid_strides_rect", (9, 8, 3), lambda: [L.Conv2D(4, (3, 2), strides=(2, 1))]),
    (
        "conv2d_dilation_same",
        (10, 10, 3),
        lambda: [L.Conv2D(4, 3, dilation_rate=2, padding="same")],
    ),
    ("conv2d_groups", (8, 8, 4), lambda: [L.Conv2D(6, 3, groups=2)]),
    ("conv3d_same_strides", (6, 7, 8, 2), lambda: [L.Conv3D(3, 3, strides=2, padding="same")]),
    ("conv3d_valid", (5, 5, 5, 2), lambda: [L.Conv3D(3, 2)]),
    (
        "conv2d_transpose_same_k3s2",
        (5, 5, 3),
        lambda: [L.Conv2DTranspose(4, 3, strides=2, padding="same")],
    ),
    (
        "conv2d_transpose_same_k4s2",
        (5, 5, 3),
        lambda: [L.Conv2DTranspose(4, 4, strides=2, padding="same")],
    ),
    ("conv2d_transpose_valid", (5, 5, 3), lambda: [L.Conv2DTranspose(4, 3, strides=2)]),
    (
        "conv2d_transpose_same_k1s2",
        (4, 4, 3),
        lambda: [L.Conv2DTranspose(2, 1, strides=2, padding="same")],
    ),
    (
        "conv2d_transpose_output_padding",
        (5, 5, 3),
        lambda: [
            L.Conv2DTranspose(4, 3, strides=2, output_padding=1),
            L.Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=1),
        ],
    ),
    (
        "conv2d_transpose_dilation",
        (5, 5, 3),
        lambda: [L.Conv2DTranspose(4, 3, dilation_rate=2, padding="same")],
    ),
    ("conv1d_transpose_same", (6, 3), lambda: [L.Conv1DTranspose(2, 3, strides=2, padding="same")]),
    (
        "conv3d_transpose_same",
        (3, 4, 3, 2),
        lambda: [L.Conv3DTranspose(2, 3, strides=(2, 1, 2), padding="same")],
    ),
    (
        "depthwise_conv2d",
        (8, 8, 3),
        lambda: [L.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same")],
    ),
    ("depthwise_conv1d", (9, 3), lambda: [L.DepthwiseConv1D(3, depth_multiplier=2)]),
    (
        "separable_conv2d",
        (8, 8, 3),
        lambda: [L.SeparableConv2D(5, 3, depth_multiplier=2, padding="same", activation="relu")],
    ),
    ("separable_conv1d", (10, 3), lambda: [L.SeparableConv1D(4, 3, strides=2)]),
    ("max_pool1d_same", (9, 3), lambda: [L.MaxPooling1D(2, padding="same")]),
    ("max_pool2d_valid", (8, 8, 3), lambda: [L.MaxPooling2D(2)]),
    (
        "max_pool2d_same_asymmetric",
        (8, 8, 3),
        lambda: [L.MaxPooling2D(3, strides=2, padding="same")],
    ),
    (
        "max_pool2d_same_symmetric",
        (9, 9, 3),
        lambda: [L.MaxPooling2D(3, strides=2, padding="same")],
    ),
    ("max_pool3d_valid", (4, 6, 6, 2), lambda: [L.MaxPooling3D(2)]),
    ("avg_pool1d_valid_strides", (9, 3), lambda: [L.AveragePooling1D(3, strides=2)]),
    ("avg_pool2d_same_asymmetric", (9, 9, 3), lambda: [L.AveragePooling2D(2, padding="same")]),
    (
        "avg_pool2d_same_symmetric",
        (9, 9, 3),
        lambda: [L.AveragePooling2D(3, strides=2, padding="same")],
    ),
    (
        "avg_pool2d_same_stride1_even",
        (5, 5, 2),
        lambda: [L.AveragePooling2D(2, strides=1, padding="same")],
    ),
    ("avg_pool3d_same", (5, 5, 5, 2), lambda: [L.AveragePooling3D(2, padding="same")]),
    ("global_avg_pool2d", (5, 5, 3), lambda: [L.GlobalAveragePooling2D()]),
    ("global_max_pool1d_sequence", (7, 3), lambda: [L.GlobalMaxPooling1D()]),
    ("global_avg_pool1d_after_conv", (7, 3), lambda: [L.Conv1D(2, 3), L.GlobalAveragePooling1D()]),
    ("global_max_pool3d", (3, 4, 5, 2), lambda: [L.GlobalMaxPooling3D()]),
    ("global_avg_pool3d_keepdims", (3, 4, 5, 2), lambda: [L.GlobalAveragePooling3D(keepdims=True)]),
    ("global_max_pool2d_after_conv", (6, 6, 3), lambda: [L.Conv2D(4, 3), L.GlobalMaxPooling2D()]),
    ("flatten_after_conv_dense", (6, 6, 3), lambda: [L.Conv2D(4, 3), L.Flatten(), L.Dense(5)]),
    ("flatten_after_conv1d_dense", (7, 3), lambda: [L.Conv1D(4, 3), L.Flatten(), L.Dense(5)]),
    ("flatten_after_conv3d_dense", (4, 4, 4, 2), lambda: [L.Conv3D(3, 3), L.Flatten(), L.Dense(5)]),
    ("flatten_after_conv_output", (6, 6, 3), lambda: [L.Conv2D(4, 3), L.Flatten()]),
    (
        "flatten_dropout_dense",
        (6, 6, 3),
        lambda: [L.Conv2D(4, 3), L.Flatten(), L.Dropout(0.5), L.Dense(5)],
    ),
    ("flatten_softmax", (4, 4, 3), lambda: [L.Conv2D(2, 3), L.Flatten(), L.Activation("softmax")]),
    ("flatten_sequence", (4, 3), lambda: [L.Flatten(), L.Dense(2)]),
    ("reshape_to_image", (12,), lambda: [L.Reshape((2, 2, 3)), L.Conv2D(2, 1)]),
    ("conv_reshape_dense", (4, 4, 2), lambda: [L.Conv2D(3, 1), L.Reshape((16, 3)), L.Dense(2)]),
    ("permute", (3, 4), lambda: [L.Permute((2, 1)), L.Dense(2)]),
    ("repeat_vector", (3,), lambda: [L.RepeatVector(4), L.SimpleRNN(2)]),
    ("batchnorm_image", (5, 5, 3), lambda: [L.BatchNormalization()]),
    ("batchnorm_vector", (4,), lambda: [L.BatchNormalization(epsilon=1e-2, momentum=0.9)]),
    ("batchnorm_scale_only", (4, 4, 3), lambda: [L.BatchNormalization(center=False)]),
    ("batchnorm_sequence_no_center", (6, 3), lambda: [L.BatchNormalization(center=False)]),
    ("batchnorm_after_conv3d", (3, 3, 3, 2), lambda: [L.Conv3D(2, 1), L.BatchNormalization()]),
    ("layernorm", (6, 4), lambda: [L.LayerNormalization()]),
    ("layernorm_axes", (3, 4, 2), lambda: [L.LayerNormalization(axis=[1, 2, 3])]),
    ("simple_rnn", (5, 3), lambda: [L.SimpleRNN(4)]),
    (
        "simple_rnn_relu_sequences",
        (5, 3),
        lambda: [L.SimpleRNN(4, activation="relu", return_sequences=True)],
    ),
    ("gru_reset_after", (5, 3), lambda: [L.GRU(4, return_sequences=True)]),
    ("gru_reset_before", (5, 3), lambda: [L.GRU(4, reset_after=False)]),
    ("gru_reset_before_no_bias", (5, 3), lambda: [L.GRU(4, use_bias=False, reset_after=False)]),
    ("lstm_backwards", (5, 3), lambda: [L.LSTM(3, go_backwards=True, return_sequences=True)]),
    (
        "bidirectional_gru_mul_sequences",
        (5, 3),
        lambda: [L.Bidirectional(L.GRU(2, return_sequences=True), merge_mode="mul")],
    ),
    ("gru_backwards", (5, 3), lambda: [L.GRU(4, go_backwards=True, return_sequences=True)]),
    ("lstm", (5, 3), lambda: [L.LSTM(4)]),
    ("lstm_sequences_no_bias", (5, 3), lambda: [L.LSTM(4, return_sequences=True, use_bias=False)]),
    (
        "bidirectional_lstm_concat",
        (5, 3),
        lambda: [L.Bidirectional(L.LSTM(3, return_sequences=True))],
    ),
    ("bidirectional_lstm_last", (5, 3), lambda: [L.Bidirectional(L.LSTM(3))]),
    ("bidirectional_gru_sum", (5, 3), lambda: [L.Bidirectional(L.GRU(3), merge_mode="sum")]),
    (
        "bidirectional_rnn_ave_sequences",
        (5, 3),
        lambda: [L.Bidirectional(L.SimpleRNN(2, return_sequences=True), merge_mode="ave")],
    ),
    ("conv1d_then_lstm", (8, 3), lambda: [L.Conv1D(4, 3), L.LSTM(2)]),
    ("relu6_layer", (6,), lambda: [L.ReLU(max_value=6.0)]),
    ("relu_threshold_layer", (6,), lambda: [L.ReLU(negative_slope=0.1, threshold=0.5)]),
    ("relu_max_layer", (6,), lambda: [L.ReLU(max_value=0.5)]),
    ("leaky_relu_layer", (6,), lambda: [L.LeakyReLU()]),
    ("elu_layer", (6,), lambda: [L.ELU(alpha=0.5)]),
    ("softmax_layer_after_conv", (4, 4, 3), lambda: [L.Conv2D(3, 1), L.Softmax()]),
    ("activation_softmax_after_conv", (4, 4, 3), lambda: [L.Conv2D(3, 1, activation="softmax")]),
    ("zero_padding1d", (5, 2), lambda: [L.ZeroPadding1D((1, 2))]),
    ("zero_padding2d", (5, 5, 2), lambda: [L.ZeroPadding2D(((1, 2), (0, 3)))]),
    ("zero_padding3d", (3, 3, 3, 2), lambda: [L.ZeroPadding3D(1)]),
    ("cropping1d", (6, 2), lambda: [L.Cropping1D((1, 2))]),
    ("cropping2d", (6, 6, 2), lambda: [L.Cropping2D(((1, 0), (2, 1)))]),
    ("cropping3d", (5, 5, 5, 2), lambda: [L.Cropping3D(1)]),
    ("upsampling1d", (4, 2), lambda: [L.UpSampling1D(3)]),
    ("upsampling2d_nearest", (3, 4, 2), lambda: [L.UpSampling2D((2, 3))]),
    ("upsampling2d_bilinear", (3, 4, 2), lambda: [L.UpSampling2D(2, interpolation="bilinear")]),
    ("upsampling3d", (2, 3, 2, 2), lambda: [L.UpSampling3D(2)]),
    ("dropout", (6,), lambda: [L.Dropout(0.5), L.Dense(2)]),
    ("spatial_dropout2d", (4, 4, 2), lambda: [L.SpatialDropout2D(0.3), L.Conv2D(2, 1)]),
    ("spatial_dropout1d", (5, 2), lambda: [L.SpatialDropout1D(0.3), L.Conv1D(2, 1)]),
    ("spatial_dropout3d", (2, 2, 2, 2), lambda: [L.SpatialDropout3D(0.3)]),
    ("gaussian_noise", (6,), lambda: [L.GaussianNoise(0.1), L.Dense(2)]),
    (
        "inference_identities",
        (6,),
        lambda: [
            L.GaussianDropout(0.2),
            L.AlphaDropout(0.2),
            L.ActivityRegularization(0.1),
            L.Identity(),
            L.Dense(2),
        ],
    ),
    ("rescaling", (4, 4, 3), lambda: [L.Rescaling(1 / 255, offset=-1.0), L.Conv2D(2, 1)]),
    (
        "rescaling_per_channel_image",
        (4, 4, 3),
        lambda: [L.Rescaling([1.0, 2.0, 3.0], offset=[0.1, 0.2, 0.3]), L.Conv2D(2, 1)],
    ),
    ("rescaling_per_channel_sequence", (5, 3), lambda: [L.Rescaling([1.0, 2.0, 3.0]), L.LSTM(2)]),
    ("prelu_per_channel_image", (5, 5, 3), lambda: [L.PReLU(shared_axes=[1, 2])]),
    ("prelu_vector", (4,), lambda: [L.PReLU()]),
    ("prelu_per_entry", (4, 3), lambda: [L.PReLU()]),
    ("prelu_shared_everywhere", (4, 3), lambda: [L.PReLU(shared_axes=[1, 2])]),
    ("rms_normalization", (6, 4), lambda: [L.RMSNormalization()]),
    ("group_normalization", (5, 5, 4), lambda: [L.GroupNormalization(groups=2)]),
    ("unit_normalization_after_conv", (4, 4, 3), lambda: [L.Conv2D(3, 1), L.UnitNormalization()]),
    ("normalization_adapted", (5, 5, 3), lambda: [L.Normalization(), L.Conv2D(2, 1)]),
    (
        "normalization_given",
        (4,),
        lambda: [L.Normalization(mean=[0.5, 1, 2, 3], variance=[1, 4, 0.25, 2])],
    ),
    ("normalization_axis_none", (4, 4, 3), lambda: [_scalar_normalization(), L.Conv2D(2, 1)]),
    ("resizing_bilinear_down", (10, 9, 3), lambda: [L.Resizing(6, 5), L.Conv2D(2, 1)]),
    ("resizing_bilinear_up", (4, 5, 2), lambda: [L.Resizing(7, 9)]),
    ("resizing_nearest", (6, 6, 2), lambda: [L.Resizing(4, 9, interpolation="nearest")]),
    ("conv_lstm2d_last", (3, 6, 6, 2), lambda: [L.ConvLSTM2D(3, 3)]),
    (
        "conv_lstm2d_sequences_same",
        (3, 5, 5, 2),
        lambda: [L.ConvLSTM2D(3, (3, 2), padding="same", return_sequences=True)],
    ),
    ("conv_lstm2d_backwards", (3, 4, 4, 1), lambda: [L.ConvLSTM2D(2, 3, go_backwards=True)]),
    ("time_distributed_dense", (4, 5), lambda: [L.TimeDistributed(L.Dense(3))]),
    ("time_distributed_lstm", (2, 5, 3), lambda: [L.TimeDistributed(L.LSTM(2))]),
    (
        "time_distributed_conv_flatten",
        (3, 6, 6, 2),
        lambda: [L.TimeDistributed(L.Conv2D(2, 3)), L.TimeDistributed(L.Flatten()), L.LSTM(2)],
    ),
    *[
        (f"activation_{name}", (5,), (lambda name=name: [L.Dense(4, activation=name)]))
        for name in ACTIVATIONS
    ],
]


@pytest.mark.parametrize(
    "case, shape, layers", SEQUENTIAL_CASES, ids=[c[0] for c in SEQUENTIAL_CASES]
)
def test_sequential_layer_matches_keras(case, shape, layers, tmp_path):
    model = sequential(shape, layers())
    assert max_difference(model, [sample(shape, 1)], tmp_path) < TOLERANCE


@pytest.mark.parametrize("shape", [(1, 1), (31, 5), (32, 3), (33, 7), (100, 257)])
def test_dense_kernel_transposed_in_bands_is_the_transpose(shape):
    """The band-by-band copy of a Dense kernel, at sizes around the band's 32 rows."""
    from generator.torch.core import _transposed

    kernel = np.random.default_rng(0).normal(size=shape).astype("float32")
    copied = _transposed(kernel)
    assert copied.flags.c_contiguous and copied.dtype == kernel.dtype
    np.testing.assert_array_equal(copied, kernel.T)


def test_every_translation_has_a_row():
    """The table of translations and this file's table of cases list the same layer types."""
    covered = {"Embedding", "CategoryEncoding"}
    # keras-hub's layers: tests/test_keras_hub.py translates its backbones, and checks that
    # they contain each of these types.
    covered |= HUB_TRANSLATED_TYPES
    for _, _, layers in SEQUENTIAL_CASES:
        for layer in layers():
            covered.add(type(layer).__name__)
            if type(layer).__name__ == "Bidirectional":
                covered.add(type(layer.forward_layer).__name__)
    for _, build, _ in FUNCTIONAL_CASES:
        covered.update(layer.type for layer in describe_model(build()).layers)
    assert set(translated_layers()) - covered == set()


def _scalar_normalization():
    layer = L.Normalization(axis=None)
    layer.adapt(np.random.default_rng(0).normal(2, 3, (8, 4, 4, 3)).astype("float32"))
    return layer


ENCODING_CASES = [
    ("one_hot_column", (1,), L.CategoryEncoding, {"num_tokens": 5, "output_mode": "one_hot"}),
    ("one_hot_vector", (3,), L.CategoryEncoding, {"num_tokens": 5, "output_mode": "one_hot"}),
    ("multi_hot", (3,), L.CategoryEncoding, {"num_tokens": 5, "output_mode": "multi_hot"}),
    ("count", (4,), L.CategoryEncoding, {"num_tokens": 5, "output_mode": "count"}),
]


@pytest.mark.parametrize(
    "case, shape, layer, options", ENCODING_CASES, ids=[c[0] for c in ENCODING_CASES]
)
def test_category_encoding_matches_keras(case, shape, layer, options, tmp_path):
    model = sequential(shape, [layer(**options)], dtype="int32")
    assert max_difference(model, [sample(shape, 1, integers=5)], tmp_path) < TOLERANCE


def test_same_tensor_twice_in_a_merge(tmp_path):
    image = keras.Input((4, 4, 2))
    maps = L.Conv2D(3, 1)(image)
    model = randomize(keras.Model(image, L.Multiply()([maps, maps])))
    assert max_difference(model, [sample((4, 4, 2), 1)], tmp_path) < TOLERANCE


def test_embedding_matches_keras(tmp_path):
    model = sequential((6,), [L.Embedding(10, 4), L.GRU(3)], dtype="int32")
    assert max_difference(model, [sample((6,), 1, integers=10)], tmp_path) < TOLERANCE


def _merges() -> keras.Model:
    image = keras.Input((8, 8, 3))
    a = L.Conv2D(4, 3, padding="same", name="branch_a")(image)
    b = L.Conv2D(4, 1, name="branch_b")(image)
    added = L.Add()([a, b])
    multiplied = L.Multiply()([a, added])
    joined = L.Concatenate()([added, multiplied, b])  # along channels: dimension 1 in PyTorch
    out = L.Conv2D(2, 3, strides=2, padding="same")(joined)
    return keras.Model(image, out)


def _flat_and_dense() -> keras.Model:
    image = keras.Input((6, 6, 2))
    flat = L.Flatten()(L.Conv2D(2, 3)(image))
    dense = L.Dense(3)(flat)
    return keras.Model(image, L.Dense(2)(L.Concatenate()([flat, dense])))


def _two_inputs_two_outputs() -> keras.Model:
    image, extra = keras.Input((6, 6, 3), name="image"), keras.Input((4,), name="extra")
    pooled = L.GlobalAveragePooling2D()(L.Conv2D(4, 3, activation="relu")(image))
    joined = L.Concatenate()([pooled, L.Dense(4)(extra)])
    maps = L.Conv2D(2, 1)(image)
    return keras.Model([image, extra], [L.Dense(3, activation="softmax")(joined), maps])


def _nested() -> keras.Model:
    block = keras.Sequential(
        [keras.Input((8, 8, 3)), L.Conv2D(4, 3, padding="same"), L.BatchNormalization(), L.ReLU()],
        name="conv_block",
    )
    image = keras.Input((8, 8, 3))
    features = block(image)
    out = L.Dense(2)(L.Flatten()(L.MaxPooling2D()(L.Add()([features, L.Conv2D(4, 1)(image)]))))
    return keras.Model(image, out)


def _sequence_merges() -> keras.Model:
    tokens = keras.Input((5, 3))
    a = L.LSTM(4, return_sequences=True)(tokens)
    b = L.Conv1D(4, 3, padding="same")(tokens)  # channels first in PyTorch, a is not
    merged = L.Concatenate(axis=1)([L.Average()([a, b]), L.Maximum()([a, b])])
    return keras.Model(tokens, L.Subtract()([merged, L.Minimum()([merged, merged])]))


def _attention() -> keras.Model:
    query, value, key = keras.Input((4, 6)), keras.Input((5, 6)), keras.Input((5, 6))
    outputs = [
        L.Attention()([query, value]),
        L.Attention(use_scale=True, score_mode="concat")([query, value, key]),
        L.AdditiveAttention()([query, value, key]),
        L.Dot(axes=2)([query, value]),
        L.Dot(axes=1, normalize=True)([L.Flatten()(query), L.Dense(24)(L.Flatten()(value))]),
        L.MultiHeadAttention(2, key_dim=3)(query, query),  # 2 * 3 = 6: nn.MultiheadAttention
        L.MultiHeadAttention(2, key_dim=4, value_dim=2)(query, value, key),
    ]
    return keras.Model([query, value, key], outputs)


def _operations() -> keras.Model:
    image = keras.Input((4, 4, 3))
    maps = L.Conv2D(2, 1)(image)
    scaled = keras.ops.add(keras.ops.multiply(maps, 2.0), maps)
    out = keras.ops.true_divide(keras.ops.divide(keras.ops.subtract(1.5, scaled), 3.0), 2.0)
    return keras.Model(image, [out, L.Flatten()(maps) + 1.0])


def _more_operations() -> keras.Model:
    """The `keras.ops` calls functional models record, each applied to a tensor."""
    ops = keras.ops
    seq = keras.Input((4, 3))
    x = L.Dense(3)(seq)
    positive = ops.exp(x)
    parts = [
        ops.cumsum(ops.ones_like(x), axis=1),
        ops.zeros_like(x),
        ops.negative(x),
        ops.absolute(x),
        ops.square(x),
        ops.sqrt(positive),
        ops.log(positive),
        ops.tanh(x),
        ops.sigmoid(x),
        ops.relu(x),
        ops.silu(x),
        ops.cast(ops.sigmoid(x), "float32"),
        ops.maximum(x, 0.5),
        ops.minimum(x, positive),
        ops.power(positive, 2.0),
        ops.squeeze(ops.expand_dims(x, axis=1), axis=1),
        ops.mean(x, axis=1, keepdims=True) + x,
        ops.sum(x, axis=-1, keepdims=True) + x,
        ops.max(x, axis=1, keepdims=True) + x,
        ops.min(x, axis=1, keepdims=True) + x,
    ]
    joined = L.Concatenate()(parts)
    first = x[:, 0, :]  # keras-hub's pooled first token
    return keras.Model(seq, [joined, ops.matmul(x, ops.transpose(x, (0, 2, 1))), first])


def _einsums() -> keras.Model:
    """What keras-hub's attention is traced into: EinsumDense, einsum, repeat, masked softmax."""
    ops = keras.ops
    seq = keras.Input((4, 6))
    q = L.EinsumDense("btf,fhk->bthk", (4, 2, 3), bias_axes="hk")(seq)
    k = ops.repeat(L.EinsumDense("btf,fhk->bthk", (4, 1, 3))(seq), 2, axis=2)
    scores = ops.einsum("bthk,bshk->bhts", q, k)
    mask = ops.expand_dims(ops.sigmoid(L.Dense(4)(seq)), 1)  # an entry > 0.5 is kept
    weights = L.Softmax()(scores, mask=mask)
    out = L.EinsumDense("bthk,hkf->btf", (4, 6), activation="tanh")(
        ops.einsum("bhts,bshk->bthk", weights, k)
    )
    return keras.Model(seq, out)


def _states() -> keras.Model:
    """Recurrent layers returning their states, and layers started from given states."""
    a, b = keras.Input((5, 3), name="a"), keras.Input((4, 2), name="b")
    _, h, c = L.LSTM(4, return_state=True)(a)
    decoded = L.LSTM(4, return_sequences=True)(b, initial_state=[h, c])
    gru_out, gru_h = L.GRU(4, return_state=True, return_sequences=True)(a)
    gru_again = L.GRU(4)(b, initial_state=gru_h)
    rnn_out, rnn_h = L.SimpleRNN(3, return_state=True)(b)
    bi = L.Bidirectional(L.LSTM(2, return_state=True))(a)
    start = [L.Dense(2)(rnn_h), L.Dense(2)(rnn_h)]
    bi_seq = L.Bidirectional(L.GRU(2, return_sequences=True))(b, initial_state=start)
    return keras.Model([a, b], [decoded, gru_out, gru_again, rnn_out, *bi, bi_seq])


def _shared_layers() -> keras.Model:
    """One Dense, one LayerNormalization and one nested model, each called twice."""
    a, b = keras.Input((3, 4), name="a"), keras.Input((3, 4), name="b")
    dense, norm = L.Dense(4, name="shared_dense"), L.LayerNormalization(name="shared_norm")
    block = keras.Sequential([keras.Input((3, 4)), L.Dense(4, activation="tanh")], name="block")
    x = block(norm(dense(a)))
    y = block(norm(dense(b)))
    return keras.Model([a, b], L.Add()([x, y]))


def _conv_lstm_states() -> keras.Model:
    frames = keras.Input((3, 5, 5, 2))
    out, h, c = L.ConvLSTM2D(2, 3, padding="same", return_state=True)(frames)
    return keras.Model(frames, [L.Conv2D(2, 1)(out), h, c])


FUNCTIONAL_CASES = [
    ("more_operations", _more_operations, [(4, 3)]),
    ("einsums", _einsums, [(4, 6)]),
    ("recurrent_states", _states, [(5, 3), (4, 2)]),
    ("shared_layers", _shared_layers, [(3, 4), (3, 4)]),
    ("conv_lstm_states", _conv_lstm_states, [(3, 5, 5, 2)]),
    ("attention_dot", _attention, [(4, 6), (5, 6), (5, 6)]),
    ("tensor_operations", _operations, [(4, 4, 3)]),
    ("add_multiply_concatenate", _merges, [(8, 8, 3)]),
    ("concatenate_flat_and_dense", _flat_and_dense, [(6, 6, 2)]),
    ("two_inputs_two_outputs", _two_inputs_two_outputs, [(6, 6, 3), (4,)]),
    ("nested_model", _nested, [(8, 8, 3)]),
    ("sequence_merges", _sequence_merges, [(5, 3)]),
]


@pytest.mark.parametrize(
    "case, build, shapes", FUNCTIONAL_CASES, ids=[c[0] for c in FUNCTIONAL_CASES]
)
def test_functional_model_matches_keras(case, build, shapes, tmp_path):
    model = randomize(build())
    inputs = [sample(shape, i) for i, shape in enumerate(shapes)]
    assert max_difference(model, inputs, tmp_path) < TOLERANCE


def simple_cnn() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            L.Conv2D(8, 3, activation="relu"),
            L.Conv2D(16, 3, activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(128, activation="relu"),
            L.Dense(10, activation="softmax"),
        ],
        name="simple_cnn",
    )


def test_simple_cnn_source_reads_like_hand_written(tmp_path, monkeypatch):
    model = randomize(simple_cnn(), scale=0.1)
    graph = describe_model(model, with_weights=True)
    monkeypatch.setitem(sys.modules, "torch", None)  # generating the source must not need torch
    source = translate_model(graph).source
    monkeypatch.undo()
    assert "nn.Linear(in_features=14 * 14 * 16, out_features=128)" in source
    assert "nn.Conv2d(in_channels=3, out_channels=8, kernel_size=3)" in source
    assert "x = torch.flatten(x, 1)" in source
    assert max_difference(model, [sample((32, 32, 3), 3)], tmp_path) < TOLERANCE


def untranslated() -> keras.Model:
    return keras.Sequential([keras.Input((4, 5, 3)), L.ConvLSTM1D(2, 3, name="odd_one")])


def test_untranslated_layer_names_the_layer():
    model = untranslated()
    with pytest.raises(CourseError, match=r"layer 'odd_one' \(ConvLSTM1D\) has no PyTorch"):
        translate_model(describe_model(model))


def test_parameter_counts_match_pytorch(tmp_path):
    """Counted from generated shapes (no torch needed) = PyTorch's own count, per layer."""
    from generator.equation.analyze import analyze_model

    model = randomize(
        keras.Sequential(
            [
                keras.Input((8, 8, 3)),
                L.Conv2D(4, 3),
                L.BatchNormalization(name="bn"),
                L.Reshape((36, 4)),
                L.LSTM(5, name="lstm"),
                L.Dense(2),
            ]
        )
    )
    module = translate_model(describe_model(model, with_weights=True))
    net = load_generated(write_torch_package(model, tmp_path)).load()
    for count in module.counts:
        attr = getattr(net, count.name, None)
        params = sum(p.numel() for p in attr.parameters()) if attr is not None else 0
        buffers = (
            sum(b.numel() for n, b in attr.named_buffers() if not n.endswith("num_batches_tracked"))
            if attr is not None
            else 0
        )
        assert (count.torch_params, count.torch_buffers) == (params, buffers), count.name
    by_name = {c.name: c for c in module.counts}
    assert by_name["lstm"].torch_params == by_name["lstm"].keras + 4 * 5  # PyTorch's 2nd bias
    assert by_name["bn"].torch_buffers == 8
    tab = torch_tab_markdown(analyze_model(model))
    assert tab.startswith("```python\n") and "| `lstm` | LSTM | 200 | 220 | 0 |" in tab


def test_tab_is_none_for_untranslated_model():
    from generator.layers.derive import derive_model

    model = untranslated()
    assert torch_tab_markdown(derive_model(describe_model(model))) is None


def test_course_torch_command_names_an_untranslated_layer(tmp_path):
    from click.testing import CliRunner

    from generator.cli import main

    untranslated().save(tmp_path / "m.keras")
    result = CliRunner().invoke(main, ["torch", str(tmp_path / "m.keras"), str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "layer 'odd_one' (ConvLSTM1D) has no PyTorch translation" in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.slow  # a `course torch` subprocess imports TensorFlow and PyTorch again
def test_course_torch_command_end_to_end(tmp_path):
    model = randomize(simple_cnn(), scale=0.1)
    model.save(tmp_path / "cnn.keras")
    outdir = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "generator.cli", "torch", str(tmp_path / "cnn.keras"), str(outdir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "model.py" in result.stdout
    net = load_generated(outdir / "model.py").load()
    x = sample((32, 32, 3), 5)
    with torch.no_grad():
        got = net(to_torch(x, "channels_first")).numpy()
    assert np.max(np.abs(got - keras.ops.convert_to_numpy(model(x)))) < TOLERANCE


APPLICATIONS = [
    ("ResNet50", {}),  # 224 x 224: the issue's own case
    ("MobileNetV2", {"input_shape": (96, 96, 3)}),  # depthwise, ReLU6, asymmetric zero padding
    ("EfficientNetB0", {"input_shape": (64, 64, 3)}),  # per-channel Rescaling, Normalization, SE
]


@pytest.mark.slow
@pytest.mark.parametrize("name, options", APPLICATIONS, ids=[a[0] for a in APPLICATIONS])
def test_application_matches_keras(name, options, tmp_path):
    model = getattr(keras.applications, name)(weights=None, classifier_activation=None, **options)
    rng = np.random.default_rng(0)
    for weight in model.weights:  # the moving statistics must not be the trivial 0 and 1
        if "moving_variance" in weight.path:
            weight.assign(rng.uniform(0.5, 1.5, weight.shape).astype("float32"))
        elif "moving_mean" in weight.path or "beta" in weight.path:
            weight.assign(rng.normal(0, 0.1, weight.shape).astype("float32"))
    x = sample(model.input_shape[1:], 7)
    difference = max_difference(model, [x], tmp_path)
    scale = float(np.max(np.abs(keras.ops.convert_to_numpy(model(x)))))
    assert scale > 1e-2  # a meaningful output, not one squashed to nothing
    assert difference < TOLERANCE * max(1.0, scale)
