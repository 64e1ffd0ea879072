"""Activation layers: a function applied to every entry (softmax: to every vector)."""

from __future__ import annotations

from generator.layers.common import VECTOR_ACTIVATIONS
from generator.layers.formula import Sym, product
from generator.layers.registry import (
    LayerHandler,
    ParamMath,
    ParamPart,
    params_from_parts,
    register,
)
from generator.model.activations import layer_activation
from generator.model.graph import LayerRecord


def number(value: float) -> str:
    """A config number as it reads best: `6`, `0.3`, `1e-05`."""
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.6g}"


def _softmax(f: str, axis: int, rank: int) -> str:
    where = "the last axis" if axis in (-1, rank - 1) else f"axis {axis}"
    return (
        rf"a = {f}(x) \ (\text{{over {where}}}), \quad "
        rf"{f}(x)_k = \frac{{e^{{x_k}}}}{{\sum_m e^{{x_m}}}}"
    )


@register("Activation")
class ActivationHandler(LayerHandler):
    summary = "activation: a fixed function applied entry by entry"

    def equation(self, layer: LayerRecord) -> str:
        act = layer_activation(layer)
        name, f, row = act.name, act.latex, act.row
        if name in VECTOR_ACTIVATIONS:
            return rf"a = {f}(x) \ (\text{{over the last axis}}), \quad {row.definition}"
        definition = rf", \quad {row.definition}" if row else ""
        return rf"a = {f}(x) \ (\text{{entrywise}}){definition}"


@register("ReLU")
class ReLUHandler(LayerHandler):
    summary = "ReLU: zero below a threshold, optionally capped and leaky"

    def equation(self, layer: LayerRecord) -> str:
        cfg = layer.config
        top, slope = cfg.get("max_value"), float(cfg.get("negative_slope", 0.0) or 0.0)
        theta = float(cfg.get("threshold", 0.0) or 0.0)
        below = (
            "0"
            if slope == 0
            else (
                rf"{number(slope)}\,x" if theta == 0 else rf"{number(slope)}\,(x - {number(theta)})"
            )
        )
        if top is None and slope == 0 and theta == 0:
            return r"a = \max(0, x) \ (\text{entrywise})"
        if top is not None and slope == 0 and theta == 0:
            return rf"a = \min(\max(0, x), {number(top)}) \ (\text{{entrywise}})"
        cases = [rf"{below} & x < {number(theta)}"]
        if top is None:
            cases.append(rf"x & x \ge {number(theta)}")
        else:
            cases += [
                rf"x & {number(theta)} \le x < {number(top)}",
                rf"{number(top)} & x \ge {number(top)}",
            ]
        return (
            r"a = \begin{cases} " + r" \\ ".join(cases) + r" \end{cases}"
            r" \ (\text{entrywise})"
        )


@register("LeakyReLU")
class LeakyReLUHandler(LayerHandler):
    summary = "leaky ReLU: a small slope below zero instead of zero"

    def equation(self, layer: LayerRecord) -> str:
        slope = layer_activation(layer).param("negative_slope")
        return (
            rf"a = \begin{{cases}} x & x \ge 0 \\ {number(slope)}\,x & x < 0 \end{{cases}}"
            r" \ (\text{entrywise})"
        )


@register("ELU")
class ELUHandler(LayerHandler):
    summary = "ELU: x above zero, a saturating exponential below"

    def equation(self, layer: LayerRecord) -> str:
        alpha = number(layer_activation(layer).param("alpha"))
        scale = "" if alpha == "1" else rf"{alpha}\,"
        return (
            rf"a = \begin{{cases}} x & x > 0 \\ {scale}(e^{{x}} - 1) & x \le 0 \end{{cases}}"
            r" \ (\text{entrywise})"
        )


@register("Softmax")
class SoftmaxHandler(LayerHandler):
    summary = "softmax: positive entries that sum to 1 along an axis"

    def equation(self, layer: LayerRecord) -> str:
        axis = layer.config.get("axis", -1)
        axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
        if isinstance(axis, list):
            return (
                rf"a = \mathrm{{softmax}}(x) \ (\text{{over axes {axis}}}), \quad "
                r"\mathrm{softmax}(x)_k = \frac{e^{x_k}}{\sum_m e^{x_m}}"
            )
        return _softmax(r"\mathrm{softmax}", axis, len(layer.input_shape))


_IDX = ("i", "j", "k", "l", "m")


@register("PReLU")
class PReLUHandler(LayerHandler):
    summary = "PReLU: a leaky ReLU whose slopes are learned"

    def _alpha_axes(self, layer: LayerRecord) -> list[int]:
        """Input axes (1-based, batch excluded) along which the slopes differ."""
        shared = layer.config.get("shared_axes") or []
        shared = [shared] if isinstance(shared, int) else shared
        return [k for k in range(1, len(layer.input_shape)) if k not in shared]

    def params(self, layer: LayerRecord) -> ParamMath:
        shape = layer.input_shape
        rank = len(shape) - 1
        names = ["n"] if rank == 1 else [f"n_{k}" for k in range(1, rank)] + ["c"]
        syms = [Sym(names[k - 1], shape[k]) for k in self._alpha_axes(layer)]
        weight = layer.weight("alpha")
        trainable = weight.trainable if weight is not None else True
        return params_from_parts(ParamPart(r"\alpha", product(syms), trainable=trainable))

    def equation(self, layer: LayerRecord) -> str:
        rank = len(layer.input_shape) - 1
        idx = _IDX[:rank]
        alpha_idx = ",".join(idx[k - 1] for k in self._alpha_axes(layer))
        alpha = rf"\alpha_{{{alpha_idx}}}" if alpha_idx else r"\alpha"
        x = f"x_{{{','.join(idx)}}}"
        return (
            rf"a_{{{','.join(idx)}}} = \begin{{cases}} {x} & {x} \ge 0 \\ "
            rf"{alpha}\, {x} & {x} < 0 \end{{cases}}"
        )
