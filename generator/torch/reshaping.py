"""PyTorch translations of layers that move values around: flatten, reshape, pad, crop, resize."""

from __future__ import annotations

from generator.torch.registry import CF, CL, LayerContext, Layout, Result, translation


@translation("Flatten")
def flatten(ctx: LayerContext) -> Result:
    value = ctx.value()
    if value.rank <= 2:
        return Result(value.expr, value.layout)
    dims = tuple(int(d) for d in value.shape[1:])
    if ctx.attrs["layout"] == "channels_first":
        # Keras moves axis 1 to the end before it flattens: the same on Keras's own order.
        order = (0, *range(2, value.rank), 1)
        x = ctx.input(0, CL)
        flat = f"{x}.permute({', '.join(str(i) for i in order)}).flatten(1)"
        return Result(flat, Layout("cl", (*dims[1:], dims[0])))
    if value.layout.kind == "cf":
        # PyTorch code flattens channels first; the Dense that reads this reorders its weights.
        return Result(f"torch.flatten({value.expr}, 1)", Layout("flat_cf", dims))
    return Result(f"torch.flatten({value.expr}, 1)", Layout("cl", dims))


@translation("Reshape", wants=CL)
def reshape(ctx: LayerContext) -> Result:
    target = [int(d) for d in ctx.attrs["target_shape"]]
    known = ctx.record.output_shape[1:]
    if -1 in target and None not in known:
        target = list(known)  # Keras has worked the -1 out already
    x = ctx.input(0, CL)
    batch = f"{x}.shape[0]" if -1 in target else "-1"
    return Result(f"{x}.reshape({batch}, {', '.join(str(d) for d in target)})", CL)


@translation("Permute", wants=CL)
def permute(ctx: LayerContext) -> Result:
    dims = ", ".join(str(int(d)) for d in ctx.attrs["dims"])
    return Result(f"{ctx.input(0, CL)}.permute(0, {dims})", CL)


@translation("RepeatVector", wants=CL)
def repeat_vector(ctx: LayerContext) -> Result:
    n = int(ctx.attrs["n"])
    return Result(f"{ctx.input(0, CL)}.unsqueeze(1).repeat(1, {n}, 1)", CL)


def _pairs(value: object, n: int) -> list[tuple[int, int]]:
    """Keras's padding or cropping attrs as one (before, after) pair per spatial axis."""
    if isinstance(value, int):
        return [(value, value)] * n
    value = list(value)
    if n == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
        return [(value[0], value[1])]
    pairs = []
    for item in value:
        pairs.append((item, item) if isinstance(item, int) else (int(item[0]), int(item[1])))
    return pairs


@translation("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", wants=CF)
def zero_padding(ctx: LayerContext) -> Result:
    n = int(ctx.record.type[-2])
    pairs = _pairs(ctx.attrs["padding"], n)
    # F.pad lists the last dimension first.
    pads = ", ".join(f"{a}, {b}" for a, b in reversed(pairs))
    return Result(f"F.pad({ctx.input(0, CF)}, ({pads}))", CF)


@translation("Cropping1D", "Cropping2D", "Cropping3D", wants=CF)
def cropping(ctx: LayerContext) -> Result:
    n = int(ctx.record.type[-2])
    pairs = _pairs(ctx.attrs["cropping"], n)
    sizes = ctx.value().shape[1:-1]
    slices = [
        f"{a}:{size - b}" if a or b else ":" for (a, b), size in zip(pairs, sizes, strict=True)
    ]
    return Result(f"{ctx.input(0, CF)}[:, :, {', '.join(slices)}]", CF)


@translation("UpSampling1D", "UpSampling2D", "UpSampling3D", wants=CF)
def upsampling(ctx: LayerContext) -> Result:
    n = int(ctx.record.type[-2])
    size = ctx.attrs.get("size", 2)
    sizes = (size,) * n if isinstance(size, int) else tuple(int(s) for s in size)
    mode = ctx.attrs.get("interpolation", "nearest")
    factor = ", ".join(f"{float(s)!r}" for s in sizes)
    factor = f"({factor},)" if n == 1 else f"({factor})"
    x = ctx.input(0, CF)
    if mode == "nearest":
        return Result(f'F.interpolate({x}, scale_factor={factor}, mode="nearest")', CF)
    if mode == "bilinear" and n == 2:
        # tf.image.resize samples at half-pixel centres, as align_corners=False does.
        return Result(
            f'F.interpolate({x}, scale_factor={factor}, mode="bilinear", align_corners=False)', CF
        )
    raise ctx.error(f"resizes with interpolation={mode!r}; nearest and bilinear translate")
