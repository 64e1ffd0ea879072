"""Dense backward: `dL/dx = W^T \\delta` and `dL/dW = \\delta x^T`, summed over the batch."""

from __future__ import annotations

from generator.layers.dense import DenseHandler
from generator.layers.gradients.activation import delta_stage, differentiable
from generator.layers.gradients.registry import (
    UPSTREAM,
    GradientEquation,
    GradRead,
    Slots,
    Stage,
    register_backward,
)
from generator.layers.tensor_expr import Idx, Prod, Read, Reduce, at
from generator.model.graph import LayerRecord


def delta_read(delta: Stage | None, slots: Slots, maps: tuple) -> GradRead | Read:
    """`\\delta` where the layer has an activation, else the upstream gradient `dL/da`."""
    if delta is None:
        return GradRead("a", slots(UPSTREAM), maps)
    return Read(r"\delta", slots("delta"), maps)


@register_backward("Dense")
def dense_backward(layer: LayerRecord):
    forward = DenseHandler().equation(layer)
    if not differentiable(str(forward.activation)):
        return None
    slots = Slots(1)
    delta = delta_stage(forward, slots)
    shape = layer.input_shape
    lead = forward.indices[:-1]
    i, j = Idx("i", shape[-1]), Idx("j", layer.attrs["units"])
    # dL/dx_i = sum_j W_{j,i} delta_j  (W_{j,i} = kernel[i, j])
    w = Read("W", ("weight", "kernel"), (at(i), at(j)), batched=False, order=(1, 0))
    d_j = delta_read(delta, slots, (*(at(t) for t in lead), at(j)))
    dx = GradientEquation((*lead, i), Reduce("sum", (j,), Prod((w, d_j))), symbol="x")
    # dL/dW_{j,i} = sum_n sum_t delta_{t,j} x_{t,i}: over the batch and any leading axes.
    t = tuple(Idx(f"t{k}" if len(lead) > 1 else "t", d.size) for k, d in enumerate(lead))
    hidden = tuple(Idx(x.name, x.size, shown=False) for x in t)
    x = Read("x", ("input", 0), (*(at(h) for h in hidden), at(i)))
    d = delta_read(delta, slots, (*(at(h) for h in hidden), at(j)))
    body = Prod((d, x))
    if hidden:
        body = Reduce("sum", hidden, body)
    stages = [] if delta is None else [delta]
    stages.append(Stage("input", dx))
    stages.append(
        Stage(
            "kernel",
            GradientEquation((i, j), body, symbol="W", printed=(1, 0), batch_sum=True),
            weight=True,
        )
    )
    if layer.attrs.get("use_bias", True):
        db = delta_read(delta, slots, (*(at(h) for h in hidden), at(j)))
        body_b = Reduce("sum", hidden, db) if hidden else db
        stages.append(
            Stage("bias", GradientEquation((j,), body_b, symbol="b", batch_sum=True), weight=True)
        )
    note = r" \quad (n: \text{the items of the batch})"
    if hidden:
        note += r" \quad (t: \text{every leading position, summed too})"
    return slots.equation(1, stages, forward, note)
