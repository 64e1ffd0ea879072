"""Pieces the layer handlers share: attrs reading, spatial sizes, activations in equations."""

from __future__ import annotations

import re
from collections.abc import Sequence

from generator.layers.formula import CeilDiv, FloorDiv, Formula, Mul, Num, Sym
from generator.layers.registry import DimStep
from generator.model.activations import ACTIVATIONS, ELEMENTWISE, LayerActivation, layer_activation
from generator.model.graph import LayerRecord, Shape

#: The labels of the spatial axes: none along a 1-D input (plain `n`, `k`, `s`).
AXIS_NAMES = {1: ("",), 2: ("h", "w"), 3: (r"\text{depth}", "h", "w")}


def axis_sym(base: str, axis: str) -> str:
    """`n_h`, `n_{\\text{depth}}`, or plain `n` along a 1-D input (an axis without a label)."""
    if not axis:
        return base
    return f"{base}_{axis}" if len(axis) == 1 else f"{base}_{{{axis}}}"


#: Layers whose output is their input at inference: noise and penalties act only in training.
INFERENCE_IDENTITY = frozenset(
    {
        "Dropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "GaussianNoise",
        "GaussianDropout",
        "AlphaDropout",
        "ActivityRegularization",
        "Identity",
    }
)


def as_tuple(value, rank: int) -> tuple[int, ...]:
    """A attrs value that may be an int or a sequence, as `rank` ints."""
    if isinstance(value, int):
        return (value,) * rank
    value = tuple(int(v) for v in value)
    return value if len(value) == rank else (value[0],) * rank


def spatial_rank(layer: LayerRecord) -> int:
    """The number of spatial axes, from the class name: 2 for `Conv2DTranspose`."""
    return int(re.search(r"(\d)D", layer.type).group(1))


def aligned(lines: Sequence[str], sep: str = " ") -> str:
    """LaTeX lines joined in an `aligned` block; `sep="\\n"` puts each row on a line of its own."""
    return rf"\begin{{aligned}}{sep}" + f" \\\\{sep}".join(lines) + rf"{sep}\end{{aligned}}"


def channels_last(layer: LayerRecord) -> bool:
    return layer.layout != "channels_first"


def spatial_axes(layer: LayerRecord, rank: int) -> list[int]:
    """Indices of the spatial dimensions in the (batched) input shape."""
    return list(range(1, 1 + rank)) if channels_last(layer) else list(range(2, 2 + rank))


def channel_axis(layer: LayerRecord) -> int:
    return -1 if channels_last(layer) else 1


def with_dims(
    shape: Shape, axes: list[int], dims: list[int | None], channels: int | None, layer: LayerRecord
) -> Shape:
    """`shape` with its spatial `axes` replaced by `dims` and its channels by `channels`."""
    out = list(shape)
    for axis, dim in zip(axes, dims, strict=True):
        out[axis] = dim
    if channels is not None:
        out[channel_axis(layer)] = channels
    return tuple(out)


def padded_length(n: Formula, pads: tuple[int, int], axis: str) -> Formula:
    """`n + 2p` for the same zeros at both ends, `n + p_b + p_e` otherwise."""
    before, after = pads
    if before == after:
        return n + Mul((Num(2), Sym(axis_sym("p", axis), before)))
    return n + Sym(axis_sym("p^{b}", axis), before) + Sym(axis_sym("p^{e}", axis), after)


def window_output(
    n: int | None,
    k: int,
    s: int,
    d: int,
    padding: str,
    axis: str,
    pads: tuple[int, int] = (0, 0),
    ceil: bool = False,
) -> tuple[int | None, Formula | None]:
    """Output length of a sliding window (convolution or pooling) along one axis.

    `valid` keeps only full windows: `floor((n + 2p - k) / s) + 1` with `p = 0` (with dilation the
    window spans `d (k - 1) + 1` inputs); `same` and `causal` pad so that `ceil(n / s)` remain;
    `explicit` zeros (`pads`, a PyTorch module's) give the general
    `floor((n + p_b + p_e - d (k - 1) - 1) / s) + 1`, rounded up in `ceil` mode, where a last
    window starting past the input and its leading zeros is dropped.
    """
    if n is None:
        return None, None
    sn, ss = Sym(axis_sym("n", axis), n), Sym(axis_sym("s", axis), s)
    if padding == "explicit" or ceil:
        sk = Sym(axis_sym("k", axis), k)
        span = sk if d == 1 else Mul((Sym(axis_sym("d", axis), d), sk - 1)) + 1
        divide = CeilDiv if ceil else FloorDiv
        formula = divide(padded_length(sn, pads, axis) - span, ss) + 1
        if ceil and (formula.value() - 1) * s >= n + pads[0]:
            formula = formula - 1
        return formula.value(), formula
    if padding in ("same", "causal"):
        formula: Formula = CeilDiv(sn, ss)
    elif d == 1:
        formula = FloorDiv(sn + Mul((Num(2), Sym("p", 0))) - Sym(axis_sym("k", axis), k), ss) + 1
    else:
        span = Mul((Sym(axis_sym("d", axis), d), Sym(axis_sym("k", axis), k) - 1))
        formula = FloorDiv(sn - span - 1, ss) + 1
    return formula.value(), formula


def transposed_output(
    n: int | None,
    k: int,
    s: int,
    d: int,
    padding: str,
    axis: str,
    output_padding: int | None,
    pads: tuple[int, int] = (0, 0),
) -> tuple[int | None, Formula | None]:
    """Output length of a transposed convolution, as Keras (or, for `explicit` pads, PyTorch)
    computes it."""
    if n is None:
        return None, None
    sn, ss = Sym(axis_sym("n", axis), n), Sym(axis_sym("s", axis), s)
    sk = Sym(axis_sym("k", axis), k)
    span: Formula = sk if d == 1 else Mul((Sym(axis_sym("d", axis), d), sk - 1)) + 1
    if padding == "explicit":  # PyTorch's padding trims both ends of the full output
        trimmed = Mul((Num(2), Sym("p", pads[0]))) if pads[0] == pads[1] else sum(pads)
        formula = (
            Mul((sn - 1, ss)) + span - trimmed + Sym(axis_sym("p'", axis), output_padding or 0)
        )
    elif output_padding is not None:
        pad = span.value() // 2 if padding == "same" else 0
        formula: Formula = (
            Mul((sn - 1, ss))
            + span
            - Mul((Num(2), Sym("p", pad)))
            + Sym(axis_sym("p'", axis), output_padding)
        )
    elif padding == "same":
        formula = Mul((sn, ss))
    elif span.value() >= s:
        formula = Mul((sn - 1, ss)) + span
    else:
        formula = Mul((sn, ss))
    return formula.value(), formula


def dim_label(axis: str) -> str:
    return axis_sym("n'", axis)


def steps_for(axes_names: tuple[str, ...], formulas: list[Formula | None]) -> tuple[DimStep, ...]:
    return tuple(
        DimStep(label=dim_label(a), formula=f)
        for a, f in zip(axes_names, formulas, strict=True)
        if f is not None
    )


def _fused(layer: LayerRecord) -> LayerActivation:
    return layer_activation(layer) or LayerActivation()


def activation_of(layer: LayerRecord) -> str:
    """The layer's activation as LaTeX, `\\mathrm{relu}`, or `None` written as identity."""
    return _fused(layer).latex


def apply_activation(layer: LayerRecord, inner: str) -> str:
    """`f(inner)` for the layer's activation; a linear activation leaves `inner` bare."""
    if _fused(layer).linear:
        return inner
    return rf"{activation_of(layer)}\!\left({inner}\right)"


#: Activations that act on a whole vector (the last axis), not on each number by itself.
VECTOR_ACTIVATIONS = tuple(name for name in ACTIVATIONS if name not in ELEMENTWISE)


def activated(layer: LayerRecord, indices: tuple[str, ...] | list[str], inner: str) -> str:
    """`a_{indices} = f(inner)`, or for softmax `a = softmax(z), z_{indices} = inner`.

    Softmax normalises over the whole last axis, so writing it around one output's sum would be
    the softmax of a single number (always 1). Its equation names the pre-activations `z` first.
    """
    index = ",".join(indices)
    if _fused(layer).name not in VECTOR_ACTIVATIONS:
        return f"a_{{{index}}} = {apply_activation(layer, inner)}"
    f = activation_of(layer)
    if len(indices) == 1:
        vector = rf"a = {f}(z)"
    else:
        rest = ",".join(indices[:-1])
        vector = rf"a_{{{rest},:}} = {f}\!\left(z_{{{rest},:}}\right)"
    return rf"{vector}, \quad z_{{{index}}} = {inner}"
