"""Keras layer configs as the IR's normalised attributes: the one place a Keras config is read.

`keras_attrs` turns a layer's `get_config()` into the attributes `generator.model.graph`
documents: defaults filled in, windows as tuples, the layout named, the padding as numbers (with
TensorFlow's `same` rule applied here and nowhere else) and the activation split off.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from generator.model.activations import (
    ACTIVATION_LAYERS,
    LEAKY_RELU_LAYER_SLOPE,
    LayerActivation,
    activation_name,
)
from generator.model.graph import Shape

#: Config keys that say nothing about what a layer computes.
_NOISE = frozenset(
    {"name", "trainable", "dtype", "batch_input_shape", "batch_shape", "build_config", "seed"}
)
_NOISE_SUFFIXES = ("_initializer", "_regularizer", "_constraint")
_WINDOWS = ("kernel_size", "strides", "dilation_rate", "pool_size", "output_size")
#: Layers with a window sliding over spatial axes, whose padding becomes numbers.
_CONVOLUTIONS = re.compile(r"^(Conv|DepthwiseConv|SeparableConv)\dD(Transpose)?$")
_POOLINGS = re.compile(r"^(Max|Average)Pooling\dD$")


def spatial_rank_of(type_name: str) -> int | None:
    """The spatial rank in a class name (`Conv2DTranspose` -> 2), `None` where it has none."""
    found = re.search(r"(\d)D", type_name)
    return int(found.group(1)) if found else None


def same_padding(n: int | None, out: int | None, k: int, s: int, d: int) -> tuple[int, int]:
    """TensorFlow's `same` padding along one axis: what keeps `ceil(n / s)` outputs, the odd zero
    after the input. With stride 1 it does not depend on the length; otherwise `(0, 0)` where a
    length is unknown."""
    if s == 1:
        total = d * (k - 1)
    elif n is None or out is None:
        return (0, 0)
    else:
        total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return (total // 2, total - total // 2)


def window_pads(
    padding: str,
    inputs: list[int | None],
    outputs: list[int | None],
    kernel: tuple[int, ...],
    strides: tuple[int, ...],
    dilation: tuple[int, ...],
) -> tuple[tuple[int, int], ...]:
    """The zeros before and after the input along each spatial axis, for a Keras padding mode."""
    pads = []
    for n, out, k, s, d in zip(inputs, outputs, kernel, strides, dilation, strict=True):
        if padding == "causal":
            pads.append((d * (k - 1), 0))
        elif padding == "same":
            pads.append(same_padding(n, out, k, s, d))
        else:
            pads.append((0, 0))
    return tuple(pads)


def _ceil_div(n: int, s: int) -> int:
    return -(-n // s)


def _tuple(value: Any, rank: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * rank
    value = tuple(int(v) for v in value)
    return value if len(value) == rank else (value[0],) * rank


def _spatial(shape: Shape, rank: int, first: bool) -> list[int | None]:
    axes = range(2, 2 + rank) if first else range(1, 1 + rank)
    return [shape[a] for a in axes]


def _windows(type_name: str, attrs: dict[str, Any], shapes: tuple[Shape, Shape | None]) -> None:
    """Window sizes as tuples; a convolution's or pooling's padding as numbers."""
    rank = spatial_rank_of(type_name)
    if rank is None:
        return
    for key in _WINDOWS:
        if attrs.get(key) is not None:
            attrs[key] = _tuple(attrs[key], rank)
    convolution, pooling = _CONVOLUTIONS.match(type_name), _POOLINGS.match(type_name)
    if not (convolution or pooling):
        return
    if pooling:
        attrs["strides"] = attrs.get("strides") or attrs["pool_size"]
        kernel = attrs["pool_size"]
    else:
        kernel = attrs["kernel_size"]
        attrs.setdefault("strides", (1,) * rank)
        attrs.setdefault("groups", 1)
        attrs.setdefault("use_bias", True)
    attrs.setdefault("dilation_rate", (1,) * rank)
    attrs.setdefault("padding", "valid")
    first = attrs["layout"] == "channels_first"
    inputs = _spatial(shapes[0], rank, first)
    if shapes[1] is not None:
        outputs = _spatial(shapes[1], rank, first)
    else:  # a wrapped layer: what `same` keeps, as Keras computes it
        scale = (lambda n, s: n * s) if type_name.endswith("Transpose") else _ceil_div
        strides = attrs["strides"]
        outputs = [None if n is None else scale(n, s) for n, s in zip(inputs, strides, strict=True)]
    if type_name.endswith("Transpose"):  # the forward convolution runs from output to input
        inputs, outputs = outputs, inputs
    attrs["pads"] = window_pads(
        attrs["padding"], inputs, outputs, kernel, attrs["strides"], attrs["dilation_rate"]
    )


def keras_attrs(
    type_name: str,
    config: dict[str, Any],
    input_shape: Shape | None = None,
    output_shape: Shape | None = None,
    inner: Callable[[dict[str, Any]], Any] | None = None,
) -> dict[str, Any]:
    """A Keras layer's config as the IR's attributes.

    Args:
        type_name: the layer's class name.
        config: its `get_config()`, plain (lists, dicts).
        input_shape, output_shape: the call's first input and output shapes (for the padding).
        inner: describes a wrapper's serialized inner layer as a `LayerRecord`.
    """
    attrs = {
        key: value
        for key, value in config.items()
        if key not in _NOISE and not key.endswith(_NOISE_SUFFIXES)
    }
    attrs["layout"] = attrs.pop("data_format", None) or "channels_last"
    if input_shape is not None:
        _windows(type_name, attrs, (input_shape, output_shape))
    if type_name == "Dense":
        attrs.setdefault("use_bias", True)
    activation = config_activation(type_name, config)
    if activation is not None or "activation" in config or type_name in ACTIVATION_LAYERS:
        attrs["activation"] = activation
    if "recurrent_activation" in config:
        attrs["recurrent_activation"] = LayerActivation(
            activation_name(config["recurrent_activation"])
        )
    for key in ("layer", "backward_layer"):
        if isinstance(attrs.get(key), dict) and inner is not None:
            attrs[key] = inner(attrs[key])
    return attrs


def config_activation(
    type_name: str, config: dict[str, Any], key: str = "activation"
) -> LayerActivation | None:
    """The activation a Keras layer applies after its own computation, from its config.

    The fused `activation=` of a layer's config (`key`: another config entry, such as a recurrent
    layer's `recurrent_activation`), or what an activation layer computes. `None` for an
    activation layer that is no row of the table: a ReLU with a threshold, or capped at another
    value than 6 or with a slope; a softmax over several axes. The rest of the generator reads it
    from the IR (`generator.model.activations.layer_activation`).
    """
    if type_name == "ReLU":
        slope, top = float(config.get("negative_slope") or 0.0), config.get("max_value")
        if float(config.get("threshold") or 0.0) != 0.0:
            return None
        if top is None:
            if slope:
                return LayerActivation("leaky_relu", (("negative_slope", slope),))
            return LayerActivation("relu")
        return LayerActivation("relu6") if float(top) == 6.0 and not slope else None
    if type_name == "LeakyReLU":
        slope = config.get("negative_slope", config.get("alpha", LEAKY_RELU_LAYER_SLOPE))
        return LayerActivation("leaky_relu", (("negative_slope", float(slope)),))
    if type_name == "ELU":
        return LayerActivation("elu", (("alpha", float(config.get("alpha", 1.0))),))
    if type_name == "PReLU":
        return LayerActivation("leaky_relu", (("negative_slope", "alpha"),))
    if type_name == "Softmax":
        axis = config.get("axis", -1)
        if isinstance(axis, list):
            if len(axis) != 1:
                return None
            axis = axis[0]
        return LayerActivation("softmax", (("axis", int(axis)),))
    return LayerActivation(activation_name(config.get(key)))
