"""Convolution backward: the input's gradient is a transposed convolution of `\\delta` with the
same kernel; the kernel's gradient correlates `\\delta` with the input.

`\\partial L/\\partial x_{h,c}` collects every output position whose window read `x_{h,c}`:
position `i` and offset `u` with `s i + d u - p = h`, i.e. `i = (h + p - d u)/s` where that is a
whole number inside the output. Strides, dilation, padding (the frontend's `attrs["pads"]`) and
groups are the forward equation's index maps, read the other way round.
"""

from __future__ import annotations

from generator.layers.conv import ConvHandler, _c_in, _Window
from generator.layers.gradients.activation import delta_stage, differentiable
from generator.layers.gradients.dense import delta_read
from generator.layers.gradients.registry import GradientEquation, Slots, Stage, register_backward
from generator.layers.tensor_expr import Idx, Prod, Read, Reduce, Term, at
from generator.model.graph import LayerRecord

#: The input's spatial indices, one letter per axis (the output's are `t`, `i, j`, `o, i, j`).
_IN_IDX = {1: ("l",), 2: ("h", "w"), 3: ("r'", "h", "w")}
TRANSPOSED = (
    r" \quad (\text{a transposed convolution of } \delta \text{ with the same kernel: only "
    r"whole-number indices inside } \delta \text{ count})"
)


@register_backward("Conv1D", "Conv2D", "Conv3D")
def conv_backward(layer: LayerRecord):
    handler = ConvHandler()
    forward = handler.equation(layer)
    if forward is None or not differentiable(str(forward.activation)):
        return None
    out_shape = handler.output_shape(layer).shape
    win = _Window(layer, out_shape)
    rank = len(win.out)
    groups = layer.attrs.get("groups", 1)
    filters = layer.attrs["filters"]
    c_g, per_group = _c_in(layer) // groups, filters // groups
    slots = Slots(1)
    delta = delta_stage(forward, slots)
    stages = [] if delta is None else [delta]

    # dL/dx_{h,c} = sum_u sum_q W_{u,c,q} delta_{(h + p - d u)/s, q}
    spatial_in = [layer.input_shape[a] for a in _spatial_axes(layer, rank)]
    h = tuple(Idx(n, size) for n, size in zip(_IN_IDX[rank], spatial_in, strict=True))
    sources = tuple(
        _source(hh, u, s, d, p)
        for hh, u, s, d, p in zip(h, win.win, win.strides, win.dilations, win.pads, strict=True)
    )
    if groups == 1:
        c = Idx("c", c_g)
        q = Idx("q", filters)
        out_c, aliases, w_c, q_map = c, (), at(c), at(q)
        note = TRANSPOSED
    else:
        out_c = Idx("c", _c_in(layer))
        g, c_local, q = Idx("g", groups), Idx("c'", c_g), Idx("q'", per_group)
        aliases = ((g, Term(out_c, div=c_g)), (c_local, Term(out_c, mod=c_g)))
        w_c, q_map = at(c_local), at(Term(g, per_group), q)
        note = TRANSPOSED + (
            rf" \quad (g = \lfloor c / {c_g} \rfloor,\ c' = c \bmod {c_g}: \text{{channel }} c"
            rf"\text{{ feeds only the {per_group} filters }} {per_group} g + q'"
            r"\text{ of its group})"
        )
    w = Read("W", ("weight", "kernel"), (*(at(u) for u in win.win), w_c, q_map), batched=False)
    d_maps = (q_map, *sources) if win.first else (*sources, q_map)
    d = delta_read(delta, slots, d_maps)
    d = type(d)(d.symbol, d.source, d.maps, outside=0.0)
    dx = GradientEquation(
        (out_c, *h) if win.first else (*h, out_c),
        Reduce("sum", (*win.win, q), Prod((w, d))),
        symbol="x",
        aliases=aliases,
        note=note,
    )
    stages.append(Stage("input", dx))

    # dL/dW_{u,c,q} = sum_n sum_i delta_{i,q} x_{s i + d u - p, c}  (channel g c_g + c in a group)
    k, c = Idx("q", filters), Idx("c", c_g)
    w_aliases: tuple = ()
    channel = at(c)
    if groups > 1:
        g = Idx("g", groups)
        w_aliases = ((g, Term(k, div=per_group)),)
        channel = at(Term(g, c_g), c)
    spatial_out = win.out
    d_out = delta_read(
        delta,
        slots,
        (at(k), *map(at, spatial_out)) if win.first else (*map(at, spatial_out), at(k)),
    )
    x = win.x(channel)
    dw = GradientEquation(
        (*win.win, c, k),
        Reduce("sum", spatial_out, Prod((d_out, x))),
        symbol="W",
        aliases=w_aliases,
        batch_sum=True,
        note=forward.note if win.padded else "",
    )
    stages.append(Stage("kernel", dw, weight=True))
    if layer.attrs.get("use_bias", True):
        d_b = delta_read(
            delta,
            slots,
            (at(k), *map(at, spatial_out)) if win.first else (*map(at, spatial_out), at(k)),
        )
        db = GradientEquation((k,), Reduce("sum", spatial_out, d_b), symbol="b", batch_sum=True)
        stages.append(Stage("bias", db, weight=True))
    return slots.equation(1, stages, forward, r" \quad (n: \text{the items of the batch})")


def _spatial_axes(layer: LayerRecord, rank: int) -> tuple[int, ...]:
    from generator.layers.common import spatial_axes

    return tuple(spatial_axes(layer, rank))


def _source(h: Idx, u: Idx, s: int, d: int, p: int):
    """`(h + p - d u) / s`: the output position whose window puts offset `u` on input `h`."""
    from generator.layers.tensor_expr import Affine

    return Affine((Term(h), Term(u, -d)), p, s)
