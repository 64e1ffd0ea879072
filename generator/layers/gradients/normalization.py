"""BatchNormalization backward, at inference and in training.

At inference the moving statistics are constants: the layer is an affine map per channel, so
`\\partial L/\\partial x = \\gamma/\\sqrt{\\mathrm{var} + \\epsilon}\\, \\partial L/\\partial a`. In
training the mean and variance are the batch's own and depend on every item, so each input's
gradient also carries the batch's mean gradient and the part along `\\hat x`:
`dL/dx = \\gamma/\\sqrt{\\sigma^2 + \\epsilon}\\,(g - \\bar g - \\hat x\\, \\overline{g \\hat x})`.
"""

from __future__ import annotations

import numpy as np

from generator.layers.gradients.registry import (
    UPSTREAM,
    GradientEquation,
    GradRead,
    Slots,
    Stage,
    register_backward,
)
from generator.layers.normalization import _axes, _channel_indices
from generator.layers.tensor_equation import TensorEquation
from generator.layers.tensor_expr import Expr, Func, Idx, Prod, Read, Reduce, at
from generator.model.graph import LayerRecord

_LETTERS = ("i", "j", "k", "l")


def _frame(layer: LayerRecord):
    """The channel axis, the output's indices (channel shown) and shown indices for the rest."""
    axes = _axes(layer)
    if len(axes) != 1:
        return None
    axis = axes[0]
    index = _channel_indices(layer, axes)
    others = [a for a in range(1, len(layer.input_shape)) if a != axis]
    summed = {a: Idx(_LETTERS[k], layer.input_shape[a]) for k, a in enumerate(others)}
    return axis, index, summed


def _maps(layer: LayerRecord, axis: int, c: Idx, summed: dict, batch: Idx | None = None):
    maps = [at(summed[a]) if a != axis else at(c) for a in range(1, len(layer.input_shape))]
    return tuple(([at(batch)] if batch is not None else []) + maps)


def _weight(layer: LayerRecord, role: str) -> str | None:
    record = layer.weight_by_role(role)
    return record.name if record is not None else None


def _per_channel(symbol: str, name: str, c: Idx) -> Read:
    return Read(symbol, ("weight", name), (at(c),), batched=False)


def _weight_stages(layer, slots, c, summed, axis, xhat: Expr) -> list[Stage]:
    """`dL/d\\gamma_c = \\sum_n \\sum g \\hat x` and `dL/d\\beta_c = \\sum_n \\sum g`, over every
    position of the channel."""
    stages = []
    g = GradRead("a", slots(UPSTREAM), _maps(layer, axis, c, summed))
    over = tuple(summed.values())
    gamma, beta = _weight(layer, "gamma"), _weight(layer, "beta")
    if gamma is not None and layer.attrs.get("scale", True):
        body = Prod((g, xhat))
        eq = GradientEquation(
            (c,), Reduce("sum", over, body) if over else body, symbol=r"\gamma", batch_sum=True
        )
        stages.append(Stage(gamma, eq, weight=True))
    if beta is not None and layer.attrs.get("center", True):
        eq = GradientEquation(
            (c,), Reduce("sum", over, g) if over else g, symbol=r"\beta", batch_sum=True
        )
        stages.append(Stage(beta, eq, weight=True))
    return stages


@register_backward("BatchNormalization")
def batch_norm_backward(layer: LayerRecord):
    """At inference: the moving mean `\\mu_c` and variance `\\mathrm{var}_c` are constants."""
    frame = _frame(layer)
    if frame is None:
        return None
    axis, index, summed = frame
    eps = float(layer.attrs.get("epsilon", 1e-3))
    c = index[axis - 1]
    slots = Slots(1)
    var = _per_channel(r"\mathrm{var}", _weight(layer, "moving_variance"), c)
    scale: Expr = Func(
        lambda v: 1.0 / np.sqrt(v + eps),
        (var,),
        rf"\frac{{{{1}}}}{{{{\sqrt{{{{{{0}} + {eps:g}}}}}}}}}",
    )
    gamma = _weight(layer, "gamma")
    if gamma is not None and layer.attrs.get("scale", True):
        scale = Prod((_per_channel(r"\gamma", gamma, c), scale))
    g = GradRead("a", slots(UPSTREAM), tuple(at(i) for i in index))
    dx = GradientEquation(index, Prod((scale, g)), symbol="x")
    # x_hat at every summed position of channel c, with the moving statistics.
    x = Read("x", ("input", 0), _maps(layer, axis, c, summed))
    mu = _per_channel(r"\mu", _weight(layer, "moving_mean"), c)
    xhat = Func(
        lambda a, m, v: (a - m) / np.sqrt(v + eps),
        (x, mu, var),
        rf"\frac{{{{{{0}} - {{1}}}}}}{{{{\sqrt{{{{{{2}} + {eps:g}}}}}}}}}",
    )
    stages = [Stage("input", dx), *_weight_stages(layer, slots, c, summed, axis, xhat)]
    note = r" \quad (\text{at inference: } \mu_c, \mathrm{var}_c \text{ are constants})"
    return slots.equation(1, stages, note=note)


def batch_norm_training_backward(layer: LayerRecord, batch: int):
    """BatchNormalization in training (`training=True`), for a batch of `batch` items: the
    statistics are the batch's, `\\mu^B_c` and `\\sigma^2_c` over the items and every position."""
    frame = _frame(layer)
    if frame is None:
        return None
    axis, index, summed = frame
    eps = float(layer.attrs.get("epsilon", 1e-3))
    c = index[axis - 1]
    nb = Idx("n", batch)
    over = (nb, *summed.values())
    slots = Slots(1)
    x_all = Read("x", ("input", 0), _maps(layer, axis, c, summed, nb), batched=False)
    mean = TensorEquation((c,), Reduce("mean", over, x_all, style="limits"), symbol=r"\mu^B")
    mu = Read(r"\mu^B", slots("mean"), (at(c),))
    sq = Func(lambda a, m: (a - m) ** 2, (x_all, mu), r"({0} - {1})^2")
    variance = TensorEquation((c,), Reduce("mean", over, sq, style="limits"), symbol=r"\sigma^2")
    s2 = Read(r"\sigma^2", slots("variance"), (at(c),))
    x = Read("x", ("input", 0), tuple(at(i) for i in index))
    xhat_eq = TensorEquation(
        index,
        Func(
            lambda a, m, v: (a - m) / np.sqrt(v + eps),
            (x, mu, s2),
            rf"\frac{{{{{{0}} - {{1}}}}}}{{{{\sqrt{{{{{{2}} + {eps:g}}}}}}}}}",
        ),
        symbol=r"\hat x",
    )
    g_all = GradRead("a", slots(UPSTREAM), _maps(layer, axis, c, summed, nb), batched=False)
    xhat_all = Read(r"\hat x", slots("xhat"), _maps(layer, axis, c, summed, nb), batched=False)
    gbar = TensorEquation((c,), Reduce("mean", over, g_all, style="limits"), symbol=r"\bar g")
    gx = TensorEquation(
        (c,),
        Reduce("mean", over, Prod((g_all, xhat_all)), style="limits"),
        symbol=r"\overline{g \hat x}",
    )
    g = GradRead("a", slots(UPSTREAM), tuple(at(i) for i in index))
    xhat = Read(r"\hat x", slots("xhat"), tuple(at(i) for i in index))
    scale: Expr = Func(
        lambda v: 1.0 / np.sqrt(v + eps),
        (s2,),
        rf"\frac{{{{1}}}}{{{{\sqrt{{{{{{0}} + {eps:g}}}}}}}}}",
    )
    gamma = _weight(layer, "gamma")
    if gamma is not None and layer.attrs.get("scale", True):
        scale = Prod((_per_channel(r"\gamma", gamma, c), scale))
    centred = Func(
        lambda a, b, h, d: a - b - h * d,
        (
            g,
            Read(r"\bar g", slots("gbar"), (at(c),)),
            xhat,
            Read(r"\overline{g \hat x}", slots("gxbar"), (at(c),)),
        ),
        r"\left({0} - {1} - {2}\, {3}\right)",
    )
    dx = GradientEquation(index, Prod((scale, centred)), symbol="x")
    xhat_c = Read(r"\hat x", slots("xhat"), _maps(layer, axis, c, summed))
    stages = [
        Stage("mean", mean),
        Stage("variance", variance),
        Stage("xhat", xhat_eq),
        Stage("gbar", gbar),
        Stage("gxbar", gx),
        Stage("input", dx),
        *_weight_stages(layer, slots, c, summed, axis, xhat_c),
    ]
    note = rf" \quad (\text{{in training: the statistics of this batch of {batch}, over }} n"
    note += r"\text{ and every position})"
    return slots.equation(1, stages, note=note)
