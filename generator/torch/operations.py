"""PyTorch translations of the `keras.ops` calls functional models record (`ones_like`, ...)."""

from __future__ import annotations

import numpy as np

from generator.layers.indexing import NEW, index_key
from generator.torch.registry import CL, LayerContext, Result, translation

#: Entrywise operations: Keras `ops.<name>` -> PyTorch expression of `{x}` (any axis order).
_ENTRYWISE = {
    "ops.ones_like": "torch.ones_like({x})",
    "ops.zeros_like": "torch.zeros_like({x})",
    "ops.negative": "-{x}",
    "ops.absolute": "torch.abs({x})",
    "ops.square": "torch.square({x})",
    "ops.sqrt": "torch.sqrt({x})",
    "ops.exp": "torch.exp({x})",
    "ops.log": "torch.log({x})",
    "ops.tanh": "torch.tanh({x})",
    "ops.sigmoid": "torch.sigmoid({x})",
    "ops.relu": "F.relu({x})",
    "ops.silu": "F.silu({x})",
}

#: `ops.cast`'s Keras dtypes that PyTorch names alike.
_DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "bool", "uint8")

#: Operations along a Keras axis: the input stays in Keras's order, so the axis is the same.
_ALONG_AXIS = {
    "ops.cumsum": "torch.cumsum({x}, dim={axis})",
    "ops.expand_dims": "{x}.unsqueeze({axis})",
    "ops.squeeze": "{x}.squeeze({axis})",
    "ops.transpose": "",  # its axes are a tuple, written in `along_axis`
    "ops.mean": "{x}.mean(dim={axis}, keepdim={keepdims})",
    "ops.sum": "{x}.sum(dim={axis}, keepdim={keepdims})",
    "ops.max": "{x}.amax(dim={axis}, keepdim={keepdims})",
    "ops.min": "{x}.amin(dim={axis}, keepdim={keepdims})",
}

_BINARY = {
    "ops.maximum": "torch.maximum({a}, {b})",
    "ops.minimum": "torch.minimum({a}, {b})",
    "ops.power": "torch.pow({a}, {b})",
    "ops.matmul": "torch.matmul({a}, {b})",
}


@translation(*_ENTRYWISE)
def entrywise(ctx: LayerContext) -> Result:
    if len(ctx.inputs) != 1 or any(a is not None for a in ctx.attrs.get("operands", [None])):
        raise ctx.error("is called with arguments other than one tensor")
    value = ctx.value()
    return Result(_ENTRYWISE[ctx.record.type].format(x=value.expr), value.layout)


@translation(*_ALONG_AXIS, wants=CL)
def along_axis(ctx: LayerContext) -> Result:
    if ctx.record.type == "ops.transpose":
        axes = ctx.attrs.get("axes")
        axes = tuple(reversed(range(ctx.value().rank))) if axes is None else tuple(axes)
        return Result(f"{ctx.input(0, CL)}.permute{axes}", CL)
    axis = ctx.attrs.get("axis")
    if isinstance(axis, list) and len(axis) == 1:
        axis = axis[0]  # Keras keeps `axis=1` of a reduction as [1]
    if axis is None or isinstance(axis, list):
        raise ctx.error("reduces over every axis or several axes at once")
    if ctx.attrs.get("reverse") or ctx.attrs.get("exclusive"):
        raise ctx.error("sums in reverse or exclusively")
    template = _ALONG_AXIS[ctx.record.type]
    keepdims = bool(ctx.attrs.get("keepdims", False))
    return Result(template.format(x=ctx.input(0, CL), axis=int(axis), keepdims=keepdims), CL)


@translation(*_BINARY, wants=CL)
def binary(ctx: LayerContext) -> Result:
    operands = ctx.attrs.get("operands", [None, None])
    tensors = iter(ctx.input(i, CL) for i in range(len(ctx.inputs)))
    terms = []
    for operand in operands:
        if operand is None:
            terms.append(next(tensors))
        elif isinstance(operand, int | float):
            terms.append(f"torch.tensor({float(operand)!r})")
        elif np.size(operand) <= 256:  # a traced call's constant (a causal mask): inline
            terms.append(f"torch.tensor({np.asarray(operand, dtype=np.float32).tolist()!r})")
        else:
            raise ctx.error("computes with an array constant of more than 256 entries")
    if len(terms) != 2:
        raise ctx.error("is called with other than two operands")
    return Result(_BINARY[ctx.record.type].format(a=terms[0], b=terms[1]), CL)


@translation("ops.cast")
def cast(ctx: LayerContext) -> Result:
    dtype = str(ctx.attrs.get("dtype"))
    if dtype not in _DTYPES:
        raise ctx.error(f"casts to {dtype!r}; known: {', '.join(_DTYPES)}")
    value = ctx.value()
    return Result(f"{value.expr}.to(torch.{dtype})", value.layout)


@translation("ops.get_item", wants=CL)
def get_item(ctx: LayerContext) -> Result:
    """`x[:, 0, :]`: whole axes and positions after the batch, as Keras indexed."""
    try:
        key = index_key(ctx.record)
    except ValueError as error:
        raise ctx.error(str(error)) from None
    entries = ", ".join(":" if k is None else "None" if k == NEW else str(k) for k in key)
    return Result(f"{ctx.input(0, CL)}[:, {entries}]", CL)


@translation("ops.einsum", wants=CL)
def einsum(ctx: LayerContext) -> Result:
    if any(a is not None for a in ctx.attrs.get("operands", [])):
        raise ctx.error("sums with a constant operand")
    tensors = ", ".join(ctx.input(i, CL) for i in range(len(ctx.inputs)))
    return Result(f'torch.einsum("{ctx.attrs["subscripts"]}", {tensors})', CL)


@translation("ops.repeat", wants=CL)
def repeat(ctx: LayerContext) -> Result:
    repeats, axis = int(ctx.attrs["repeats"]), int(ctx.attrs["axis"])
    return Result(f"{ctx.input(0, CL)}.repeat_interleave({repeats}, dim={axis})", CL)
