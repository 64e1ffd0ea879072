"""PyTorch translations of preprocessing layers: CategoryEncoding and Resizing."""

from __future__ import annotations

from generator.torch.registry import CF, CL, LayerContext, Result, translation

# tf.image.resize (no antialiasing) samples at half-pixel centres, as these PyTorch modes do.
_RESIZE_MODES = {
    "bilinear": 'mode="bilinear", align_corners=False',
    "nearest": 'mode="nearest-exact"',
}


@translation("CategoryEncoding", wants=CL)
def category_encoding(ctx: LayerContext) -> Result:
    attrs = ctx.attrs
    mode, tokens = attrs.get("output_mode", "multi_hot"), int(attrs["num_tokens"])
    if attrs.get("sparse"):
        raise ctx.error("returns a sparse tensor")
    if len(ctx.inputs) > 1:
        raise ctx.error("is given count weights")
    value = ctx.value()
    x = f"{ctx.input(0, CL)}.long()"
    in_rank, out_rank = value.rank, len(ctx.record.output_shape)
    if mode == "one_hot":
        if in_rank == out_rank and value.shape[-1] == 1:
            x = f"{x}.squeeze(-1)"  # Keras one-hot encodes a (batch, 1) column as (batch, n)
        return Result(f"F.one_hot({x}, {tokens}).float()", CL)
    if mode not in ("multi_hot", "count"):
        raise ctx.error(f"encodes with output_mode={mode!r}; one_hot, multi_hot, count translate")
    if in_rank == 1:
        x = f"{x}.unsqueeze(-1)"
    reduce = "amax" if mode == "multi_hot" else "sum"
    return Result(f"F.one_hot({x}, {tokens}).{reduce}(dim=-2).float()", CL)


@translation("Resizing", wants=CF)
def resizing(ctx: LayerContext) -> Result:
    attrs = ctx.attrs
    mode = attrs.get("interpolation", "bilinear")
    if mode not in _RESIZE_MODES:
        known = ", ".join(_RESIZE_MODES)
        raise ctx.error(f"resizes with interpolation={mode!r}; {known} translate")
    if attrs.get("crop_to_aspect_ratio") or attrs.get("pad_to_aspect_ratio"):
        raise ctx.error("crops or pads to the aspect ratio")
    if attrs["layout"] != "channels_last":
        raise ctx.error("reads channels-first data; only channels_last translates")
    size = f"({int(attrs['height'])}, {int(attrs['width'])})"
    x = ctx.input(0, CF)
    return Result(f"F.interpolate({x}, size={size}, {_RESIZE_MODES[mode]})", CF)
