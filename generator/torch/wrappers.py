"""PyTorch translation of TimeDistributed: the inner layer on every step, steps in the batch."""

from __future__ import annotations

from dataclasses import replace

from generator.torch.registry import (
    CL,
    LayerContext,
    Result,
    Value,
    convert,
    translation,
    translation_for,
)


@translation("TimeDistributed", wants=CL)
def time_distributed(ctx: LayerContext) -> Result:
    inner = ctx.attrs["layer"]
    entry = translation_for(inner.type)
    if entry is None or inner.type in ("TimeDistributed", "Bidirectional"):
        raise ctx.error(f"wraps a {inner.type}, which has no PyTorch translation")
    value = ctx.value()
    steps = value.shape[1] if value.shape[1] is not None else f"{ctx.input(0, CL)}.shape[1]"
    # The inner layer sees (batch * steps, ...): fold the steps into the batch, then unfold.
    record = replace(
        ctx.record,
        type=inner.type,
        attrs=inner.attrs,
        input_shapes=((None, *value.shape[2:]),),
        output_shapes=((None, *ctx.record.output_shape[2:]),),
    )
    folded = Value(f"{ctx.input(0, CL)}.flatten(0, 1)", record.input_shape, CL)
    inner_ctx = LayerContext(record, [folded], ctx.attr, ctx.out, ctx.weight_values)
    result = entry.function(inner_ctx)
    ctx.modules.extend(inner_ctx.modules)
    ctx.helpers.update(inner_ctx.helpers)
    ctx.lines.extend(inner_ctx.lines)
    expr = convert(Value(result.expr, record.output_shape, result.layout), CL)
    if expr != ctx.out:
        ctx.line(f"{ctx.out} = {expr}")
    return Result(f"{ctx.out}.unflatten(0, (-1, {steps}))", CL)
