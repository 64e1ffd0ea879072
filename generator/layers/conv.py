"""Convolutions: ordinary, transposed, depthwise and separable, in 1, 2 and 3 dimensions."""

from __future__ import annotations

from dataclasses import replace

from generator.layers.common import (
    AXIS_NAMES,
    as_tuple,
    axis_sym,
    channel_axis,
    spatial_axes,
    steps_for,
    transposed_output,
    window_output,
    with_dims,
)
from generator.layers.common import (
    spatial_rank as _rank,
)
from generator.layers.formula import Formula, Mul, Sym, product
from generator.layers.latex_text import index_range
from generator.layers.registry import (
    LayerHandler,
    ParamMath,
    ParamPart,
    ShapeMath,
    params_from_parts,
    register,
)
from generator.layers.tensor_equation import TensorEquation, activation_spec
from generator.layers.tensor_expr import Affine, Expr, Idx, Prod, Read, Reduce, Sum, Term, at
from generator.model.graph import LayerRecord

ZERO_PADDING = r" \quad (x = 0 \text{ outside the input: zero padding})"


def _window(layer: LayerRecord) -> tuple[int, tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    rank = _rank(layer)
    return (
        rank,
        as_tuple(layer.attrs["kernel_size"], rank),
        as_tuple(layer.attrs.get("strides", 1), rank),
        as_tuple(layer.attrs.get("dilation_rate", 1), rank),
    )


def _kernel_syms(layer: LayerRecord) -> list[Formula]:
    rank, kernel, _, _ = _window(layer)
    names = AXIS_NAMES[rank]
    return [Sym(axis_sym("k", a), k) for a, k in zip(names, kernel, strict=True)]


def _c_in(layer: LayerRecord) -> int:
    return layer.input_shape[channel_axis(layer)]


def _bias(layer: LayerRecord) -> bool:
    return layer.attrs.get("use_bias", True)


_OUT_IDX = {1: ("t",), 2: ("i", "j"), 3: ("o", "i", "j")}
_WIN_IDX = {1: ("u",), 2: ("u", "v"), 3: ("r", "u", "v")}
#: A separable convolution's depthwise step, the tensor its 1x1 step reads.
DEPTHWISE_OUT = r"a^{\mathrm{dw}}"


class _Window:
    """A convolution's index maps: output `i`, window `u` -> input `s i + d u - p`."""

    def __init__(self, layer: LayerRecord, out_shape: tuple, transposed: bool = False):
        self.layer = layer
        rank, self.kernel, self.strides, self.dilations = _window(layer)
        self.first = not channels_last_of(layer)
        spatial_out = [out_shape[a] for a in spatial_axes(layer, rank)]
        self.padded = layer.attrs["padding"] != "valid"
        self.out = tuple(Idx(n, o) for n, o in zip(_OUT_IDX[rank], spatial_out, strict=True))
        self.win = tuple(Idx(n, k) for n, k in zip(_WIN_IDX[rank], self.kernel, strict=True))
        # Zeros before the input along each axis (for a transposed convolution, before the
        # output of the forward convolution it transposes), as the frontend made them explicit.
        self.pads = tuple(before for before, _ in layer.attrs["pads"])

    def positions(self) -> tuple[Affine, ...]:
        """`s i + d u - p` along each spatial axis."""
        return tuple(
            at(Term(o, s), Term(w, d), -p)
            for o, w, s, d, p in zip(
                self.out, self.win, self.strides, self.dilations, self.pads, strict=True
            )
        )

    def sources(self) -> tuple[Affine, ...]:
        """`(i + p - d u) / s`: the input a transposed convolution spreads onto output `i`."""
        return tuple(
            Affine((Term(o), Term(w, -d)), p, s)
            for o, w, s, d, p in zip(
                self.out, self.win, self.strides, self.dilations, self.pads, strict=True
            )
        )

    def x(self, channel: Affine, spatial: tuple[Affine, ...] | None = None) -> Read:
        spatial = self.positions() if spatial is None else spatial
        maps = (channel, *spatial) if self.first else (*spatial, channel)
        return Read("x", ("input", 0), maps, outside=0.0 if self.padded else None)

    def output(self, channel: Idx) -> tuple[Idx, ...]:
        return (channel, *self.out) if self.first else (*self.out, channel)

    @property
    def example(self) -> tuple[int, ...]:
        """A corner where padding is read if any is: the first position when zeros come before
        the input, else the last (`same` padding with an even window pads at the end)."""
        spatial = tuple(
            0 if p > 0 or not self.padded or o.size is None else o.size - 1
            for p, o in zip(self.pads, self.out, strict=True)
        )
        return (0, *spatial) if self.first else (*spatial, 0)


def channels_last_of(layer: LayerRecord) -> bool:
    return layer.layout != "channels_first"


def _weight(symbol: str, name: str, maps: tuple[Affine, ...], order=None) -> Read:
    return Read(symbol, ("weight", name), maps, batched=False, order=order)


def _with_bias(layer: LayerRecord, body: Expr, index: Affine) -> Expr:
    if not _bias(layer):
        return body
    return Sum((_weight("b", "bias", (index,)), body))


class _SlidingWindow(LayerHandler):
    """Shared output-shape logic for ordinary, depthwise and separable convolutions."""

    def out_channels(self, layer: LayerRecord) -> int:
        return layer.attrs["filters"]

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        rank, kernel, strides, dilations = _window(layer)
        axes = spatial_axes(layer, rank)
        padding, pads = layer.attrs["padding"], layer.attrs["pads"]
        dims, formulas = [], []
        for axis, name, k, s, d, p in zip(
            axes, AXIS_NAMES[rank], kernel, strides, dilations, pads, strict=True
        ):
            dim, formula = window_output(layer.input_shape[axis], k, s, d, padding, name, p)
            dims.append(dim)
            formulas.append(formula)
        shape = with_dims(layer.input_shape, axes, dims, self.out_channels(layer), layer)
        note = "zero padding keeps ceil(n / s) positions" if padding == "same" else ""
        if padding == "causal":
            note = "causal padding adds d (k - 1) zeros at the start only"
        return ShapeMath(shape=shape, steps=steps_for(AXIS_NAMES[rank], formulas), note=note)


@register("Conv1D", "Conv2D", "Conv3D")
class ConvHandler(_SlidingWindow):
    summary = "convolution: each filter spans the window and every input channel"

    def params(self, layer: LayerRecord) -> ParamMath:
        c_in = Sym(r"c_{in}", _c_in(layer) // layer.attrs.get("groups", 1))
        c_out = Sym(r"c_{out}", layer.attrs["filters"])
        weights = product([*_kernel_syms(layer), c_in])
        if not _bias(layer):
            return params_from_parts(ParamPart("W", weights * c_out))
        return params_from_parts(
            ParamPart("W", Mul((weights, c_out))),
            ParamPart("b", c_out),
            formula=(weights + 1) * c_out,
        )

    def equation(self, layer: LayerRecord) -> TensorEquation | None:
        if layer.attrs.get("padding_mode", "zeros") != "zeros":
            return None  # reflected or repeated borders: not an index map with zeros outside
        win = _Window(layer, self.output_shape(layer).shape)
        groups = layer.attrs.get("groups", 1)
        k, c = Idx("q", layer.attrs["filters"]), Idx("c", _c_in(layer) // groups)
        aliases: tuple = ()
        note = ZERO_PADDING if win.padded else ""
        channel = at(c)
        if groups > 1:
            # Filter q reads only the channels of its group g: input channel g c_g + c.
            per_group = layer.attrs["filters"] // groups
            g = Idx("g", groups)
            aliases = ((g, Term(k, div=per_group)),)
            channel = at(Term(g, c.size), c)
            note += (
                rf" \quad (g = \lfloor q / {per_group} \rfloor: \text{{the group of filter }} q"
                rf"\text{{, which reads input channels }} {c.size} g, \dots, {c.size} g + "
                rf"{c.size - 1})"
            )
        w = _weight("W", "kernel", (*(at(u) for u in win.win), at(c), at(k)))
        body = Reduce("sum", (*win.win, c), Prod((w, win.x(channel))))
        return TensorEquation(
            win.output(k),
            _with_bias(layer, body, at(k)),
            activation_spec(layer),
            aliases=aliases,
            note=note,
            example=win.example,
        )


@register("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
class ConvTransposeHandler(ConvHandler):
    summary = "transposed convolution: each input scatters a filter-sized patch into the output"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        rank, kernel, strides, dilations = _window(layer)
        axes = spatial_axes(layer, rank)
        padding, pads = layer.attrs["padding"], layer.attrs["pads"]
        out_pad = layer.attrs.get("output_padding")
        out_pad = as_tuple(out_pad, rank) if out_pad is not None else (None,) * rank
        dims, formulas = [], []
        for axis, name, k, s, d, o, p in zip(
            axes, AXIS_NAMES[rank], kernel, strides, dilations, out_pad, pads, strict=True
        ):
            n = layer.input_shape[axis]
            dim, formula = transposed_output(n, k, s, d, padding, name, o, p)
            dims.append(dim)
            formulas.append(formula)
        shape = with_dims(layer.input_shape, axes, dims, layer.attrs["filters"], layer)
        return ShapeMath(shape=shape, steps=steps_for(AXIS_NAMES[rank], formulas))

    def equation(self, layer: LayerRecord) -> TensorEquation:
        win = _Window(layer, self.output_shape(layer).shape, transposed=True)
        k, c = Idx("q", layer.attrs["filters"]), Idx("c", _c_in(layer))
        w = _weight("W", "kernel", (*(at(u) for u in win.win), at(k), at(c)))
        x = win.x(at(c), win.sources())
        x = Read(x.symbol, x.source, x.maps, outside=0.0)
        body = Reduce("sum", (*win.win, c), Prod((w, x)))
        note = (
            r" \quad (\text{only the terms whose input index is a whole number inside } x"
            r"\text{; each input spreads its filter over the output})"
        )
        return TensorEquation(
            win.output(k),
            _with_bias(layer, body, at(k)),
            activation_spec(layer),
            note=note,
            example=win.example,
        )


@register("DepthwiseConv1D", "DepthwiseConv2D")
class DepthwiseConvHandler(_SlidingWindow):
    summary = "depthwise convolution: one filter per input channel, channels never mix"

    def out_channels(self, layer: LayerRecord) -> int:
        return _c_in(layer) * layer.attrs.get("depth_multiplier", 1)

    def params(self, layer: LayerRecord) -> ParamMath:
        c_in = Sym(r"c_{in}", _c_in(layer))
        m = Sym("M", layer.attrs.get("depth_multiplier", 1))
        window = product(_kernel_syms(layer))
        if not _bias(layer):
            return params_from_parts(ParamPart("W", Mul((window, c_in, m))))
        return params_from_parts(
            ParamPart("W", Mul((window, c_in, m))),
            ParamPart("b", Mul((c_in, m))),
            formula=Mul((window + 1, c_in, m)),
        )

    def equation(self, layer: LayerRecord) -> TensorEquation:
        return depthwise(layer, self.output_shape(layer).shape, "W", "kernel", "bias")


def depthwise(
    layer: LayerRecord,
    out_shape: tuple,
    symbol: str,
    kernel: str,
    bias: str | None,
    q_name: str = "q",
) -> TensorEquation:
    """`a_{i,j,Mc+q} = b_{Mc+q} + sum_{u,v} W_{u,v,c,q} x_{si+du-p, sj+dv-p, c}`: channel `c`
    feeds output channels `Mc, ..., Mc + M - 1` (depth multiplier `M`), never another. A
    separable convolution names the multiplier's index `q'` (`q` is its filters' index)."""
    win = _Window(layer, out_shape)
    m, c_in = layer.attrs.get("depth_multiplier", 1), _c_in(layer)
    if m == 1:
        c = Idx("c", c_in)
        out, aliases, channel = c, (), at(c)
        w = _weight(symbol, kernel, (*(at(u) for u in win.win), at(c), Affine(())))
        w = Read(w.symbol, w.source, w.maps, batched=False, order=tuple(range(len(win.win) + 1)))
    else:
        out = Idx("Mc+q", c_in * m, label=f"{m}c+{q_name}")
        c, q = Idx("c", c_in), Idx(q_name, m)
        aliases = ((c, Term(out, div=m)), (q, Term(out, mod=m)))
        channel = at(Term(c, m), q)
        w = _weight(symbol, kernel, (*(at(u) for u in win.win), at(c), at(q)))
    body: Expr = Reduce("sum", win.win, Prod((w, win.x(at(c)))))
    if bias is not None and _bias(layer):
        body = Sum((_weight("b", bias, (channel,)), body))
    return TensorEquation(
        win.output(out),
        body,
        activation_spec(layer) if bias is not None else "linear",
        aliases=aliases,
        note=(rf", \quad {index_range('q', m - 1)}" if m > 1 and bias is not None else "")
        + (ZERO_PADDING if win.padded else ""),
        example=win.example,
        symbol="a" if bias is not None else DEPTHWISE_OUT,
    )


@register("SeparableConv1D", "SeparableConv2D")
class SeparableConvHandler(_SlidingWindow):
    summary = "separable convolution: a depthwise convolution, then a 1x1 convolution"

    def params(self, layer: LayerRecord) -> ParamMath:
        c_in = Sym(r"c_{in}", _c_in(layer))
        m = Sym("M", layer.attrs.get("depth_multiplier", 1))
        c_out = Sym(r"c_{out}", layer.attrs["filters"])
        depthwise = Mul((*_kernel_syms(layer), c_in, m))
        pointwise = Mul((c_in, m, c_out))
        parts = [ParamPart("depthwise W", depthwise), ParamPart("pointwise W", pointwise)]
        if _bias(layer):
            parts.append(ParamPart("b", c_out))
            return params_from_parts(*parts, formula=depthwise + (Mul((c_in, m)) + 1) * c_out)
        return params_from_parts(*parts)

    def equation(self, layer: LayerRecord) -> TensorEquation:
        # The depthwise step defines a^dw with c_in M channels; the 1x1 step sums over them all.
        shape = self.output_shape(layer).shape
        y = depthwise(layer, shape, r"W^{\mathrm{dw}}", "depthwise_kernel", None, q_name="q'")
        m = layer.attrs.get("depth_multiplier", 1)
        note = ", \\quad " + index_range("q'", m - 1) if m > 1 else ""
        y = replace(y, note=note, example=None)
        win = _Window(layer, shape)
        k = Idx("q", layer.attrs["filters"])
        n = Idx("c'", _c_in(layer) * layer.attrs.get("depth_multiplier", 1))
        out = win.output(k)
        spatial = tuple(at(i) for i in win.out)
        y_maps = (at(n), *spatial) if win.first else (*spatial, at(n))
        read_y = Read(DEPTHWISE_OUT, ("def", DEPTHWISE_OUT), y_maps)
        rank = len(win.out)
        p = _weight(
            r"W^{\mathrm{pw}}",
            "pointwise_kernel",
            (*([Affine(())] * rank), at(n), at(k)),
            order=(rank, rank + 1),
        )
        body = Reduce("sum", (n,), Prod((p, read_y)))
        return TensorEquation(
            out,
            _with_bias(layer, body, at(k)),
            activation_spec(layer),
            definitions=(y,),
            definitions_first=True,
            note=ZERO_PADDING if win.padded else "",
            example=win.example,
        )
