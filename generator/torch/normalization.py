"""PyTorch translations of BatchNormalization and LayerNormalization."""

from __future__ import annotations

import numpy as np

from generator.torch.registry import CF, CL, LayerContext, Result, translation


def _axes(ctx: LayerContext, rank: int) -> list[int]:
    axis = ctx.config.get("axis", -1)
    axes = axis if isinstance(axis, list) else [axis]
    return sorted(int(a) % rank for a in axes)


@translation("BatchNormalization", wants=CF)
def batch_normalization(ctx: LayerContext) -> Result:
    value = ctx.value()
    rank = value.rank
    if _axes(ctx, rank) != [rank - 1]:
        raise ctx.error("normalizes an axis other than the last (channels)")
    if ctx.config.get("renorm"):
        raise ctx.error("uses batch renormalization")
    channels = int(value.shape[-1])
    kind = {2: "1d", 3: "1d", 4: "2d", 5: "3d"}.get(rank)
    if kind is None:
        raise ctx.error(f"normalizes a rank-{rank} tensor")
    eps = float(ctx.config.get("epsilon", 1e-3))
    # PyTorch's running average keeps `1 - momentum` of the old value, Keras's keeps `momentum`.
    momentum = round(1.0 - float(ctx.config.get("momentum", 0.99)), 10)
    center, scale = ctx.config.get("center", True), ctx.config.get("scale", True)
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
    if ctx.config.get("rms_scaling"):
        raise ctx.error("uses RMS scaling")
    shape = tuple(int(value.shape[a]) for a in axes)
    shape_code = str(shape[0]) if len(shape) == 1 else str(shape)
    eps = float(ctx.config.get("epsilon", 1e-3))
    center, scale = ctx.config.get("center", True), ctx.config.get("scale", True)
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
