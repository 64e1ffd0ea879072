"""Normalization: layers that shift and scale their inputs to a standard mean and spread."""

from __future__ import annotations

from generator.layers.activation import number
from generator.layers.formula import Formula, Mul, Num, Sym, product
from generator.layers.registry import (
    LayerHandler,
    ParamMath,
    ParamPart,
    params_from_parts,
    register,
)
from generator.model.graph import LayerRecord


def _axes(layer: LayerRecord, default: int | list[int] | None = -1) -> list[int]:
    """The config's `axis` as non-negative input axes (an int or a list in the config)."""
    axis = layer.config.get("axis", default)
    if axis is None:
        return []
    axis = [axis] if isinstance(axis, int) else list(axis)
    rank = len(layer.input_shape)
    return sorted(a % rank for a in axis)


def _trainable(layer: LayerRecord, weight: str, default: bool) -> bool:
    """Whether `weight` trains: as recorded (a frozen layer's do not), else `default`."""
    record = layer.weight(weight)
    return record.trainable if record is not None else default


def _size_syms(layer: LayerRecord, axes: list[int]) -> list[Formula]:
    """The sizes of `axes` as symbols; the last axis is the channel count `c`."""
    last = len(layer.input_shape) - 1
    return [Sym("c" if a == last else f"n_{a}", layer.input_shape[a]) for a in axes]


def _eps(layer: LayerRecord) -> str:
    return number(layer.config.get("epsilon", 1e-3))


def _scale_shift_parts(
    layer: LayerRecord, c: Formula, scale: bool, center: bool
) -> list[ParamPart]:
    """The learned scale `gamma` and shift `beta`, each of size `c`, where the config has them."""
    parts = []
    if scale:
        parts.append(ParamPart(r"\gamma", c, _trainable(layer, "gamma", True)))
    if center:
        parts.append(ParamPart(r"\beta", c, _trainable(layer, "beta", True)))
    return parts


def _scale_shift_count(parts: list[ParamPart], c: Formula) -> ParamMath:
    """`2c` for a scale and a shift, `c` for one of them, 0 for neither."""
    if not parts:
        return params_from_parts(formula=Num(0))
    return params_from_parts(*parts, formula=Mul((Num(len(parts)), c)) if len(parts) > 1 else None)


def _scale_shift_latex(layer: LayerRecord, index: str) -> tuple[str, str]:
    """`\\gamma_c\\, ` and ` + \\beta_c` for the equation, empty where the config has none."""
    gamma = rf"\gamma_{index}\, " if layer.config.get("scale", True) else ""
    beta = rf" + \beta_{index}" if layer.config.get("center", True) else ""
    return gamma, beta


@register("BatchNormalization")
class BatchNormalizationHandler(LayerHandler):
    summary = "batch normalization: per channel, standardize with running statistics, then scale"

    def params(self, layer: LayerRecord) -> ParamMath:
        c = product(_size_syms(layer, _axes(layer)))
        parts = _scale_shift_parts(
            layer, c, layer.config.get("scale", True), layer.config.get("center", True)
        )
        parts += [ParamPart(r"\mu", c, trainable=False), ParamPart(r"\sigma^2", c, trainable=False)]
        return params_from_parts(*parts, formula=Mul((Num(len(parts)), c)))

    def equation(self, layer: LayerRecord) -> str:
        gamma, beta = _scale_shift_latex(layer, "c")
        return (
            rf"a_{{\dots,c}} = {gamma}\frac{{x_{{\dots,c}} - \mu_c}}{{\sqrt{{\sigma^2_c + "
            rf"{_eps(layer)}}}}}{beta} \quad (\text{{at inference: }} \mu_c, \sigma^2_c "
            r"\text{ are the moving mean and variance, not trained by gradient})"
        )


@register("LayerNormalization")
class LayerNormalizationHandler(LayerHandler):
    summary = "layer normalization: each example standardized over its own features"

    def params(self, layer: LayerRecord) -> ParamMath:
        c = product(_size_syms(layer, _axes(layer)))
        rms = layer.config.get("rms_scaling", False)
        scale = layer.config.get("scale", True) or rms
        center = layer.config.get("center", True) and not rms
        return _scale_shift_count(_scale_shift_parts(layer, c, scale, center), c)

    def equation(self, layer: LayerRecord) -> str:
        axes = _axes(layer)
        over = "the last axis" if axes == [len(layer.input_shape) - 1] else f"axes {axes}"
        eps = _eps(layer)
        if layer.config.get("rms_scaling", False):
            # Keras's (deprecated) rms_scaling divides by the standard deviation, as written.
            return (
                rf"a_k = \gamma_k \frac{{x_k}}{{\sqrt{{\sigma^2 + {eps}}}}}, \quad "
                rf"\sigma^2 = \frac{{1}}{{n}}\sum_m (x_m - \mu)^2 \quad (\text{{over {over}; "
                r"} x \text{ is not centered})"
            )
        gamma, beta = _scale_shift_latex(layer, "k")
        return (
            rf"a_k = {gamma}\frac{{x_k - \mu}}{{\sqrt{{\sigma^2 + {eps}}}}}{beta}, \quad "
            rf"\mu = \frac{{1}}{{n}}\sum_m x_m,\ \sigma^2 = \frac{{1}}{{n}}\sum_m (x_m - \mu)^2 "
            rf"\quad (\text{{over {over}, for each example}})"
        )


@register("RMSNormalization")
class RMSNormalizationHandler(LayerHandler):
    summary = "RMS normalization: each example divided by its root mean square, then scaled"

    def params(self, layer: LayerRecord) -> ParamMath:
        c = product(_size_syms(layer, _axes(layer)))
        return params_from_parts(ParamPart(r"\gamma", c, _trainable(layer, "scale", True)))

    def equation(self, layer: LayerRecord) -> str:
        eps = layer.config.get("epsilon")
        eps = r"\epsilon" if eps is None else number(eps)
        return (
            rf"a_k = \gamma_k \frac{{x_k}}{{\sqrt{{\frac{{1}}{{n}}\sum_m x_m^2 + {eps}}}}}"
            r" \quad (\text{over the normalized axes, for each example})"
        )


@register("GroupNormalization")
class GroupNormalizationHandler(LayerHandler):
    summary = "group normalization: channels split into groups, each standardized per example"

    def params(self, layer: LayerRecord) -> ParamMath:
        c = product(_size_syms(layer, _axes(layer)))
        scale, center = layer.config.get("scale", True), layer.config.get("center", True)
        return _scale_shift_count(_scale_shift_parts(layer, c, scale, center), c)

    def equation(self, layer: LayerRecord) -> str:
        groups = layer.config.get("groups", 32)
        gamma, beta = _scale_shift_latex(layer, "c")
        return (
            rf"a_{{\dots,c}} = {gamma}\frac{{x_{{\dots,c}} - \mu_{{g(c)}}}}"
            rf"{{\sqrt{{\sigma^2_{{g(c)}} + {_eps(layer)}}}}}{beta} \quad (\mu_g, \sigma^2_g: "
            rf"\text{{mean and variance over every position and the channels of group }} g "
            rf"\text{{ of {groups}, for each example}})"
        )


@register("UnitNormalization")
class UnitNormalizationHandler(LayerHandler):
    summary = "unit normalization: each vector divided by its Euclidean length"

    def equation(self, layer: LayerRecord) -> str:
        return r"a_k = \frac{x_k}{\sqrt{\sum_m x_m^2}} \quad (\text{over the last axis})"


@register("Normalization")
class NormalizationHandler(LayerHandler):
    summary = "normalization: standardize with a mean and variance fixed before training"

    def params(self, layer: LayerRecord) -> ParamMath:
        if layer.config.get("mean") is not None and layer.config.get("variance") is not None:
            return params_from_parts(formula=Num(0))  # given as constants, not weights
        c = product(_size_syms(layer, _axes(layer)))
        parts = (
            ParamPart(r"\mu", c, trainable=False),
            ParamPart(r"\sigma^2", c, trainable=False),
            ParamPart("count", Num(1), trainable=False),
        )
        return params_from_parts(*parts, formula=Mul((Num(2), c)) + 1)

    def equation(self, layer: LayerRecord) -> str:
        sub = "_c" if _axes(layer) else ""
        mu, var = rf"\mu{sub}", rf"\sigma^2{sub}"
        x = r"x_{\dots,c}" if sub else "x"
        lhs = r"a_{\dots,c}" if sub else "a"
        if layer.config.get("invert", False):
            return rf"{lhs} = \mu{sub} + {x} \sqrt{{{var}}}"
        return (
            rf"{lhs} = \frac{{{x} - {mu}}}{{\max\left(\sqrt{{{var}}}, 10^{{-7}}\right)}} "
            r"\quad (\mu, \sigma^2: \text{fixed by } \mathtt{adapt()} \text{ or given})"
        )


@register("Rescaling")
class RescalingHandler(LayerHandler):
    summary = "rescaling: every input multiplied by a constant and shifted"

    def equation(self, layer: LayerRecord) -> str:
        scale, offset = layer.config.get("scale", 1.0), layer.config.get("offset", 0.0)
        per_channel = isinstance(scale, list) or isinstance(offset, list)
        s, o = constant_latex(scale, "s_c"), constant_latex(offset, "o_c")
        x = r"x_{\dots,c}" if per_channel else "x"
        lhs = r"a_{\dots,c}" if per_channel else "a"
        body = x if s == "1" else rf"{s}\, {x}"
        if o != "0":
            body += f" - {o[1:]}" if o.startswith("-") else f" + {o}"
        values = ""
        if isinstance(scale, list):
            values += rf", \quad s = ({', '.join(number(v) for v in scale)})"
        if isinstance(offset, list):
            values += rf", \quad o = ({', '.join(number(v) for v in offset)})"
        return f"{lhs} = {body}{values}"


def constant_latex(value: float | list[float], symbol: str) -> str:
    """A scale or offset: `\\frac{1}{255}` when it is one over an integer, `symbol` if a list."""
    if isinstance(value, list):
        return symbol
    value = float(value)
    if value and not value.is_integer() and abs(1 / value - round(1 / value)) < 1e-6:
        sign = "-" if value < 0 else ""
        return rf"{sign}\frac{{1}}{{{abs(round(1 / value))}}}"
    return number(value)
