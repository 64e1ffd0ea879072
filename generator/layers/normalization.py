"""Normalization: layers that shift and scale their inputs to a standard mean and spread."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from generator.layers.activation import number
from generator.layers.formula import Formula, Mul, Num, Sym, product
from generator.layers.registry import (
    NO_PARAMS,
    AffineMap,
    LayerHandler,
    ParamMath,
    ParamPart,
    params_from_parts,
    register,
)
from generator.layers.tensor_equation import TensorEquation, hidden_indices, read_all
from generator.layers.tensor_expr import (
    Affine,
    Const,
    Expr,
    Func,
    Idx,
    Prod,
    Read,
    Reduce,
    Sum,
    Term,
    at,
)
from generator.model.graph import LayerRecord


def _axes(layer: LayerRecord, default: int | list[int] | None = -1) -> list[int]:
    """The attrs's `axis` as non-negative input axes (an int or a list in the attrs)."""
    axis = layer.attrs.get("axis", default)
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
    """The sizes of `axes` as symbols; the last axis is the channel count `c_{in}`."""
    last = len(layer.input_shape) - 1
    return [Sym(r"c_{in}" if a == last else f"n_{a}", layer.input_shape[a]) for a in axes]


def _eps(layer: LayerRecord) -> str:
    return number(layer.attrs.get("epsilon", 1e-3))


def _scale_shift_parts(
    layer: LayerRecord, c: Formula, scale: bool, center: bool
) -> list[ParamPart]:
    """The learned scale `gamma` and shift `beta`, each of size `c`, where the attrs has them."""
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
    """`\\gamma_c\\, ` and ` + \\beta_c` for the equation, empty where the attrs has none."""
    gamma = rf"\gamma_{index}\, " if layer.attrs.get("scale", True) else ""
    beta = rf" + \beta_{index}" if layer.attrs.get("center", True) else ""
    return gamma, beta


def _channel_indices(layer: LayerRecord, axes: list[int], name: str = "c") -> tuple[Idx, ...]:
    """Hidden indices, except the normalized `axes` (`c`); leading axes print as `\\dots`."""
    out = list(hidden_indices(layer.input_shape))
    names = [name] if len(axes) == 1 else [f"{name}_{k}" for k in range(len(axes))]
    for axis, n in zip(axes, names, strict=True):
        out[axis - 1] = Idx(n, layer.input_shape[axis])
    if out and not out[0].shown:
        out[0] = Idx(r"\dots", out[0].size)
    return tuple(out)


def _param(symbol: str, name: str, indices: tuple[Idx, ...], axes: list[int]) -> Read:
    """A per-channel weight (`\\gamma_c`) read along the normalized axes."""
    return Read(symbol, ("weight", name), tuple(at(indices[a - 1]) for a in axes), batched=False)


def _standardized(
    layer: LayerRecord,
    x: Expr,
    mu: Expr,
    var: Expr,
    eps: float,
    index: tuple[Idx, ...],
    axes: list[int],
    names: tuple[str, str] = ("gamma", "beta"),
) -> Expr:
    """`gamma (x - mu) / sqrt(var + eps) + beta`, with the scale and shift the attrs has."""
    body: Expr = Func(
        lambda a, m, v: (a - m) / np.sqrt(v + eps),
        (x, mu, var),
        rf"\frac{{{{{{0}} - {{1}}}}}}{{{{\sqrt{{{{{{2}} + {number(eps)}}}}}}}}}",
    )
    if layer.attrs.get("scale", True):
        body = Prod((_param(r"\gamma", names[0], index, axes), body))
    if layer.attrs.get("center", True):
        body = Sum((body, _param(r"\beta", names[1], index, axes)))
    return body


@register("BatchNormalization")
class BatchNormalizationHandler(LayerHandler):
    summary = "batch normalization: per channel, standardize with running statistics, then scale"

    def affine(self, layer: LayerRecord, weight, n: int) -> AffineMap:
        return folded_affine(layer, weight, n)

    def params(self, layer: LayerRecord) -> ParamMath:
        c = product(_size_syms(layer, _axes(layer)))
        parts = _scale_shift_parts(
            layer, c, layer.attrs.get("scale", True), layer.attrs.get("center", True)
        )
        parts += [
            ParamPart(r"\mu", c, trainable=False),
            ParamPart(r"\mathrm{var}", c, trainable=False),
        ]
        return params_from_parts(*parts, formula=Mul((Num(len(parts)), c)))

    def equation(self, layer: LayerRecord) -> TensorEquation:
        axes = _axes(layer)
        index = _channel_indices(layer, axes)
        mu = _param(r"\mu", "moving_mean", index, axes)
        var = _param(r"\mathrm{var}", "moving_variance", index, axes)
        eps = float(layer.attrs.get("epsilon", 1e-3))
        body = _standardized(layer, read_all("x", 0, index), mu, var, eps, index, axes)
        note = (
            r" \quad (\text{at inference: } \mu_c, \mathrm{var}_c \text{ are the moving mean and "
            r"variance, not trained by gradient})"
        )
        return TensorEquation(index, body, note=note)


@register("LayerNormalization")
class LayerNormalizationHandler(LayerHandler):
    summary = "layer normalization: each example standardized over its own features"

    def params(self, layer: LayerRecord) -> ParamMath:
        c = product(_size_syms(layer, _axes(layer)))
        rms = layer.attrs.get("rms_scaling", False)
        scale = layer.attrs.get("scale", True) or rms
        center = layer.attrs.get("center", True) and not rms
        return _scale_shift_count(_scale_shift_parts(layer, c, scale, center), c)

    def equation(self, layer: LayerRecord) -> TensorEquation:
        axes = _axes(layer)
        over = "the last axis" if axes == [len(layer.input_shape) - 1] else f"axes {axes}"
        eps = float(layer.attrs.get("epsilon", 1e-3))
        index, mu, var, defs = _moments(layer, axes, r"\mu", r"\mathrm{var}")
        x = read_all("x", 0, index)
        note = rf" \quad (\text{{over {over}, for each example}})"
        if layer.attrs.get("rms_scaling", False):
            # Keras's (deprecated) rms_scaling divides by the standard deviation, as written.
            body: Expr = Func(
                lambda a, v: a / np.sqrt(v + eps),
                (x, var),
                rf"\frac{{{{{{0}}}}}}{{{{\sqrt{{{{{{1}} + {number(eps)}}}}}}}}}",
            )
            body = Prod((_param(r"\gamma", "gamma", index, axes), body))
            note = rf" \quad (\text{{over {over}; }} x \text{{ is not centered}})"
        else:
            body = _standardized(layer, x, mu, var, eps, index, axes)
        return TensorEquation(index, body, definitions=defs, note=note)


def _moments(
    layer: LayerRecord, axes: list[int], mu_symbol: str, var_symbol: str
) -> tuple[tuple[Idx, ...], Read, Read, tuple[TensorEquation, ...]]:
    """The output's indices and the mean and variance of each example over `axes`."""
    index = list(hidden_indices(layer.input_shape))
    names = ("j", "j'", "j''")
    window = ("i", "i'", "i''")
    for pos, axis in enumerate(axes):
        index[axis - 1] = Idx(names[pos], layer.input_shape[axis])
    kept = [k for k in range(len(index)) if k + 1 not in axes]
    stat_index = tuple(index[k] for k in kept)
    inner = list(index)
    sums = []
    for pos, axis in enumerate(axes):
        inner[axis - 1] = Idx(window[pos], layer.input_shape[axis])
        sums.append(inner[axis - 1])
    stat = tuple(at(i) for i in stat_index)
    mu = Read(mu_symbol, ("def", mu_symbol), stat)
    x_m = read_all("x", 0, inner)
    mu_eq = TensorEquation(stat_index, Reduce("mean", tuple(sums), x_m), symbol=mu_symbol)
    square = Func(lambda a, m: (a - m) ** 2, (x_m, mu), r"({0} - {1})^2")
    var_eq = TensorEquation(stat_index, Reduce("mean", tuple(sums), square), symbol=var_symbol)
    var = Read(var_symbol, ("def", var_symbol), stat)
    return tuple(index), mu, var, (mu_eq, var_eq)


@register("RMSNormalization")
class RMSNormalizationHandler(LayerHandler):
    summary = "RMS normalization: each example divided by its root mean square, then scaled"

    def params(self, layer: LayerRecord) -> ParamMath:
        if not layer.attrs.get("scale", True):  # PyTorch's elementwise_affine=False
            return NO_PARAMS
        c = product(_size_syms(layer, _axes(layer)))
        return params_from_parts(ParamPart(r"\gamma", c, _trainable(layer, "scale", True)))

    def equation(self, layer: LayerRecord) -> TensorEquation:
        eps = layer.attrs.get("epsilon")
        eps = 1e-7 if eps is None else float(eps)  # Keras's backend epsilon when not given
        axes = _axes(layer)
        index, _, _, _ = _moments(layer, axes, "", "")
        inner = [Idx(("i", "i'", "i''")[p], layer.input_shape[a]) for p, a in enumerate(axes)]
        reads = list(index)
        for axis, i in zip(axes, inner, strict=True):
            reads[axis - 1] = i
        mean_square = Reduce(
            "mean", tuple(inner), Func(np.square, (read_all("x", 0, reads),), "{0}^2")
        )
        body = Func(
            lambda a, ms: a / np.sqrt(ms + eps),
            (read_all("x", 0, index), mean_square),
            rf"\frac{{{{{{0}}}}}}{{{{\sqrt{{{{{{1}} + {number(eps)}}}}}}}}}",
        )
        if layer.attrs.get("scale", True):
            body = Prod((_param(r"\gamma", "scale", index, axes), body))
        return TensorEquation(
            index, body, note=r" \quad (\text{over the normalized axes, for each example})"
        )


@register("GroupNormalization")
class GroupNormalizationHandler(LayerHandler):
    summary = "group normalization: channels split into groups, each standardized per example"

    def params(self, layer: LayerRecord) -> ParamMath:
        c = product(_size_syms(layer, _axes(layer)))
        scale, center = layer.attrs.get("scale", True), layer.attrs.get("center", True)
        return _scale_shift_count(_scale_shift_parts(layer, c, scale, center), c)

    def equation(self, layer: LayerRecord) -> TensorEquation:
        groups = layer.attrs.get("groups", 32)
        axis = _axes(layer)[0]
        index = _channel_indices(layer, [axis])
        size = layer.input_shape[axis] // groups
        g, c_g = Idx(r"\mathrm{grp}", groups), Idx("c", size)
        dims = layer.input_shape[1:]
        names = {1: ("t",), 2: ("i", "j"), 3: ("o", "i", "j")}.get(len(dims) - 1, "mrsn")
        spatial = iter(names)  # the other axes, in order: channels may come first or last
        window = [c_g if k == axis - 1 else Idx(next(spatial), d) for k, d in enumerate(dims)]
        reads = [at(w) for w in window]
        reads[axis - 1] = at(Term(g, size), c_g)
        x_m = Read("x", ("input", 0), tuple(reads))
        sums = tuple(window)
        mu_eq = TensorEquation((g,), Reduce("mean", sums, x_m), symbol=r"\mu")
        group = Affine((Term(index[axis - 1], div=size),))
        mu_at_g = Read(r"\mu", ("def", r"\mu"), (at(g),))
        square = Func(lambda a, m: (a - m) ** 2, (x_m, mu_at_g), r"({0} - {1})^2")
        var_eq = TensorEquation((g,), Reduce("mean", sums, square), symbol=r"\mathrm{var}")
        mu = Read(r"\mu", ("def", r"\mu"), (group,))
        var = Read(r"\mathrm{var}", ("def", r"\mathrm{var}"), (group,))
        eps = float(layer.attrs.get("epsilon", 1e-3))
        body = _standardized(layer, read_all("x", 0, index), mu, var, eps, index, [axis])
        note = (
            rf" \quad (\mu_{{\mathrm{{grp}}}}, \mathrm{{var}}_{{\mathrm{{grp}}}}: \text{{mean and "
            rf"variance over every position and the {size} channels of group }} \mathrm{{grp}}(c) "
            rf"= \lfloor c / {size} \rfloor \text{{ of {groups}, "
            r"for each example})"
        )
        return TensorEquation(index, body, definitions=(mu_eq, var_eq), note=note)


@register("UnitNormalization")
class UnitNormalizationHandler(LayerHandler):
    summary = "unit normalization: each vector divided by its Euclidean length"

    def equation(self, layer: LayerRecord) -> TensorEquation:
        axes = _axes(layer)
        index, _, _, _ = _moments(layer, axes, "", "")
        inner = [Idx(("i", "i'", "i''")[p], layer.input_shape[a]) for p, a in enumerate(axes)]
        reads = list(index)
        for axis, i in zip(axes, inner, strict=True):
            reads[axis - 1] = i
        total = Reduce("sum", tuple(inner), Func(np.square, (read_all("x", 0, reads),), "{0}^2"))
        body = Func(
            lambda a, ss: a / np.sqrt(np.maximum(ss, 1e-12)),
            (read_all("x", 0, index), total),
            r"\frac{{{0}}}{{\sqrt{{{1}}}}}",
        )
        return TensorEquation(index, body, note=r" \quad (\text{over the last axis})")


@register("Normalization")
class NormalizationHandler(LayerHandler):
    summary = "normalization: standardize with a mean and variance fixed before training"

    def affine(self, layer: LayerRecord, weight, n: int) -> AffineMap:
        return folded_affine(layer, weight, n)

    def params(self, layer: LayerRecord) -> ParamMath:
        if layer.attrs.get("mean") is not None and layer.attrs.get("variance") is not None:
            return params_from_parts(formula=Num(0))  # given as constants, not weights
        c = product(_size_syms(layer, _axes(layer)))
        parts = (
            ParamPart(r"\mu", c, trainable=False),
            ParamPart(r"\mathrm{var}", c, trainable=False),
            ParamPart("count", Num(1), trainable=False),
        )
        return params_from_parts(*parts, formula=Mul((Num(2), c)) + 1)

    def equation(self, layer: LayerRecord) -> TensorEquation:
        axes = _axes(layer)
        index = _channel_indices(layer, axes) if axes else hidden_indices(layer.input_shape)
        mean, variance = layer.attrs.get("mean"), layer.attrs.get("variance")
        if mean is not None and variance is not None:
            shape = tuple(layer.input_shape[a] for a in axes)
            mu_src = ("const", np.broadcast_to(np.asarray(mean, dtype=float), shape))
            var_src = ("const", np.broadcast_to(np.asarray(variance, dtype=float), shape))
        else:
            mu_src, var_src = ("weight", "mean"), ("weight", "variance")
        maps = tuple(at(index[a - 1]) for a in axes)
        mu = Read(r"\mu", mu_src, maps, batched=False)
        var = Read(r"\mathrm{var}", var_src, maps, batched=False)
        x = read_all("x", 0, index)
        if layer.attrs.get("invert", False):
            body = Func(lambda a, m, v: m + a * np.sqrt(v), (x, mu, var), r"{1} + {0} \sqrt{{{2}}}")
            return TensorEquation(index, body)
        body = Func(
            lambda a, m, v: (a - m) / np.maximum(np.sqrt(v), 1e-7),
            (x, mu, var),
            r"\frac{{{0} - {1}}}{{\max\left(\sqrt{{{2}}}, 10^{{-7}}\right)}}",
        )
        note = r" \quad (\mu, \mathrm{var}: \text{fixed by } \mathtt{adapt()} \text{ or given})"
        return TensorEquation(index, body, note=note)


@register("Rescaling")
class RescalingHandler(LayerHandler):
    summary = "rescaling: every input multiplied by a constant and shifted"

    def affine(self, layer: LayerRecord, weight, n: int) -> AffineMap:
        return rescaling_affine(layer, weight, n)

    def equation(self, layer: LayerRecord) -> TensorEquation:
        scale, offset = layer.attrs.get("scale", 1.0), layer.attrs.get("offset", 0.0)
        per_channel = isinstance(scale, list) or isinstance(offset, list)
        index = (
            _channel_indices(layer, [len(layer.input_shape) - 1])
            if per_channel
            else (hidden_indices(layer.input_shape))
        )
        c = (at(index[-1]),)
        body: Expr = read_all("x", 0, index)
        s_text = constant_latex(scale, r"\gamma_c")
        if s_text != "1":
            s: Expr = (
                Read(r"\gamma", ("const", np.asarray(scale, dtype=float)), c, batched=False)
                if isinstance(scale, list)
                else Const(float(scale), s_text)
            )
            body = Prod((s, body))
        o_text = constant_latex(offset, r"\beta_c")
        if isinstance(offset, list):
            body = Sum(
                (body, Read(r"\beta", ("const", np.asarray(offset, dtype=float)), c, batched=False))
            )
        elif o_text != "0":
            body = Sum((body, Const(float(offset), o_text)))
        values = ""
        if isinstance(scale, list):
            values += rf", \quad \gamma = ({', '.join(number(v) for v in scale)})"
        if isinstance(offset, list):
            values += rf", \quad \beta = ({', '.join(number(v) for v in offset)})"
        return TensorEquation(index, body, note=values)


def constant_latex(value: float | list[float], symbol: str) -> str:
    """A scale or offset: `\\frac{1}{255}` when it is one over an integer, `symbol` if a list."""
    if isinstance(value, list):
        return symbol
    value = float(value)
    if value and not value.is_integer() and abs(1 / value - round(1 / value)) < 1e-6:
        sign = "-" if value < 0 else ""
        return rf"{sign}\frac{{1}}{{{abs(round(1 / value))}}}"
    return number(value)


#: Keras's backend epsilon: Normalization's floor on the deviation.
NORMALIZATION_FLOOR = 1e-7

#: How each normalization layer folds into `\\hat{\\gamma} x + \\hat{\\beta}`
#: (`fold_kind` names the kinds, `normalization_fold` gives the numbers).
FOLDED = {
    "BatchNormalization": r"$\hat{\gamma} = \gamma / \sqrt{\mathrm{var} + \epsilon}$, "
    r"$\hat{\beta} = \beta - \hat{\gamma}\,\mu$ "
    r"for BatchNormalization (moving mean $\mu$ and variance $\mathrm{var}$; $\gamma = 1$, "
    r"$\beta = 0$ when the layer has none)",
    "Normalization": r"$\hat{\gamma} = 1 / \sqrt{\mathrm{var}}$, "
    r"$\hat{\beta} = -\mu / \sqrt{\mathrm{var}}$ "
    r"for Normalization (with $\sqrt{\mathrm{var}}$ at least $10^{-7}$)",
    "Normalization (invert)": r"$\hat{\gamma} = \sqrt{\mathrm{var}}$, $\hat{\beta} = \mu$ for "
    r"Normalization with `invert=True`",
}


def fold_kind(layer: LayerRecord) -> str | None:
    """Which fold into `s x + t` a normalization layer takes; `None` for other layers.

    "BatchNormalization", "Normalization", or "Normalization (invert)" (`invert=True`).
    """
    if layer.type == "Normalization":
        return "Normalization (invert)" if layer.attrs.get("invert") else "Normalization"
    return "BatchNormalization" if layer.type == "BatchNormalization" else None


def normalization_fold(
    layer: LayerRecord, weight: Callable[[str], np.ndarray | None], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """A normalization layer at inference as a scale `s` and shift `t` of each of its `n` inputs.

    BatchNormalization: `s = gamma / sqrt(var + eps)`, `t = beta - s mean` (moving statistics).
    Normalization: `s = 1 / max(sqrt(var), 1e-7)`, `t = -s mean`; inverted, `s = sqrt(var)`,
    `t = mean`. `weight(role)` gives the layer's weight of that role (`None` where it has none).
    """
    attrs, kind = layer.attrs, fold_kind(layer)
    if kind == "BatchNormalization":
        gamma, beta = weight("gamma"), weight("beta")
        mean, variance = weight("moving_mean"), weight("moving_variance")
        scale = (np.ones(n) if gamma is None else gamma) / np.sqrt(variance + attrs["epsilon"])
        return scale, (np.zeros(n) if beta is None else beta) - mean * scale
    mean, variance = weight("mean"), weight("variance")
    if mean is None:  # given as constants in the attrs, not adapted
        mean = np.asarray(attrs["mean"], dtype=np.float64)
        variance = np.asarray(attrs["variance"], dtype=np.float64)
    mean, variance = np.broadcast_to(mean, (n,)), np.broadcast_to(variance, (n,))
    if kind == "Normalization (invert)":
        return np.sqrt(variance), mean
    scale = 1.0 / np.maximum(np.sqrt(variance), NORMALIZATION_FLOOR)
    return scale, -mean * scale


def folded_affine(layer: LayerRecord, weight, n: int) -> AffineMap:
    """A normalization layer at inference, folded into a scale and shift of each input."""
    scale, shift = normalization_fold(layer, weight, n)
    return AffineMap(scale=scale, shift=shift, symbols=(r"\hat{\gamma}", r"\hat{\beta}"))


def rescaling_affine(layer: LayerRecord, weight, n: int) -> AffineMap:
    """`Rescaling` multiplies by a constant and shifts: numbers, not weights."""
    scale = np.broadcast_to(np.asarray(layer.attrs.get("scale", 1.0), dtype=np.float64), (n,))
    offset = np.broadcast_to(np.asarray(layer.attrs.get("offset", 0.0), dtype=np.float64), (n,))
    return AffineMap(scale=scale, shift=offset)
