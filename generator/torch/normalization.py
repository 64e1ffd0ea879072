"""PyTorch translations of the normalization layers: batch, layer, RMS, group, unit, fixed."""

from __future__ import annotations

import numpy as np

from generator.torch.registry import CF, CL, LayerContext, Result, torch_dim, translation


def _axes(ctx: LayerContext, rank: int) -> list[int]:
    axis = ctx.attrs.get("axis", -1)
    if axis is None:
        raise ctx.error("normalizes over every axis at once (axis=None)")
    axes = axis if isinstance(axis, list) else [axis]
    return sorted(int(a) % rank for a in axes)


@translation("BatchNormalization", wants=CF)
def batch_normalization(ctx: LayerContext) -> Result:
    value = ctx.value()
    rank = value.rank
    if _axes(ctx, rank) != [rank - 1]:
        raise ctx.error("normalizes an axis other than the last (channels)")
    if ctx.attrs.get("renorm"):
        raise ctx.error("uses batch renormalization")
    channels = int(value.shape[-1])
    kind = {2: "1d", 3: "1d", 4: "2d", 5: "3d"}.get(rank)
    if kind is None:
        raise ctx.error(f"normalizes a rank-{rank} tensor")
    eps = float(ctx.attrs.get("epsilon", 1e-3))
    # PyTorch's running average keeps `1 - momentum` of the old value, Keras's keeps `momentum`.
    momentum = round(1.0 - float(ctx.attrs.get("momentum", 0.99)), 10)
    center, scale = ctx.attrs.get("center", True), ctx.attrs.get("scale", True)
    state = {
        "running_mean": ctx.weight("moving_mean"),
        "running_var": ctx.weight("moving_variance"),
        "num_batches_tracked": np.zeros((), dtype=np.int64),
    }
    affine = ""
    if center or scale:
        ones = np.ones(channels, dtype=np.float32)
        state["weight"] = ctx.weight("gamma") if scale else ones
        state["bias"] = ctx.weight("beta") if center else np.zeros_like(ones)
    else:
        affine = ", affine=False"
    layer = ctx.module(
        f"nn.BatchNorm{kind}({channels}, eps={eps!r}, momentum={momentum!r}{affine})",
        buffers=("running_mean", "running_var", "num_batches_tracked"),
        **state,
    )
    return Result(f"{layer}({ctx.input(0, CF)})", CF)


@translation("LayerNormalization", wants=CL)
def layer_normalization(ctx: LayerContext) -> Result:
    value = ctx.value()
    rank = value.rank
    axes = _axes(ctx, rank)
    if axes != list(range(rank - len(axes), rank)):
        raise ctx.error("normalizes axes that are not the trailing ones")
    if ctx.attrs.get("rms_scaling"):
        raise ctx.error("uses RMS scaling")
    shape = tuple(int(value.shape[a]) for a in axes)
    shape_code = str(shape[0]) if len(shape) == 1 else str(shape)
    eps = float(ctx.attrs.get("epsilon", 1e-3))
    center, scale = ctx.attrs.get("center", True), ctx.attrs.get("scale", True)
    state = {}
    extra = ""
    if center or scale:
        ones = np.ones(shape, dtype=np.float32)
        state["weight"] = ctx.weight("gamma").reshape(shape) if scale else ones
        if center:
            state["bias"] = ctx.weight("beta").reshape(shape)
        else:
            extra = ", bias=False"
    else:
        extra = ", elementwise_affine=False"
    layer = ctx.module(f"nn.LayerNorm({shape_code}, eps={eps!r}{extra})", **state)
    return Result(f"{layer}({ctx.input(0, CL)})", CL)


def _trailing(ctx: LayerContext) -> tuple[int, ...]:
    """The sizes of the normalized axes, which must be the trailing ones."""
    value = ctx.value()
    axes = _axes(ctx, value.rank)
    if axes != list(range(value.rank - len(axes), value.rank)):
        raise ctx.error("normalizes axes that are not the trailing ones")
    return tuple(int(value.shape[a]) for a in axes)


@translation("RMSNormalization", "MistralLayerNormalization", wants=CL)
def rms_normalization(ctx: LayerContext) -> Result:
    shape = _trailing(ctx)
    shape_code = str(shape[0]) if len(shape) == 1 else str(shape)
    eps = float(ctx.attrs.get("epsilon", 1e-6))
    layer = ctx.module(
        f"nn.RMSNorm({shape_code}, eps={eps!r})", weight=ctx.weight("scale").reshape(shape)
    )
    return Result(f"{layer}({ctx.input(0, CL)})", CL)


@translation("GroupNormalization", wants=CF)
def group_normalization(ctx: LayerContext) -> Result:
    value = ctx.value()
    if _axes(ctx, value.rank) != [value.rank - 1]:
        raise ctx.error("normalizes groups along an axis other than the last (channels)")
    channels, groups = int(value.shape[-1]), int(ctx.attrs.get("groups", 32))
    eps = float(ctx.attrs.get("epsilon", 1e-3))
    center, scale = ctx.attrs.get("center", True), ctx.attrs.get("scale", True)
    state, affine = {}, ""
    if center or scale:
        ones = np.ones(channels, dtype=np.float32)
        state["weight"] = ctx.weight("gamma") if scale else ones
        state["bias"] = ctx.weight("beta") if center else np.zeros_like(ones)
    else:
        affine = ", affine=False"
    # Both frameworks put channels c*G/C .. into group c: the groups are contiguous blocks.
    layer = ctx.module(
        f"nn.GroupNorm(num_groups={groups}, num_channels={channels}, eps={eps!r}{affine})", **state
    )
    return Result(f"{layer}({ctx.input(0, CF)})", CF)


@translation("UnitNormalization")
def unit_normalization(ctx: LayerContext) -> Result:
    value = ctx.value()
    dims = sorted(torch_dim(a, value) for a in _axes(ctx, value.rank))
    dim = str(dims[0]) if len(dims) == 1 else str(tuple(dims))
    x = value.expr
    # Keras caps 1 / norm at 1e12 rather than flooring the norm: the same away from zero.
    return Result(
        f"{x} * torch.rsqrt(({x} * {x}).sum(dim={dim}, keepdim=True)).clamp(max=1e12)", value.layout
    )


STANDARDIZE = '''\
class Standardize(nn.Module):
    """Keras's Normalization layer: (x - mean) / max(sqrt(variance), 1e-7), with the mean and
    variance fixed when the layer was adapted (buffers, not parameters)."""

    def __init__(self, size):
        super().__init__()
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("variance", torch.ones(size))

    def forward(self, x):
        return (x - self.mean) / torch.clamp(self.variance.sqrt(), min=1e-7)
'''


@translation("Normalization", wants=CL)
def normalization(ctx: LayerContext) -> Result:
    value = ctx.value()
    if ctx.attrs.get("invert"):
        raise ctx.error("inverts the normalization (invert=True)")
    if ctx.has_weight("mean"):
        mean, variance = ctx.weight("mean"), ctx.weight("variance")
    elif ctx.attrs.get("mean") is not None:
        mean = np.asarray(ctx.attrs["mean"], dtype=np.float32)
        variance = np.asarray(ctx.attrs["variance"], dtype=np.float32)
    else:
        raise ctx.error("has neither adapted weights nor a given mean and variance")
    channels = int(value.shape[-1])
    # axis=None (saved as `[]`): one mean and variance for every entry, in any axis order.
    scalar = ctx.attrs.get("axis", -1) in (None, []) and mean.size == 1
    if not scalar and (
        mean.size not in (1, channels) or _axes(ctx, value.rank) != [value.rank - 1]
    ):
        raise ctx.error("normalizes per entry over axes other than the last")
    ctx.use_helper(STANDARDIZE)
    size = int(mean.size)
    layer = ctx.module(
        f"Standardize({size})",
        buffers=("mean", "variance"),
        mean=mean.reshape(size),
        variance=variance.reshape(size),
    )
    if scalar:
        return Result(f"{layer}({value.expr})", value.layout)
    return Result(f"{layer}({ctx.input(0, CL)})", CL)
