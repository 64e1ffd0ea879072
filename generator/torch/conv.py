"""PyTorch translations of convolutions (plain, grouped, depthwise, separable, transposed) and
pooling."""

from __future__ import annotations

import numpy as np

from generator.layers.common import as_tuple, spatial_rank
from generator.torch.registry import (
    CF,
    CL,
    LayerContext,
    Result,
    activate,
    int_arg,
    spatial_dims,
    translation,
)

AVG_POOL_SAME = '''\
def avg_pool_same(x, kernel_size, stride, pads):
    """Keras's average pooling with padding="same", where the end gets more padding than the
    start: pad, pool, and divide by how many real inputs each window saw."""
    pool = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[x.dim() - 3]
    ones = F.pad(torch.ones_like(x[:1, :1]), pads)
    return pool(F.pad(x, pads), kernel_size, stride) / pool(ones, kernel_size, stride)
'''


def _window(
    ctx: LayerContext, n: int, size_key: str = "kernel_size", stride_key: str = "strides"
) -> tuple[tuple[int, ...], ...]:
    if ctx.attrs["layout"] == "channels_first":
        raise ctx.error("reads channels-first data; only Keras's default channels_last translates")
    kernel = as_tuple(ctx.attrs[size_key], n)
    strides = ctx.attrs.get(stride_key)
    strides = kernel if strides is None else as_tuple(strides, n)
    dilation = as_tuple(ctx.attrs.get("dilation_rate", 1), n)
    return kernel, strides, dilation


def _f_pad(x: str, pairs: list[tuple[int, int]], value: str = "") -> str:
    pads = ", ".join(f"{a}, {b}" for a, b in reversed(pairs))  # F.pad lists the last axis first
    return f"F.pad({x}, ({pads}){value})"


def _padded(ctx: LayerContext, kernel, strides, dilation, pad_value: str = ""):
    """The input expression (explicitly padded where needed), the module's `padding` argument,
    and the pads when they are asymmetric."""
    padding = ctx.attrs["padding"]
    x = ctx.input(0, CF)
    pairs = [tuple(pair) for pair in ctx.attrs["pads"]]
    if not any(a or b for a, b in pairs):
        if padding == "same" and any(s != 1 for s in strides):
            if any(size is None for size in ctx.value().shape[1:-1]):
                raise ctx.error("pads 'same' with strides over an axis of unknown length")
        return x, "", None
    if padding == "causal":
        return _f_pad(x, pairs), "", None
    if padding == "same" and all(s == 1 for s in strides):
        # With stride 1 the padding does not depend on the input's length.
        if all(a == b for a, b in pairs) and not pad_value:
            return x, ', padding="same"', None
    if all(a == b for a, b in pairs):
        befores = [a for a, _ in pairs]
        return x, (f", padding={int_arg(befores)}" if any(befores) else ""), None
    # PyTorch pads both ends alike; TensorFlow puts the odd one at the end: pad explicitly.
    return _f_pad(x, pairs, pad_value), "", pairs


def _options(strides, dilation, kernel=None) -> str:
    text = ""
    if any(s != 1 for s in strides) and strides != kernel:
        text += f", stride={int_arg(strides)}"
    if any(d != 1 for d in dilation):
        text += f", dilation={int_arg(dilation)}"
    return text


def _torch_kernel(kernel: np.ndarray) -> np.ndarray:
    """Keras's (*window, a, b) kernel as PyTorch's (b, a, *window)."""
    n = kernel.ndim - 2
    return np.ascontiguousarray(kernel.transpose(n + 1, n, *range(n)))


def _finish(ctx: LayerContext, expr: str) -> Result:
    rank = ctx.value().rank
    return Result(activate(ctx, expr, rank, CF), CF)


@translation("Conv1D", "Conv2D", "Conv3D", wants=CF)
def conv(ctx: LayerContext) -> Result:
    n = spatial_rank(ctx.record)
    kernel, strides, dilation = _window(ctx, n)
    x, padding, _ = _padded(ctx, kernel, strides, dilation)
    cin, cout = int(ctx.value().shape[-1]), int(ctx.attrs["filters"])
    groups = int(ctx.attrs.get("groups", 1))
    state = {"weight": _torch_kernel(ctx.weight("kernel"))}
    extra = padding + _options(strides, dilation) + (f", groups={groups}" if groups > 1 else "")
    if ctx.attrs.get("use_bias", True):
        state["bias"] = ctx.weight("bias")
    else:
        extra += ", bias=False"
    layer = ctx.module(
        f"nn.Conv{n}d(in_channels={cin}, out_channels={cout}, "
        f"kernel_size={int_arg(kernel)}{extra})",
        **state,
    )
    return _finish(ctx, f"{layer}({x})")


@translation("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", wants=CF)
def conv_transpose(ctx: LayerContext) -> Result:
    n = spatial_rank(ctx.record)
    kernel, strides, dilation = _window(ctx, n)
    sizes, outs = ctx.value().shape[1:-1], ctx.record.output_shape[1:-1]
    same = ctx.attrs.get("padding", "valid") == "same"
    paddings, extras, slices = [], [], []
    for size, out, k, s, d in zip(sizes, outs, kernel, strides, dilation, strict=True):
        full = (size - 1) * s + (k - 1) * d + 1  # every position any input reaches
        before = max(full - out, 0) // 2 if same else 0  # Keras's output starts here in `full`
        end = full - before - out  # and leaves this much of `full` at the end
        p = min(before, max(end, 0))  # PyTorch crops `p` from both ends
        extra = max(0, before + out - (full - p))  # and can add up to max(s, d) - 1 at the end
        if extra >= max(s, d):
            raise ctx.error("needs more output padding than PyTorch allows")
        start = before - p
        paddings.append(p)
        extras.append(extra)
        length = full - 2 * p + extra
        if start == 0 and length == out:
            slices.append(":")
        else:
            slices.append(f"{start or ''}:{start + out}")
    cin, cout = int(ctx.value().shape[-1]), int(ctx.attrs["filters"])
    options = _options(strides, dilation)
    if any(paddings):
        options += f", padding={int_arg(paddings)}"
    if any(extras):
        options += f", output_padding={int_arg(extras)}"
    state = {"weight": _torch_kernel(ctx.weight("kernel"))}
    if ctx.attrs.get("use_bias", True):
        state["bias"] = ctx.weight("bias")
    else:
        options += ", bias=False"
    layer = ctx.module(
        f"nn.ConvTranspose{n}d(in_channels={cin}, out_channels={cout}, "
        f"kernel_size={int_arg(kernel)}{options})",
        **state,
    )
    expr = f"{layer}({ctx.input(0, CF)})"
    if any(s != ":" for s in slices):
        # Keras keeps one more row at the start than PyTorch's symmetric cropping would.
        expr += f"[:, :, {', '.join(slices)}]"
    return _finish(ctx, expr)


def _depthwise_module(
    ctx: LayerContext, n: int, kernel_array: np.ndarray, padding: str, options: str, bias: bool
) -> tuple[str, np.ndarray]:
    """`nn.ConvNd(c, c * m, groups=c)` and its weight from Keras's (*window, c, m) kernel."""
    window, (cin, multiplier) = kernel_array.shape[:-2], kernel_array.shape[-2:]
    kernel = as_tuple(list(window), n)
    # Keras's output channel c * m + j is PyTorch's too: flatten (c, m) in that order.
    weight = kernel_array.reshape(*window, cin * multiplier).transpose(n, *range(n))
    constructor = (
        f"nn.Conv{n}d(in_channels={cin}, out_channels={cin * multiplier}, "
        f"kernel_size={int_arg(kernel)}{padding}{options}, groups={cin}"
        + ("" if bias else ", bias=False")
        + ")"
    )
    return constructor, np.ascontiguousarray(weight[:, None])


@translation("DepthwiseConv1D", "DepthwiseConv2D", wants=CF)
def depthwise_conv(ctx: LayerContext) -> Result:
    n = spatial_rank(ctx.record)
    kernel, strides, dilation = _window(ctx, n)
    x, padding, _ = _padded(ctx, kernel, strides, dilation)
    use_bias = ctx.attrs.get("use_bias", True)
    constructor, weight = _depthwise_module(
        ctx, n, ctx.weight("kernel"), padding, _options(strides, dilation), use_bias
    )
    state = {"weight": weight}
    if use_bias:
        state["bias"] = ctx.weight("bias")
    layer = ctx.module(constructor, **state)
    return _finish(ctx, f"{layer}({x})")


@translation("SeparableConv1D", "SeparableConv2D", wants=CF)
def separable_conv(ctx: LayerContext) -> Result:
    n = spatial_rank(ctx.record)
    kernel, strides, dilation = _window(ctx, n)
    x, padding, _ = _padded(ctx, kernel, strides, dilation)
    depthwise, weight = _depthwise_module(
        ctx, n, ctx.weight("depthwise_kernel"), padding, _options(strides, dilation), bias=False
    )
    pointwise = _torch_kernel(ctx.weight("pointwise_kernel"))
    cmid, cout = pointwise.shape[1], pointwise.shape[0]
    state = {"0.weight": weight, "1.weight": pointwise}
    bias = ""
    if ctx.attrs.get("use_bias", True):
        state["1.bias"] = ctx.weight("bias")
    else:
        bias = ", bias=False"
    layer = ctx.module(
        f"nn.Sequential(\n    {depthwise},\n"
        f"    nn.Conv{n}d(in_channels={cmid}, out_channels={cout}, kernel_size=1{bias}),\n)",
        **state,
    )
    return _finish(ctx, f"{layer}({x})")


@translation(
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    wants=CF,
)
def pooling(ctx: LayerContext) -> Result:
    n = spatial_rank(ctx.record)
    kernel, strides, _ = _window(ctx, n, "pool_size")
    is_max = ctx.record.type.startswith("Max")
    x, padding, pairs = _padded(
        ctx, kernel, strides, (1,) * n, pad_value=', value=float("-inf")' if is_max else ", 0"
    )
    stride = f", stride={int_arg(strides)}" if strides != kernel else ""
    if is_max:
        layer = ctx.module(f"nn.MaxPool{n}d(kernel_size={int_arg(kernel)}{stride}{padding})")
        return Result(f"{layer}({x})", CF)
    if pairs is not None:
        ctx.use_helper(AVG_POOL_SAME)
        pads = ", ".join(f"{a}, {b}" for a, b in reversed(pairs))
        return Result(
            f"avg_pool_same({ctx.input(0, CF)}, kernel_size={int_arg(kernel)}, "
            f"stride={int_arg(strides)}, pads=({pads}))",
            CF,
        )
    # Keras averages only over real inputs at the borders.
    exclude = ", count_include_pad=False" if padding else ""
    layer = ctx.module(f"nn.AvgPool{n}d(kernel_size={int_arg(kernel)}{stride}{padding}{exclude})")
    return Result(f"{layer}({x})", CF)


@translation(
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
)
def global_pooling(ctx: LayerContext) -> Result:
    value = ctx.value()
    if ctx.attrs["layout"] == "channels_first":
        raise ctx.error("reads channels-first data; only Keras's default channels_last translates")
    dims = spatial_dims(value)
    dim = str(dims[0]) if len(dims) == 1 else f"({', '.join(str(d) for d in dims)})"
    keep = bool(ctx.attrs.get("keepdims", False))
    function = "mean" if "Average" in ctx.record.type else "amax"
    expr = f"{value.expr}.{function}(dim={dim}" + (", keepdim=True)" if keep else ")")
    return Result(expr, value.layout if keep else CL)
