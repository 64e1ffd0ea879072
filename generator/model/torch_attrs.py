"""ATen calls as the IR's layer types and attributes: the one place exported ATen ops are read.

A PyTorch module's constructor arguments are not in a `torch.export` archive; what is there is the
ATen call the module made (`aten.conv2d.default(x, weight, bias, [1, 1], [1, 1])`). Each
translator here reads one such call, with the schema's defaults filled in, and returns the Keras
class name that keys the handlers, the normalised attributes `generator.model.graph` documents,
the weights in Keras's layout, and a readable constructor line (`nn.Conv2d(3, 8, kernel_size=3,
padding=1)`). Recurrent layers and attention are in `generator.model.torch_layers`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generator.model.activations import LayerActivation

#: ATen ops that move no number a layer computes: skipped when finding a module's main op.
PLUMBING = frozenset(
    {"getitem", "zeros", "zeros_like", "contiguous", "clone", "alias", "detach", "lift_fresh_copy"}
)
#: Ops whose output is their input at inference (a functional `F.dropout(x, training=False)`).
PASS_THROUGH = frozenset({"contiguous", "clone", "alias", "detach", "dropout", "feature_dropout"})


@dataclass(frozen=True)
class Weight:
    """A weight in Keras's layout: its name below the layer, role, whether it trains, and how to
    make its array from the module's tensors (`None`: read lazily, never when not asked)."""

    name: str
    array: Callable[[], Any]
    shape: tuple[int, ...]
    trainable: bool = True
    role: str = ""


@dataclass
class Translation:
    """What one call is in the IR's vocabulary."""

    type: str
    attrs: dict[str, Any]
    code: str
    weights: list[Weight] = field(default_factory=list)
    inputs: list[Any] | None = None  # the tensor nodes the call reads, when not the default
    output_names: tuple[str, ...] = ()


def arguments(node: Any) -> dict[str, Any]:
    """The ATen call's arguments by schema name, with the schema's defaults filled in."""
    schema = node.target._schema
    values: dict[str, Any] = {}
    for i, arg in enumerate(schema.arguments):
        if i < len(node.args):
            values[arg.name] = node.args[i]
        elif arg.name in node.kwargs:
            values[arg.name] = node.kwargs[arg.name]
        else:
            values[arg.name] = arg.default_value if arg.has_default_value() else None
    return values


def op_name(node: Any) -> str:
    """`conv2d` for `aten.conv2d.padding`, `getitem` for `operator.getitem`."""
    if node.op != "call_function":
        return node.op
    if hasattr(node.target, "_schema"):
        return node.target._schema.name.split("::")[-1]
    return getattr(node.target, "__name__", str(node.target))


def aten_target(node: Any) -> str:
    """The call's target as the archive names it: `aten.cumsum.default`."""
    return str(node.target)


def shape_of(node: Any) -> tuple[int, ...]:
    val = node.meta.get("val")
    return tuple(int(d) for d in val.shape) if hasattr(val, "shape") else ()


def _ints(value: Any, rank: int, default: int) -> tuple[int, ...]:
    if value is None or (isinstance(value, list | tuple) and not value):
        return (default,) * rank
    if isinstance(value, int):
        return (value,) * rank
    value = tuple(int(v) for v in value)
    return value if len(value) == rank else (value[0],) * rank


def _shown(value: tuple[int, ...]) -> str:
    """`3` when every axis has the same value, else `(3, 5)`, as one writes a constructor."""
    return str(value[0]) if len(set(value)) == 1 else str(tuple(value))


def _keyword(name: str, value: tuple[int, ...], default: int) -> list[str]:
    return [] if all(v == default for v in value) else [f"{name}={_shown(value)}"]


def _padding_mode(pads: tuple[tuple[int, int], ...]) -> str:
    return "valid" if all(p == (0, 0) for p in pads) else "explicit"


def same_pads(kernel, dilation) -> tuple[tuple[int, int], ...]:
    """PyTorch's `padding="same"`: `d (k - 1)` zeros per axis, the odd one after the input."""
    return tuple(
        (d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
        for k, d in zip(kernel, dilation, strict=True)
    )


def pad_pairs(flat: list[int], rank: int) -> tuple[tuple[int, int], ...]:
    """`F.pad`'s list (last axis first: `[w0, w1, h0, h1]`) as `(before, after)` per axis."""
    flat = list(flat) + [0] * (2 * rank - len(flat))
    pairs = [(flat[2 * i], flat[2 * i + 1]) for i in range(rank)]
    return tuple(reversed(pairs))


_PAD_MODES = {"reflection": "reflect", "replication": "replicate", "circular": "circular"}


def convolution(call: Any) -> Translation:
    """`aten.conv{1,2,3}d` (with its module's `aten.pad` for a padding mode) as `Conv{n}D`."""
    args = arguments(call.main)
    weight = call.tensor(args["weight"])
    rank = len(weight.shape) - 2
    c_out, per_group = int(weight.shape[0]), int(weight.shape[1])
    kernel = tuple(int(k) for k in weight.shape[2:])
    strides = _ints(args["stride"], rank, 1)
    dilation = _ints(args["dilation"], rank, 1)
    groups = int(args["groups"] or 1)
    padding = args["padding"]
    shown_padding: list[str] = []
    if isinstance(padding, str):
        pads = same_pads(kernel, dilation) if padding == "same" else ((0, 0),) * rank
        shown_padding = [f'padding="{padding}"'] if padding == "same" else []
    else:
        numbers = _ints(padding, rank, 0)
        pads = tuple((p, p) for p in numbers)
        shown_padding = _keyword("padding", numbers, 0)
    mode, inputs = "zeros", None
    pad = call.first("pad", "reflection_pad1d", "reflection_pad2d", "reflection_pad3d")
    pad = pad or call.first("replication_pad1d", "replication_pad2d", "replication_pad3d")
    pad = pad or call.first("circular_pad1d", "circular_pad2d", "circular_pad3d")
    if pad is not None:
        pad_args = arguments(pad)
        pads = pad_pairs(pad_args["pad"] if "pad" in pad_args else pad_args["padding"], rank)
        mode = pad_args.get("mode") or _PAD_MODES[op_name(pad).split("_pad")[0]]
        shown_padding = [f"padding={_shown(tuple(p for p, _ in pads))}"]
        inputs = [pad.args[0]]
    bias = args["bias"] is not None
    attrs = {
        "filters": c_out,
        "kernel_size": kernel,
        "strides": strides,
        "dilation_rate": dilation,
        "groups": groups,
        "use_bias": bias,
        "layout": "channels_first",
        "padding": _padding_mode(pads),
        "pads": pads,
        "padding_mode": mode,
        "activation": LayerActivation(),
    }
    order = (*range(2, 2 + rank), 1, 0)  # (c_out, c_in/g, k...) -> (k..., c_in/g, c_out)
    weights = [call.weight("kernel", args["weight"], lambda w: w.permute(*order))]
    if bias:
        weights.append(call.weight("bias", args["bias"]))
    code = ", ".join(
        [str(per_group * groups), str(c_out), f"kernel_size={_shown(kernel)}"]
        + _keyword("stride", strides, 1)
        + shown_padding
        + _keyword("dilation", dilation, 1)
        + ([f"groups={groups}"] if groups > 1 else [])
        + ([] if bias else ["bias=False"])
        + ([f'padding_mode="{mode}"'] if mode != "zeros" else [])
    )
    return Translation(f"Conv{rank}D", attrs, f"nn.Conv{rank}d({code})", weights, inputs)


def transposed_convolution(call: Any) -> Translation | None:
    """`aten.conv_transpose{n}d` as `Conv{n}DTranspose`; `None` (opaque) with groups."""
    args = arguments(call.main)
    weight = call.tensor(args["weight"])
    rank = len(weight.shape) - 2
    groups = int(args["groups"] or 1)
    if groups > 1:
        return None
    c_in, c_out = int(weight.shape[0]), int(weight.shape[1])
    kernel = tuple(int(k) for k in weight.shape[2:])
    strides = _ints(args["stride"], rank, 1)
    numbers = _ints(args["padding"], rank, 0)
    output_padding = _ints(args["output_padding"], rank, 0)
    dilation = _ints(args["dilation"], rank, 1)
    pads = tuple((p, p) for p in numbers)
    bias = args["bias"] is not None
    attrs = {
        "filters": c_out,
        "kernel_size": kernel,
        "strides": strides,
        "dilation_rate": dilation,
        "output_padding": output_padding,
        "groups": 1,
        "use_bias": bias,
        "layout": "channels_first",
        "padding": _padding_mode(pads),
        "pads": pads,
        "activation": LayerActivation(),
    }
    order = (*range(2, 2 + rank), 1, 0)  # (c_in, c_out, k...) -> (k..., c_out, c_in)
    weights = [call.weight("kernel", args["weight"], lambda w: w.permute(*order))]
    if bias:
        weights.append(call.weight("bias", args["bias"]))
    code = ", ".join(
        [str(c_in), str(c_out), f"kernel_size={_shown(kernel)}"]
        + _keyword("stride", strides, 1)
        + _keyword("padding", numbers, 0)
        + _keyword("output_padding", output_padding, 0)
        + _keyword("dilation", dilation, 1)
        + ([] if bias else ["bias=False"])
    )
    return Translation(f"Conv{rank}DTranspose", attrs, f"nn.ConvTranspose{rank}d({code})", weights)


def linear(call: Any) -> Translation:
    args = arguments(call.main)
    weight = call.tensor(args["weight"])
    units, n_in = int(weight.shape[0]), int(weight.shape[1])
    bias = args["bias"] is not None
    weights = [call.weight("kernel", args["weight"], lambda w: w.T)]
    if bias:
        weights.append(call.weight("bias", args["bias"]))
    attrs = {
        "units": units,
        "use_bias": bias,
        "activation": LayerActivation(),
        "layout": "channels_last",
    }
    code = f"nn.Linear({n_in}, {units}{'' if bias else ', bias=False'})"
    return Translation("Dense", attrs, code, weights)


def pooling(call: Any) -> Translation:
    """`aten.max_pool{n}d` / `aten.avg_pool{n}d` as `MaxPooling{n}D` / `AveragePooling{n}D`."""
    node, args = call.main, arguments(call.main)
    name = op_name(node)
    rank = int(name[-2])
    size = _ints(args["kernel_size"], rank, 1)
    strides = _ints(args["stride"], rank, 0)
    strides = size if not any(strides) else strides
    numbers = _ints(args["padding"], rank, 0)
    pads = tuple((p, p) for p in numbers)
    ceil = bool(args["ceil_mode"])
    attrs: dict[str, Any] = {
        "pool_size": size,
        "strides": strides,
        "pads": pads,
        "padding": _padding_mode(pads),
        "ceil_mode": ceil,
        "layout": "channels_first",
    }
    shown = [_shown(size)] + ([] if strides == size else [f"stride={_shown(strides)}"])
    shown += _keyword("padding", numbers, 0)
    if name.startswith("max"):
        dilation = _ints(args.get("dilation"), rank, 1)
        attrs["dilation_rate"] = dilation
        shown += _keyword("dilation", dilation, 1) + (["ceil_mode=True"] if ceil else [])
        kind, module = "MaxPooling", "MaxPool"
    else:
        attrs["count_include_pad"] = bool(args["count_include_pad"])
        shown += ["ceil_mode=True"] if ceil else []
        shown += [] if attrs["count_include_pad"] else ["count_include_pad=False"]
        kind, module = "AveragePooling", "AvgPool"
    return Translation(f"{kind}{rank}D", attrs, f"nn.{module}{rank}d({', '.join(shown)})")


def adaptive_pooling(call: Any) -> Translation:
    """Adaptive pooling: to one position a global pooling (kept dims), else its own type."""
    name = op_name(call.main)
    rank = int(name.split("pool")[1][0])
    output = _ints(arguments(call.main)["output_size"], rank, 1)
    kind, module = ("Max", "AdaptiveMaxPool") if "max" in name else ("Average", "AdaptiveAvgPool")
    code = f"nn.{module}{rank}d({_shown(output)})"
    if all(o == 1 for o in output):
        attrs = {"keepdims": True, "layout": "channels_first"}
        return Translation(f"Global{kind}Pooling{rank}D", attrs, code)
    attrs = {"output_size": output, "layout": "channels_first"}
    return Translation(f"Adaptive{kind}Pooling{rank}D", attrs, code)


def _scale_shift(call: Any, args: dict[str, Any], scale: bool, center: bool) -> list:
    """A normalization's learned scale `gamma` (PyTorch's `weight`) and shift `beta` (`bias`),
    where it has them."""
    weights = []
    if scale:
        weights.append(call.weight("gamma", args["weight"]))
    if center:
        weights.append(call.weight("beta", args["bias"]))
    return weights


def batch_norm(call: Any) -> Translation:
    """`aten.batch_norm` at inference. Keras's `momentum` is PyTorch's `1 - momentum`."""
    args = arguments(call.main)
    c = shape_of(call.main)[1]
    scale, center = args["weight"] is not None, args["bias"] is not None
    momentum = float(args["momentum"]) if args["momentum"] is not None else 0.1
    attrs = {
        "axis": 1,
        "epsilon": float(args["eps"]),
        "momentum": 1.0 - momentum,
        "center": center,
        "scale": scale,
        "layout": "channels_first",
    }
    weights = _scale_shift(call, args, scale, center)
    weights.append(call.weight("moving_mean", args["running_mean"], trainable=False))
    weights.append(call.weight("moving_variance", args["running_var"], trainable=False))
    rank = len(shape_of(call.main)) - 2
    shown = [str(c)] + ([f"eps={args['eps']!r}"] if args["eps"] != 1e-5 else [])
    shown += [] if momentum == 0.1 else [f"momentum={momentum!r}"]
    shown += [] if scale else ["affine=False"]
    return Translation(
        "BatchNormalization", attrs, f"nn.BatchNorm{max(rank, 1)}d({', '.join(shown)})", weights
    )


def layer_norm(call: Any) -> Translation:
    args = arguments(call.main)
    rank = len(shape_of(call.main))
    normalized = [int(d) for d in args["normalized_shape"]]
    scale, center = args["weight"] is not None, args["bias"] is not None
    attrs = {
        "axis": list(range(rank - len(normalized), rank)),
        "epsilon": float(args["eps"]),
        "center": center,
        "scale": scale,
        "rms_scaling": False,
        "layout": "channels_last",
    }
    weights = _scale_shift(call, args, scale, center)
    shown = [str(normalized[0]) if len(normalized) == 1 else str(tuple(normalized))]
    shown += [f"eps={args['eps']!r}"] if args["eps"] != 1e-5 else []
    shown += [] if scale else ["elementwise_affine=False"]
    shown += [] if center or not scale else ["bias=False"]
    return Translation("LayerNormalization", attrs, f"nn.LayerNorm({', '.join(shown)})", weights)


def rms_norm(call: Any) -> Translation:
    """`nn.RMSNorm`: Keras's RMSNormalization over the last axes; with `eps=None` PyTorch uses
    float32's machine epsilon, written out here."""
    args = arguments(call.main)
    rank = len(shape_of(call.main))
    normalized = [int(d) for d in args["normalized_shape"]]
    eps = args.get("eps")
    attrs = {
        "axis": list(range(rank - len(normalized), rank)),
        "epsilon": float(eps) if eps is not None else float(np.finfo(np.float32).eps),
        "scale": args.get("weight") is not None,  # elementwise_affine
        "layout": "channels_last",
    }
    weights = [call.weight("scale", args["weight"])] if attrs["scale"] else []
    shown = [str(normalized[0]) if len(normalized) == 1 else str(tuple(normalized))]
    shown += [f"eps={eps!r}"] if eps is not None else []
    return Translation("RMSNormalization", attrs, f"nn.RMSNorm({', '.join(shown)})", weights)


def group_norm(call: Any) -> Translation:
    args = arguments(call.main)
    c = shape_of(call.main)[1]
    scale, center = args["weight"] is not None, args["bias"] is not None
    attrs = {
        "groups": int(args["num_groups"]),
        "axis": 1,
        "epsilon": float(args["eps"]),
        "center": center,
        "scale": scale,
        "layout": "channels_first",
    }
    weights = _scale_shift(call, args, scale, center)
    shown = [str(attrs["groups"]), str(c)] + ([] if scale else ["affine=False"])
    return Translation("GroupNormalization", attrs, f"nn.GroupNorm({', '.join(shown)})", weights)


def embedding(call: Any) -> Translation:
    args = arguments(call.main)
    table = call.tensor(args["weight"])
    attrs = {
        "input_dim": int(table.shape[0]),
        "output_dim": int(table.shape[1]),
        "mask_zero": False,
        "layout": "channels_last",
    }
    code = f"nn.Embedding({attrs['input_dim']}, {attrs['output_dim']})"
    weights = [call.weight("embeddings", args["weight"])]
    return Translation("Embedding", attrs, code, weights, inputs=[args["indices"]])


def dropout(call: Any) -> Translation:
    rate = float(arguments(call.main)["p"])
    return Translation("Dropout", {"rate": rate, "layout": "channels_last"}, f"nn.Dropout({rate})")


#: Elementwise ATen activations: the activation table's row and the module that calls it.
ELEMENTWISE = {
    "sigmoid": ("sigmoid", "nn.Sigmoid()"),
    "tanh": ("tanh", "nn.Tanh()"),
    "silu": ("silu", "nn.SiLU()"),
    "hardswish": ("hard_silu", "nn.Hardswish()"),
    "hardsigmoid": ("hard_sigmoid", "nn.Hardsigmoid()"),
    "mish": ("mish", "nn.Mish()"),
    "selu": ("selu", "nn.SELU()"),
    "relu6": ("relu6", "nn.ReLU6()"),
    "exp": ("exponential", "torch.exp"),
}


def activation(call: Any) -> Translation | None:
    """An activation module or function; `None` for parameters no table row has."""
    node = call.main
    name = op_name(node).rstrip("_")
    args = arguments(node)
    if name == "relu":
        return Translation("ReLU", {"activation": LayerActivation("relu")}, "nn.ReLU()")
    if name == "leaky_relu":
        slope = float(args["negative_slope"])
        act = LayerActivation("leaky_relu", (("negative_slope", slope),))
        attrs = {"negative_slope": slope, "activation": act}
        return Translation("LeakyReLU", attrs, f"nn.LeakyReLU({slope!r})")
    if name == "elu":
        if float(args["scale"]) != 1.0 or float(args["input_scale"]) != 1.0:
            return None
        alpha = float(args["alpha"])
        act = LayerActivation("elu", (("alpha", alpha),))
        return Translation("ELU", {"alpha": alpha, "activation": act}, f"nn.ELU({alpha!r})")
    if name == "hardtanh" and (float(args["min_val"]), float(args["max_val"])) == (0.0, 6.0):
        attrs = {"max_value": 6.0, "activation": LayerActivation("relu6")}
        return Translation("ReLU", attrs, "nn.ReLU6()")
    if name == "gelu":
        row = "gelu_tanh" if args["approximate"] == "tanh" else "gelu"
        shown = 'nn.GELU(approximate="tanh")' if row == "gelu_tanh" else "nn.GELU()"
        return Translation("Activation", {"activation": LayerActivation(row)}, shown)
    if name == "softplus":
        if float(args["beta"]) != 1.0:
            return None
        return Translation(
            "Activation", {"activation": LayerActivation("softplus")}, "nn.Softplus()"
        )
    if name in ("softmax", "_softmax", "log_softmax", "_log_softmax"):
        rank = len(shape_of(node))
        axis = int(args["dim"]) % rank
        if "log" in name:
            if axis != rank - 1:
                return None
            act = LayerActivation("log_softmax")
            return Translation("Activation", {"activation": act}, f"nn.LogSoftmax(dim={axis})")
        act = LayerActivation("softmax", (("axis", axis),))
        return Translation("Softmax", {"axis": axis, "activation": act}, f"nn.Softmax(dim={axis})")
    if name in ELEMENTWISE:
        row, shown = ELEMENTWISE[name]
        return Translation("Activation", {"activation": LayerActivation(row)}, shown)
    return None


TRANSLATORS: dict[str, Callable[[Any], Translation | None]] = {
    **{f"conv{n}d": convolution for n in (1, 2, 3)},
    **{f"conv_transpose{n}d": transposed_convolution for n in (1, 2, 3)},
    "linear": linear,
    **{f"{k}_pool{n}d": pooling for k in ("max", "avg") for n in (1, 2, 3)},
    **{f"adaptive_{k}_pool{n}d": adaptive_pooling for k in ("max", "avg") for n in (1, 2, 3)},
    "batch_norm": batch_norm,
    "_native_batch_norm_legit_no_training": batch_norm,
    "layer_norm": layer_norm,
    "rms_norm": rms_norm,
    "group_norm": group_norm,
    "embedding": embedding,
    "dropout": dropout,
    "feature_dropout": dropout,
    **{
        name: activation
        for name in (
            "relu", "relu_", "leaky_relu", "leaky_relu_", "elu", "elu_", "hardtanh", "hardtanh_",
            "gelu", "softplus", "softmax", "_softmax", "log_softmax", "_log_softmax",
            *ELEMENTWISE, *(f"{n}_" for n in ELEMENTWISE),
        )
    },
}  # fmt: skip
