"""Convolutions: ordinary, transposed, depthwise and separable, in 1, 2 and 3 dimensions."""

from __future__ import annotations

from generator.layers.common import (
    AXIS_NAMES,
    activated,
    as_tuple,
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
from generator.layers.registry import (
    LayerHandler,
    ParamMath,
    ParamPart,
    ShapeMath,
    params_from_parts,
    register,
)
from generator.model.graph import LayerRecord


def _window(layer: LayerRecord) -> tuple[int, tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    rank = _rank(layer)
    return (
        rank,
        as_tuple(layer.config["kernel_size"], rank),
        as_tuple(layer.config.get("strides", 1), rank),
        as_tuple(layer.config.get("dilation_rate", 1), rank),
    )


def _kernel_syms(layer: LayerRecord) -> list[Formula]:
    rank, kernel, _, _ = _window(layer)
    names = AXIS_NAMES[rank] if rank > 1 else ("",)
    return [Sym(f"k_{a}" if a else "k", k) for a, k in zip(names, kernel, strict=True)]


def _c_in(layer: LayerRecord) -> int:
    return layer.input_shape[channel_axis(layer)]


def _bias(layer: LayerRecord) -> bool:
    return layer.config.get("use_bias", True)


def _index_terms(layer: LayerRecord, out_idx: tuple[str, ...], win_idx: tuple[str, ...]) -> str:
    """`s i + d u` for each spatial axis, leaving out unit strides and dilations."""
    _, _, strides, dilations = _window(layer)
    terms = []
    for o, w, s, d in zip(out_idx, win_idx, strides, dilations, strict=True):
        terms.append(f"{'' if s == 1 else s}{o} + {'' if d == 1 else d}{w}")
    return r",\, ".join(terms)


def _sums(idx: tuple[str, ...], limits: tuple[int, ...]) -> str:
    return " ".join(rf"\sum_{{{i}=0}}^{{{n - 1}}}" for i, n in zip(idx, limits, strict=True))


_OUT_IDX = {1: ("t",), 2: ("i", "j"), 3: ("i", "j", "l")}
_WIN_IDX = {1: ("u",), 2: ("u", "v"), 3: ("u", "v", "r")}


class _SlidingWindow(LayerHandler):
    """Shared output-shape logic for ordinary, depthwise and separable convolutions."""

    def out_channels(self, layer: LayerRecord) -> int:
        return layer.config["filters"]

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        rank, kernel, strides, dilations = _window(layer)
        axes = spatial_axes(layer, rank)
        padding = layer.config.get("padding", "valid")
        dims, formulas = [], []
        for axis, name, k, s, d in zip(
            axes, AXIS_NAMES[rank], kernel, strides, dilations, strict=True
        ):
            dim, formula = window_output(layer.input_shape[axis], k, s, d, padding, name)
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
        c_in = Sym(r"c_{in}", _c_in(layer) // layer.config.get("groups", 1))
        c_out = Sym(r"c_{out}", layer.config["filters"])
        weights = product([*_kernel_syms(layer), c_in])
        if not _bias(layer):
            return params_from_parts(ParamPart("W", weights * c_out))
        return params_from_parts(
            ParamPart("W", Mul((weights, c_out))),
            ParamPart("b", c_out),
            formula=(weights + 1) * c_out,
        )

    def equation(self, layer: LayerRecord) -> str:
        rank, kernel, _, _ = _window(layer)
        out_idx, win_idx = _OUT_IDX[rank], _WIN_IDX[rank]
        c_in = _c_in(layer) // layer.config.get("groups", 1)
        x = r"\tilde{x}" if layer.config.get("padding", "valid") != "valid" else "x"
        bias = "b_k + " if _bias(layer) else ""
        inner = (
            rf"{bias}{_sums(win_idx, kernel)} \sum_{{c=0}}^{{{c_in - 1}}} "
            rf"W_{{{','.join(win_idx)},c,k}}\, {x}_{{{_index_terms(layer, out_idx, win_idx)},\, c}}"
        )
        padded = r" \quad (\tilde{x}: x \text{ padded with zeros})" if x != "x" else ""
        return f"{activated(layer, (*out_idx, 'k'), inner)}{padded}"


@register("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
class ConvTransposeHandler(ConvHandler):
    summary = "transposed convolution: each input scatters a filter-sized patch into the output"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        rank, kernel, strides, dilations = _window(layer)
        axes = spatial_axes(layer, rank)
        padding = layer.config.get("padding", "valid")
        out_pad = layer.config.get("output_padding")
        out_pad = as_tuple(out_pad, rank) if out_pad is not None else (None,) * rank
        dims, formulas = [], []
        for axis, name, k, s, d, o in zip(
            axes, AXIS_NAMES[rank], kernel, strides, dilations, out_pad, strict=True
        ):
            dim, formula = transposed_output(layer.input_shape[axis], k, s, d, padding, name, o)
            dims.append(dim)
            formulas.append(formula)
        shape = with_dims(layer.input_shape, axes, dims, layer.config["filters"], layer)
        return ShapeMath(shape=shape, steps=steps_for(AXIS_NAMES[rank], formulas))

    def equation(self, layer: LayerRecord) -> str:
        rank, kernel, strides, _ = _window(layer)
        out_idx, win_idx = _OUT_IDX[rank], _WIN_IDX[rank]
        src = ("m", "n", "q")[:rank]
        cond = r",\ ".join(
            f"{'' if s == 1 else s}{m} + {u} = {o}"
            for m, u, s, o in zip(src, win_idx, strides, out_idx, strict=True)
        )
        bias = "b_k + " if _bias(layer) else ""
        inner = (
            rf"{bias}\sum_{{{','.join(src)},\,{','.join(win_idx)}:\ {cond}}} "
            rf"\sum_{{c=0}}^{{{_c_in(layer) - 1}}} W_{{{','.join(win_idx)},k,c}}\, "
            rf"x_{{{','.join(src)},c}}"
        )
        return activated(layer, (*out_idx, "k"), inner)


@register("DepthwiseConv1D", "DepthwiseConv2D")
class DepthwiseConvHandler(_SlidingWindow):
    summary = "depthwise convolution: one filter per input channel, channels never mix"

    def out_channels(self, layer: LayerRecord) -> int:
        return _c_in(layer) * layer.config.get("depth_multiplier", 1)

    def params(self, layer: LayerRecord) -> ParamMath:
        c_in = Sym(r"c_{in}", _c_in(layer))
        m = Sym("m", layer.config.get("depth_multiplier", 1))
        window = product(_kernel_syms(layer))
        if not _bias(layer):
            return params_from_parts(ParamPart("W", Mul((window, c_in, m))))
        return params_from_parts(
            ParamPart("W", Mul((window, c_in, m))),
            ParamPart("b", Mul((c_in, m))),
            formula=Mul((window + 1, c_in, m)),
        )

    def equation(self, layer: LayerRecord) -> str:
        rank, kernel, _, _ = _window(layer)
        out_idx, win_idx = _OUT_IDX[rank], _WIN_IDX[rank]
        m = layer.config.get("depth_multiplier", 1)
        x = r"\tilde{x}" if layer.config.get("padding", "valid") != "valid" else "x"
        bias = "b_{c,q} + " if _bias(layer) else ""
        inner = (
            rf"{bias}{_sums(win_idx, kernel)} W_{{{','.join(win_idx)},c,q}}\, "
            rf"{x}_{{{_index_terms(layer, out_idx, win_idx)},\, c}}"
        )
        channel = rf"\, {m}c+q" if m > 1 else "c"
        rng = rf", \quad q = 0, \dots, {m - 1}" if m > 1 else ""
        inner = inner if m > 1 else inner.replace(",q}", "}")
        return f"{activated(layer, (*out_idx, channel), inner)}{rng}"


@register("SeparableConv1D", "SeparableConv2D")
class SeparableConvHandler(_SlidingWindow):
    summary = "separable convolution: a depthwise convolution, then a 1x1 convolution"

    def params(self, layer: LayerRecord) -> ParamMath:
        c_in = Sym(r"c_{in}", _c_in(layer))
        m = Sym("m", layer.config.get("depth_multiplier", 1))
        c_out = Sym(r"c_{out}", layer.config["filters"])
        depthwise = Mul((*_kernel_syms(layer), c_in, m))
        pointwise = Mul((c_in, m, c_out))
        parts = [ParamPart("depthwise W", depthwise), ParamPart("pointwise W", pointwise)]
        if _bias(layer):
            parts.append(ParamPart("b", c_out))
            return params_from_parts(*parts, formula=depthwise + (Mul((c_in, m)) + 1) * c_out)
        return params_from_parts(*parts)

    def equation(self, layer: LayerRecord) -> str:
        rank, kernel, _, _ = _window(layer)
        out_idx, win_idx = _OUT_IDX[rank], _WIN_IDX[rank]
        c_in = _c_in(layer)
        m = layer.config.get("depth_multiplier", 1)
        x = r"\tilde{x}" if layer.config.get("padding", "valid") != "valid" else "x"
        depth = (
            rf"y_{{{','.join(out_idx)},c}} = {_sums(win_idx, kernel)} "
            rf"D_{{{','.join(win_idx)},c}}\, {x}_{{{_index_terms(layer, out_idx, win_idx)},\, c}}"
        )
        bias = "b_k + " if _bias(layer) else ""
        inner = rf"{bias}\sum_{{c=0}}^{{{c_in * m - 1}}} P_{{c,k}}\, y_{{{','.join(out_idx)},c}}"
        return rf"{depth}, \qquad {activated(layer, (*out_idx, 'k'), inner)}"
