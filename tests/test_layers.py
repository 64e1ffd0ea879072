"""Every layer handler checked against Keras itself: output shapes, counts, trainable split.

Each row builds a small model in the test; Keras's own `output.shape`, `count_params()` and
trainable weights are the reference. The seeds' figures are written out too: they are the
issue's reviewed numbers, and Keras must agree with them as well as our derivation.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.torch_support import import_torch

pytestmark = [
    pytest.mark.tensorflow,
]

PLAIN = re.compile(r"^[0-9+\-*() ]+$")


def layer_scale(init_values: float, channels: int):
    """`keras.applications.convnext.LayerScale`, a layer Keras does not export by itself."""
    from keras.src.applications.convnext import LayerScale

    return LayerScale(init_values, channels)


class Tokens(tuple):
    """The shape of an input of integer token ids (the tests feed ids 0 to 9)."""


# One row per layer type and configuration: (id, input shapes, build(layers, *inputs) -> outputs).
CASES = [
    # Dense and convolutions
    ("dense", [(5,)], lambda L, x: L.Dense(3, activation="relu")(x)),
    ("dense_no_bias", [(5,)], lambda L, x: L.Dense(3, use_bias=False)(x)),
    ("dense_softmax", [(5,)], lambda L, x: L.Dense(4, activation="softmax")(x)),
    ("dense_on_sequence", [(6, 5)], lambda L, x: L.Dense(3)(x)),
    ("conv1d_valid", [(20, 3)], lambda L, x: L.Conv1D(4, 3)(x)),
    ("conv1d_same_stride", [(21, 3)], lambda L, x: L.Conv1D(4, 4, strides=2, padding="same")(x)),
    (
        "conv1d_causal_dilated",
        [(20, 3)],
        lambda L, x: L.Conv1D(4, 3, padding="causal", dilation_rate=2)(x),
    ),
    ("conv2d_valid", [(12, 12, 3)], lambda L, x: L.Conv2D(8, (3, 3), activation="relu")(x)),
    (
        "conv2d_same_stride",
        [(13, 13, 3)],
        lambda L, x: L.Conv2D(8, 3, strides=2, padding="same")(x),
    ),
    (
        "conv2d_valid_stride_rect",
        [(13, 11, 3)],
        lambda L, x: L.Conv2D(8, (3, 2), strides=(2, 3))(x),
    ),
    ("conv2d_dilated", [(15, 15, 2)], lambda L, x: L.Conv2D(4, 3, dilation_rate=2)(x)),
    ("conv2d_groups", [(8, 8, 6)], lambda L, x: L.Conv2D(4, 3, groups=2)(x)),
    ("conv2d_no_bias", [(8, 8, 3)], lambda L, x: L.Conv2D(5, 3, use_bias=False)(x)),
    ("conv2d_softmax", [(8, 8, 3)], lambda L, x: L.Conv2D(5, 1, activation="softmax")(x)),
    ("conv3d", [(6, 7, 8, 2)], lambda L, x: L.Conv3D(3, (2, 3, 3), padding="same")(x)),
    ("conv3d_valid_stride", [(9, 9, 9, 2)], lambda L, x: L.Conv3D(3, 3, strides=2)(x)),
    ("conv2d_transpose_valid", [(5, 5, 3)], lambda L, x: L.Conv2DTranspose(4, 3)(x)),
    (
        "conv2d_transpose_same_stride",
        [(5, 5, 3)],
        lambda L, x: L.Conv2DTranspose(4, 3, strides=2, padding="same")(x),
    ),
    (
        "conv2d_transpose_valid_stride",
        [(5, 6, 3)],
        lambda L, x: L.Conv2DTranspose(4, (3, 2), strides=(2, 3))(x),
    ),
    (
        "conv2d_transpose_output_padding",
        [(5, 5, 3)],
        lambda L, x: L.Conv2DTranspose(4, 3, strides=2, output_padding=1)(x),
    ),
    ("conv1d_transpose", [(7, 3)], lambda L, x: L.Conv1DTranspose(2, 3, strides=2)(x)),
    (
        "conv3d_transpose",
        [(3, 4, 5, 2)],
        lambda L, x: L.Conv3DTranspose(2, 2, strides=2, padding="same")(x),
    ),
    ("separable_conv1d", [(12, 3)], lambda L, x: L.SeparableConv1D(4, 3, strides=2)(x)),
    ("separable_conv2d", [(10, 10, 3)], lambda L, x: L.SeparableConv2D(8, 3)(x)),
    (
        "separable_conv2d_mult",
        [(10, 10, 3)],
        lambda L, x: L.SeparableConv2D(8, 3, depth_multiplier=2, padding="same", use_bias=False)(x),
    ),
    ("depthwise_conv2d", [(10, 10, 3)], lambda L, x: L.DepthwiseConv2D(3)(x)),
    (
        "depthwise_conv2d_mult",
        [(10, 10, 3)],
        lambda L, x: L.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same")(x),
    ),
    ("depthwise_conv1d", [(10, 3)], lambda L, x: L.DepthwiseConv1D(3, use_bias=False)(x)),
    # Pooling
    ("max_pool1d", [(11, 3)], lambda L, x: L.MaxPooling1D(2)(x)),
    ("max_pool2d", [(9, 9, 3)], lambda L, x: L.MaxPooling2D(2)(x)),
    (
        "max_pool2d_stride_same",
        [(9, 9, 3)],
        lambda L, x: L.MaxPooling2D(3, strides=2, padding="same")(x),
    ),
    ("max_pool3d", [(6, 6, 6, 2)], lambda L, x: L.MaxPooling3D(2)(x)),
    ("avg_pool1d_same", [(7, 2)], lambda L, x: L.AveragePooling1D(3, 2, padding="same")(x)),
    ("avg_pool2d", [(8, 8, 3)], lambda L, x: L.AveragePooling2D((2, 3), strides=(1, 2))(x)),
    ("avg_pool3d", [(6, 6, 6, 2)], lambda L, x: L.AveragePooling3D(2, padding="same")(x)),
    ("adaptive_avg2d", [(8, 6, 3)], lambda L, x: L.AdaptiveAveragePooling2D((4, 3))(x)),
    ("adaptive_max1d", [(9, 2)], lambda L, x: L.AdaptiveMaxPooling1D(3)(x)),
    ("adaptive_avg2d_uneven", [(7, 5, 2)], lambda L, x: L.AdaptiveAveragePooling2D(3)(x)),
    ("adaptive_avg1d", [(10, 2)], lambda L, x: L.AdaptiveAveragePooling1D(4)(x)),
    ("adaptive_avg3d", [(4, 4, 6, 2)], lambda L, x: L.AdaptiveAveragePooling3D((2, 2, 3))(x)),
    ("adaptive_max2d_uneven", [(7, 7, 2)], lambda L, x: L.AdaptiveMaxPooling2D((3, 2))(x)),
    ("adaptive_max3d", [(4, 4, 4, 2)], lambda L, x: L.AdaptiveMaxPooling3D(2)(x)),
    ("global_max1d", [(7, 3)], lambda L, x: L.GlobalMaxPooling1D()(x)),
    ("global_avg2d", [(5, 5, 3)], lambda L, x: L.GlobalAveragePooling2D()(x)),
    ("global_avg2d_open_size", [(None, None, 3)], lambda L, x: L.GlobalAveragePooling2D()(x)),
    ("layer_scale", [(4, 4, 6)], lambda L, x: layer_scale(0.5, 6)(x)),  # ConvNeXt's
    ("global_avg2d_keepdims", [(5, 5, 3)], lambda L, x: L.GlobalAveragePooling2D(keepdims=True)(x)),
    ("global_max3d_keepdims", [(3, 4, 5, 2)], lambda L, x: L.GlobalMaxPooling3D(keepdims=True)(x)),
    ("global_avg1d", [(7, 3)], lambda L, x: L.GlobalAveragePooling1D()(x)),
    ("global_max2d", [(5, 5, 3)], lambda L, x: L.GlobalMaxPooling2D()(x)),
    ("global_avg3d", [(3, 4, 5, 2)], lambda L, x: L.GlobalAveragePooling3D()(x)),
    # Reshaping
    ("flatten", [(4, 4, 3)], lambda L, x: L.Flatten()(x)),
    (
        "flatten_channels_first",
        [(3, 4, 5)],
        lambda L, x: L.Flatten(data_format="channels_first")(x),
    ),
    ("reshape", [(4, 6)], lambda L, x: L.Reshape((3, 8))(x)),
    ("reshape_infer", [(4, 4, 2)], lambda L, x: L.Reshape((-1, 4))(x)),
    ("permute", [(3, 4, 5)], lambda L, x: L.Permute((3, 1, 2))(x)),
    ("repeat_vector", [(5,)], lambda L, x: L.RepeatVector(3)(x)),
    ("cropping1d", [(10, 3)], lambda L, x: L.Cropping1D((1, 2))(x)),
    ("cropping2d", [(8, 9, 3)], lambda L, x: L.Cropping2D(((1, 2), (0, 3)))(x)),
    ("cropping3d", [(6, 6, 6, 2)], lambda L, x: L.Cropping3D(1)(x)),
    ("zero_padding1d", [(10, 3)], lambda L, x: L.ZeroPadding1D((2, 1))(x)),
    ("zero_padding2d", [(8, 8, 3)], lambda L, x: L.ZeroPadding2D(((1, 2), (0, 1)))(x)),
    ("zero_padding3d", [(4, 4, 4, 2)], lambda L, x: L.ZeroPadding3D(1)(x)),
    ("up_sampling1d", [(5, 2)], lambda L, x: L.UpSampling1D(3)(x)),
    ("up_sampling2d", [(5, 6, 2)], lambda L, x: L.UpSampling2D((2, 3))(x)),
    (
        "up_sampling2d_bilinear",
        [(5, 5, 2)],
        lambda L, x: L.UpSampling2D(2, interpolation="bilinear")(x),
    ),
    ("up_sampling3d", [(3, 3, 3, 1)], lambda L, x: L.UpSampling3D(2)(x)),
    # Merging
    ("add", [(4,), (4,)], lambda L, a, b: L.Add()([a, b])),
    ("add_three", [(3, 4), (3, 4), (3, 4)], lambda L, a, b, c: L.Add()([a, b, c])),
    ("subtract", [(4,), (4,)], lambda L, a, b: L.Subtract()([a, b])),
    ("multiply_broadcast", [(4, 4, 3), (1, 1, 3)], lambda L, a, b: L.Multiply()([a, b])),
    ("average", [(4,), (4,)], lambda L, a, b: L.Average()([a, b])),
    ("maximum", [(4,), (4,)], lambda L, a, b: L.Maximum()([a, b])),
    ("minimum", [(4,), (4,)], lambda L, a, b: L.Minimum()([a, b])),
    ("concatenate", [(4, 4, 3), (4, 4, 5)], lambda L, a, b: L.Concatenate()([a, b])),
    ("concatenate_axis1", [(3, 2), (5, 2)], lambda L, a, b: L.Concatenate(axis=1)([a, b])),
    ("dot", [(4,), (4,)], lambda L, a, b: L.Dot(axes=1)([a, b])),
    ("dot_3d_normalize", [(3, 4), (5, 4)], lambda L, a, b: L.Dot(axes=2, normalize=True)([a, b])),
    ("ops_hard_sigmoid", [(4, 3)], lambda L, x: L.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)),
    ("ops_two_tensors", [(4,), (4,)], lambda L, a, b: (a - b) / 2.0 - 1.0),
    ("ops_divide_tensors", [(4,), (4,)], lambda L, a, b: 1.0 - a / b),
    ("ops_divide_function", [(4,), (4,)], lambda L, a, b: _ops().divide(a, b)),
    ("ops_not_equal", [(4,)], lambda L, x: _ops().not_equal(x, 0.0)),
    ("ops_equal_tensors", [(4,), (4,)], lambda L, a, b: _ops().equal(a, b)),
    ("ops_power", [(4,)], lambda L, x: _ops().power(x, 3.0)),
    ("ops_power_tensors", [(4,), (4,)], lambda L, a, b: _ops().power(_ops().exp(a), b)),
    ("ops_maximum_number", [(4,)], lambda L, x: _ops().maximum(x, 0.5)),
    ("ops_minimum_broadcast", [(4, 3), (1, 3)], lambda L, a, b: _ops().minimum(a, b)),
    # Tensor functions between layers (keras.ops)
    ("ops_absolute", [(4, 3)], lambda L, x: _ops().absolute(x)),
    ("ops_negative", [(4,)], lambda L, x: _ops().negative(x)),
    ("ops_square_sqrt", [(4, 3)], lambda L, x: _ops().sqrt(_ops().square(x))),
    ("ops_exp_log", [(4,)], lambda L, x: _ops().log(_ops().exp(x))),
    ("ops_relu", [(4,)], lambda L, x: _ops().relu(x)),
    ("ops_sigmoid_tanh", [(3, 4)], lambda L, x: _ops().tanh(_ops().sigmoid(x))),
    ("ops_ones_zeros_like", [(3, 4)], lambda L, x: _ops().ones_like(x) - _ops().zeros_like(x)),
    ("ops_sum", [(3, 4)], lambda L, x: _ops().sum(x, axis=-1)),
    ("ops_mean_keepdims", [(3, 4, 2)], lambda L, x: _ops().mean(x, axis=[1, 2], keepdims=True)),
    ("ops_max", [(3, 4)], lambda L, x: _ops().max(x, axis=1)),
    ("ops_min_keepdims", [(3, 4)], lambda L, x: _ops().min(x, axis=-1, keepdims=True)),
    ("ops_cumsum", [(5, 3)], lambda L, x: _ops().cumsum(x, axis=1)),
    ("ops_cumsum_last", [(2, 5)], lambda L, x: _ops().cumsum(x, axis=-1)),
    ("ops_transpose", [(3, 4, 2)], lambda L, x: _ops().transpose(x, (0, 2, 3, 1))),
    ("ops_expand_dims", [(3, 4)], lambda L, x: _ops().expand_dims(x, 1)),
    ("ops_squeeze", [(3, 1, 4)], lambda L, x: _ops().squeeze(x, axis=2)),
    ("ops_matmul", [(3, 4), (4, 5)], lambda L, a, b: _ops().matmul(a, b)),
    # What keras-hub's layers are traced into
    ("ops_cast", [(3, 4)], lambda L, x: _ops().cast(x, "float32")),
    ("ops_silu", [(3, 4)], lambda L, x: _ops().silu(x)),
    ("ops_get_item", [(3, 4)], lambda L, x: x[:, 0, :]),
    ("ops_get_item_new_axis", [(3, 4)], lambda L, x: x[:, None, :, :]),
    ("ops_repeat", [(3, 2, 4)], lambda L, x: _ops().repeat(x, 2, axis=2)),
    ("ops_einsum", [(3, 4), (5, 4)], lambda L, a, b: _ops().einsum("bik,bjk->bij", a, b)),
    (
        "einsum_dense",
        [(3, 6)],
        lambda L, x: L.EinsumDense("btf,fhk->bthk", (3, 2, 4), bias_axes="hk")(x),
    ),
    (
        "einsum_dense_tanh",
        [(3, 6)],
        lambda L, x: L.EinsumDense("abc,cd->abd", (3, 5), activation="tanh")(x),
    ),
    ("ops_matmul_broadcast", [(2, 3, 4), (1, 4, 2)], lambda L, a, b: _ops().matmul(a, b)),
    ("ops_matmul_constant", [(4,)], lambda L, x: _ops().matmul(x, np.arange(8.0).reshape(4, 2))),
    ("ops_matmul_vector", [(3, 4)], lambda L, x: _ops().matmul(x, np.array([1.0, -2.0, 0.5, 3.0]))),
    # Activations
    ("activation_relu", [(4,)], lambda L, x: L.Activation("relu")(x)),
    ("activation_softmax", [(4,)], lambda L, x: L.Activation("softmax")(x)),
    ("activation_hard_swish", [(4,)], lambda L, x: L.Activation("hard_swish")(x)),
    ("relu", [(4,)], lambda L, x: L.ReLU()(x)),
    ("relu6", [(4,)], lambda L, x: L.ReLU(max_value=6.0)(x)),
    ("relu_full", [(4,)], lambda L, x: L.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5)(x)),
    ("leaky_relu", [(4,)], lambda L, x: L.LeakyReLU(negative_slope=0.2)(x)),
    ("prelu", [(4,)], lambda L, x: L.PReLU()(x)),
    ("prelu_shared", [(5, 5, 3)], lambda L, x: L.PReLU(shared_axes=[1, 2])(x)),
    ("elu", [(4,)], lambda L, x: L.ELU(alpha=0.5)(x)),
    ("softmax", [(3, 4)], lambda L, x: L.Softmax(axis=1)(x)),
    # Normalization
    ("batch_norm", [(6, 6, 4)], lambda L, x: L.BatchNormalization()(x)),
    ("batch_norm_no_center", [(5,)], lambda L, x: L.BatchNormalization(center=False)(x)),
    (
        "batch_norm_no_scale_axis1",
        [(3, 5)],
        lambda L, x: L.BatchNormalization(axis=1, scale=False)(x),
    ),
    ("batch_norm_frozen", [(5,)], lambda L, x: _frozen(L.BatchNormalization())(x)),
    ("layer_norm", [(5, 6)], lambda L, x: L.LayerNormalization()(x)),
    ("layer_norm_two_axes", [(3, 4, 5)], lambda L, x: L.LayerNormalization(axis=[1, 2])(x)),
    ("layer_norm_rms", [(6,)], lambda L, x: L.LayerNormalization(rms_scaling=True)(x)),
    ("rms_norm", [(3, 6)], lambda L, x: L.RMSNormalization()(x)),
    ("layer_norm_no_center", [(6,)], lambda L, x: L.LayerNormalization(center=False)(x)),
    ("group_norm", [(4, 4, 6)], lambda L, x: L.GroupNormalization(groups=2)(x)),
    ("unit_norm", [(5,)], lambda L, x: L.UnitNormalization()(x)),
    ("normalization", [(4, 4, 3)], lambda L, x: L.Normalization()(x)),
    ("normalization_two_axes", [(4, 3)], lambda L, x: L.Normalization(axis=(1, 2))(x)),
    (
        "normalization_given",
        [(3,)],
        lambda L, x: L.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0])(x),
    ),
    ("normalization_invert", [(3,)], lambda L, x: L.Normalization(invert=True)(x)),
    ("rescaling", [(3,)], lambda L, x: L.Rescaling(1.0 / 255)(x)),
    ("rescaling_offset", [(4, 3)], lambda L, x: L.Rescaling(2.0, offset=-1.0)(x)),
    (
        "rescaling_per_channel",
        [(4, 3)],
        lambda L, x: L.Rescaling([1.0, 2.0, 3.0], offset=[0.0, 1.0, 2.0])(x),
    ),
    # Regularization
    ("dropout", [(4,)], lambda L, x: L.Dropout(0.5)(x)),
    ("spatial_dropout1d", [(5, 3)], lambda L, x: L.SpatialDropout1D(0.2)(x)),
    ("spatial_dropout2d", [(5, 5, 3)], lambda L, x: L.SpatialDropout2D(0.2)(x)),
    ("spatial_dropout3d", [(3, 3, 3, 2)], lambda L, x: L.SpatialDropout3D(0.2)(x)),
    ("gaussian_noise", [(4,)], lambda L, x: L.GaussianNoise(0.1)(x)),
    ("gaussian_dropout", [(4,)], lambda L, x: L.GaussianDropout(0.3)(x)),
    ("alpha_dropout", [(4,)], lambda L, x: L.AlphaDropout(0.1)(x)),
    ("activity_regularization", [(4,)], lambda L, x: L.ActivityRegularization(l1=0.01)(x)),
    ("identity", [(4, 3)], lambda L, x: L.Identity()(x)),
    # Preprocessing
    (
        "category_encoding_one_hot",
        [Tokens((3,))],
        lambda L, x: L.CategoryEncoding(10, output_mode="one_hot")(x),
    ),
    (
        "category_encoding_one_hot_column",
        [Tokens((1,))],
        lambda L, x: L.CategoryEncoding(10, output_mode="one_hot")(x),
    ),
    (
        "category_encoding_one_hot_rank3",
        [Tokens((2, 3))],
        lambda L, x: L.CategoryEncoding(10, output_mode="one_hot")(x),
    ),
    ("category_encoding_multi_hot", [Tokens((4,))], lambda L, x: L.CategoryEncoding(10)(x)),
    (
        "category_encoding_count",
        [Tokens((4,))],
        lambda L, x: L.CategoryEncoding(10, output_mode="count")(x),
    ),
    ("resizing_bilinear", [(5, 7, 2)], lambda L, x: L.Resizing(3, 11)(x)),
    ("resizing_nearest", [(5, 7, 2)], lambda L, x: L.Resizing(8, 4, interpolation="nearest")(x)),
    (
        "resizing_nearest_channels_first",
        [(2, 4, 6)],
        lambda L, x: L.Resizing(7, 3, interpolation="nearest", data_format="channels_first")(x),
    ),
    # Nested models
    ("nested_sequential", [(6,)], lambda L, x: _inner_sequential()(x)),
    ("nested_functional", [(8, 8, 3)], lambda L, x: _inner_functional()(x)),
    ("nested_frozen", [(6,)], lambda L, x: _frozen(_inner_sequential())(x)),
    ("nested_twice", [(6,)], lambda L, x: _outer_sequential()(x)),
]


def _ops():
    import keras

    return keras.ops


def _frozen(layer):
    layer.trainable = False
    return layer


def _inner_sequential():
    import keras

    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(4, activation="tanh"),
            keras.layers.Dropout(0.1),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(2),
        ],
        name="inner_stack",
    )


def _outer_sequential():
    import keras

    return keras.Sequential(
        [keras.Input((6,)), _inner_sequential(), keras.layers.Dense(3)], name="outer_stack"
    )


def _inner_functional():
    import keras

    L = keras.layers
    x = keras.Input((8, 8, 3))
    a = L.Conv2D(4, 3, padding="same")(x)
    b = L.Conv2D(4, 1)(x)
    y = L.GlobalAveragePooling2D()(L.Add()([a, b]))
    return keras.Model(x, L.Dense(2)(y), name="inner_graph")


def _model(shapes, build):
    import keras

    inputs = [
        keras.Input(shape, dtype="int32" if isinstance(shape, Tokens) else "float32")
        for shape in shapes
    ]
    return keras.Model(inputs, build(keras.layers, *inputs))


def _derive(model):
    from generator.layers.derive import derive_model
    from generator.model.frontend import describe_model

    return derive_model(describe_model(model))


def _keras_layers(model):
    """Keras's own layers and operations, by name, to compare with."""
    graph_model = getattr(model, "_functional", None) or model
    return {
        node.operation.name: node.operation
        for nodes in graph_model._nodes_by_depth.values()
        for node in nodes
    }


def _trainable_size(layer) -> int:
    if not hasattr(layer, "trainable_weights"):
        return 0
    total = 0
    for w in layer.trainable_weights:
        n = 1
        for d in w.shape:
            n *= int(d)
        total += n
    return total


def _check_layers(model, math) -> None:
    keras_layers = _keras_layers(model)
    assert math.layers, "no layers derived"
    for layer in math.layers:
        name = layer.record.name
        keras_layer = keras_layers[name]
        assert layer.known, f"{name} ({layer.record.type}) has no handler"
        assert layer.shape_matches, (
            f"{name}: derived {layer.shape.shapes}, Keras {layer.record.output_shapes}"
        )
        keras_count = keras_layer.count_params() if hasattr(keras_layer, "count_params") else 0
        assert layer.params.total == keras_count, name
        assert layer.params.trainable == _trainable_size(keras_layer), name
        assert layer.params.trainable + layer.params.non_trainable == keras_count, name
        formula = layer.params_formula
        assert formula is not None and PLAIN.match(formula), formula
        assert eval(formula) == keras_count, formula  # noqa: S307 - digits and + - * ( ) only
        assert layer.equation_latex and layer.equation_latex.strip(), name
        assert layer.params_latex and layer.shape_latex, name
        if layer.children is not None:
            _check_layers(keras_layer, layer.children)


@pytest.mark.parametrize("shapes, build", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_layer_matches_keras(shapes, build):
    model = _model(shapes, build)
    math = _derive(model)
    _check_layers(model, math)
    assert all(check.passed for check in math.checks), math.checks
    assert math.total_params == model.count_params()


# Calls the handlers derive a shape for but whose equation is printed, not evaluated: they mix
# the items of a batch, or follow a rule the equation does not write.
UNEVALUATED = [
    ("ops_sum_every_axis", [(3, 4)], lambda L, x: _ops().sum(x)),
    ("ops_mean_batch_axis", [(3,)], lambda L, x: _ops().mean(x, axis=0, keepdims=True)),
    ("ops_transpose_reversed", [(3, 4)], lambda L, x: _ops().transpose(x)),
    ("ops_cumsum_flattened", [(3, 4)], lambda L, x: _ops().cumsum(x)),
    ("ops_expand_dims_first", [(3,)], lambda L, x: _ops().expand_dims(x, 0)),
    ("category_encoding_batch_of_ids", [Tokens(())], lambda L, x: L.CategoryEncoding(10)(x)),
    ("category_encoding_count_rank3", [Tokens((2, 4))], lambda L, x: L.CategoryEncoding(10)(x)),
    ("resizing_bicubic", [(5, 6, 2)], lambda L, x: L.Resizing(3, 4, interpolation="bicubic")(x)),
    ("resizing_crop", [(5, 6, 2)], lambda L, x: L.Resizing(3, 4, crop_to_aspect_ratio=True)(x)),
]


@pytest.mark.parametrize(
    "shapes, build", [c[1:] for c in UNEVALUATED], ids=[c[0] for c in UNEVALUATED]
)
def test_unevaluated_calls_have_shapes_and_printed_equations(shapes, build):
    model = _model(shapes, build)
    math = _derive(model)
    _check_layers(model, math)
    equation = math.layers[-1].equation
    assert "not evaluated" in equation.latex()
    with pytest.raises(NotImplementedError):
        equation.evaluate([np.zeros((2, *shapes[0]))], {})


def test_every_handler_has_a_row():
    """The table covers every registered layer type (the sequence layers' handlers have their
    own table in `test_layers_sequence.py`)."""
    from generator.layers.registry import REGISTRY
    from generator.model.frontend import describe_model

    seen: set[str] = set()

    def collect(graph):
        for record in graph.layers:
            seen.add(record.type)
            if record.children is not None:
                collect(record.children)

    for _, shapes, build in CASES:
        collect(describe_model(_model(shapes, build)))
    # keras_hub: its layers have rows of their own in test_keras_hub.py (with keras-hub installed).
    sequence = ("recurrent", "wrappers", "attention", "embedding", "keras_hub", "vit")
    registered = {
        name
        for name, handler in REGISTRY.handlers.items()
        if type(handler).__module__.rsplit(".", 1)[-1] not in sequence
    }
    # Types only PyTorch models have, checked against PyTorch in test_ir_handlers_torch.py.
    missing = registered - seen - {"ParameterAdd"}
    assert not missing, f"no table row for {sorted(missing)}"


# --- the seeds' figures (the issue's reviewed numbers) -------------------------------------------


def _simple_cnn():
    import keras

    L = keras.layers
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            L.Conv2D(8, (3, 3), activation="relu"),
            L.Conv2D(16, (3, 3), activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(128, activation="relu"),
            L.Dense(10, activation="softmax"),
        ]
    )


def _tutorial_cnn():
    import keras

    L = keras.layers
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            L.Conv2D(32, (3, 3), activation="relu"),
            L.MaxPooling2D((2, 2)),
            L.Conv2D(64, (3, 3), activation="relu"),
            L.MaxPooling2D((2, 2)),
            L.Conv2D(64, (3, 3), activation="relu"),
            L.Flatten(),
            L.Dense(64, activation="relu"),
            L.Dense(10),
        ]
    )


def test_simple_cnn_seed_figures():
    model = _simple_cnn()
    math = _derive(model)
    counts = [layer.params.total for layer in math.layers]
    assert counts == [224, 1168, 0, 0, 401536, 1290]
    assert counts == [layer.count_params() for layer in model.layers]
    assert math.total_params == 404218 == model.count_params()
    flatten = math.layers[3]
    assert flatten.shape.shape == (None, 3136) == tuple(model.layers[3].output.shape)
    (step,) = flatten.shape.steps
    assert step.formula.value() == 3136
    assert step.formula.latex(numbers=True) == r"14 \cdot 14 \cdot 16"
    assert [layer.params_formula for layer in math.layers] == [
        "(3*3*3 + 1)*8",
        "(3*3*8 + 1)*16",
        "0",
        "0",
        "(3136 + 1)*128",
        "(128 + 1)*10",
    ]
    _check_layers(model, math)


def test_tutorial_cnn_seed_figures():
    model = _tutorial_cnn()
    math = _derive(model)
    shapes = [layer.shape.shape for layer in math.layers]
    assert shapes[:6] == [
        (None, 30, 30, 32),
        (None, 15, 15, 32),
        (None, 13, 13, 64),
        (None, 6, 6, 64),
        (None, 4, 4, 64),
        (None, 1024),
    ]
    assert shapes == [tuple(layer.output.shape) for layer in model.layers]
    assert math.total_params == 122570 == model.count_params()
    _check_layers(model, math)


def test_softmax_equation_is_over_the_vector():
    import keras

    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])
    (layer,) = _derive(model).layers
    assert layer.equation_latex.startswith(r"a = \mathrm{softmax}(z), \quad z_{j} = b_j + ")
    assert r"\mathrm{softmax}\!\left(b_j" not in layer.equation_latex


def test_unknown_layer_keeps_keras_count_and_says_so():
    import keras

    from generator.layers.derive import UNKNOWN_NOTE

    class Doubler(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

        def call(self, x):
            return 2.0 * self.w * x

    x = keras.Input((4,))
    model = keras.Model(x, keras.layers.Dense(2)(Doubler(name="doubler")(x)))
    math = _derive(model)
    unknown = math.layers[0]
    assert unknown.record.type == "Doubler"
    assert unknown.known is False
    assert unknown.params.total == 4 == model.layers[1].count_params()
    assert unknown.params_formula is None
    assert unknown.note == UNKNOWN_NOTE
    assert unknown.equation is None
    assert math.total_params == model.count_params()
    assert all(check.passed for check in math.checks)


# --- the equations, computed in NumPy as printed, against Keras's output ----------------------


# Layer settings that the rows above only count: each is run through the generator's PyTorch
# backend, from the model saved to `.keras` and loaded back, and must compute what Keras does.
COMPUTED = [
    ("avg_pool1d_same", (7, 2), lambda L: L.AveragePooling1D(3, 2, padding="same")),
    ("max_pool2d", (7, 7, 2), lambda L: L.MaxPooling2D(2)),
    ("flatten_channels_first", (3, 4, 5), lambda L: L.Flatten(data_format="channels_first")),
    ("cropping2d", (8, 9, 3), lambda L: L.Cropping2D(((1, 2), (0, 3)))),
    ("zero_padding2d", (4, 4, 2), lambda L: L.ZeroPadding2D(((1, 2), (0, 1)))),
    ("up_sampling2d", (3, 4, 2), lambda L: L.UpSampling2D((2, 3))),
    ("permute", (3, 4, 5), lambda L: L.Permute((3, 1, 2))),
    ("relu_full", (6,), lambda L: L.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5)),
    ("rescaling", (3,), lambda L: L.Rescaling(2.0, offset=-1.0)),
    ("global_avg2d", (3, 4, 2), lambda L: L.GlobalAveragePooling2D()),
]


@pytest.mark.torch
@pytest.mark.parametrize("shape, make", [c[1:] for c in COMPUTED], ids=[c[0] for c in COMPUTED])
def test_generated_pytorch_computes_what_keras_does(shape, make, tmp_path):
    import importlib.util

    import keras

    torch = import_torch()
    from generator.torch.writer import write_torch_package

    path = tmp_path / "model.keras"
    keras.Sequential([keras.Input(shape), make(keras.layers)]).save(path)
    model = keras.models.load_model(path)
    spec = importlib.util.spec_from_file_location(
        f"generated_{tmp_path.name}", write_torch_package(model, tmp_path / "torch")
    )
    generated = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generated)
    x = np.random.default_rng(0).normal(scale=4.0, size=(2, *shape)).astype("float32")
    channels_first = generated.INPUT_LAYOUTS[0] == "channels_first"
    with torch.no_grad():
        got = generated.load()(
            torch.from_numpy(np.moveaxis(x, -1, 1).copy() if channels_first else x)
        )
    got = got.numpy()
    if generated.OUTPUT_LAYOUTS[0] == "channels_first":
        got = np.moveaxis(got, 1, -1)
    np.testing.assert_allclose(got, np.asarray(model(x)), rtol=1e-5, atol=1e-5)
