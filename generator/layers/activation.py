"""Activation layers: a function applied to every entry (softmax: to every vector)."""

from __future__ import annotations

import numpy as np

from generator.layers.common import VECTOR_ACTIVATIONS
from generator.layers.einsum import NumpyEquation
from generator.layers.formula import Sym, product
from generator.layers.registry import (
    LayerHandler,
    ParamMath,
    ParamPart,
    params_from_parts,
    register,
)
from generator.layers.tensor_equation import (
    TensorEquation,
    entrywise,
    hidden_indices,
    read_all,
)
from generator.layers.tensor_expr import Affine, Func, Idx, Read, Reduce, at
from generator.model.activations import ACTIVATIONS, layer_activation
from generator.model.graph import LayerRecord


def number(value: float) -> str:
    """A attrs number as it reads best: `6`, `0.3`, `1e-05`."""
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.6g}"


def softmax_equation(
    layer: LayerRecord, axes: list[int], log: bool = False, note: str = ""
) -> TensorEquation:
    """`a_j = e^{x_j} / sum_i e^{x_i}` over `axes` of the input (batch is axis 0)."""
    shape = layer.input_shape
    rank = len(shape)
    axes = sorted(a % rank for a in axes)
    names = ("j", "j'", "j''")
    out = list(hidden_indices(shape))
    window = []
    for pos, axis in enumerate(axes):
        out[axis - 1] = Idx(names[pos], shape[axis])
        window.append(Idx(("i", "i'", "i''")[pos], shape[axis]))
    inner = list(out)
    for axis, w in zip(axes, window, strict=True):
        inner[axis - 1] = w
    x_k, x_m = read_all("x", 0, out), read_all("x", 0, inner)
    exp_m = Func(np.exp, (x_m,), "e^{{{0}}}")
    total = Reduce("sum", tuple(window), exp_m)
    if log:
        body = Func(lambda a, b: a - np.log(b), (x_k, total), r"{0} - \ln {1}")
    else:
        body = Func(lambda a, b: np.exp(a) / b, (x_k, total), r"\frac{{e^{{{0}}}}}{{{1}}}")
    return TensorEquation(tuple(out), body, note=note)


def _where(layer: LayerRecord, axes: list[int]) -> str:
    rank = len(layer.input_shape)
    if axes == [rank - 1]:
        return r" \quad (\text{over the last axis})"
    return rf" \quad (\text{{over axis {', '.join(str(a) for a in axes)}}})"


@register("Activation")
class ActivationHandler(LayerHandler):
    summary = "activation: a fixed function applied entry by entry"

    def equation(self, layer: LayerRecord) -> TensorEquation:
        name = layer_activation(layer).name
        rank = len(layer.input_shape)
        if name in VECTOR_ACTIVATIONS:
            return softmax_equation(
                layer, [rank - 1], name == "log_softmax", _where(layer, [-1 % rank])
            )
        indices = hidden_indices(layer.input_shape)
        row = ACTIVATIONS.get(name)
        definition = rf", \quad {row.definition}" if row else ""
        return TensorEquation(
            indices,
            read_all("x", 0, indices),
            name,
            note=rf" \ (\text{{entrywise}}){definition}",
        )


@register("ReLU")
class ReLUHandler(LayerHandler):
    summary = "ReLU: zero below a threshold, optionally capped and leaky"

    def equation(self, layer: LayerRecord) -> TensorEquation:
        attrs = layer.attrs
        top, slope = attrs.get("max_value"), float(attrs.get("negative_slope", 0.0) or 0.0)
        theta = float(attrs.get("threshold", 0.0) or 0.0)
        below = (
            "0"
            if slope == 0
            else (
                rf"{number(slope)}\,x" if theta == 0 else rf"{number(slope)}\,(x - {number(theta)})"
            )
        )
        top_value = np.inf if top is None else float(top)

        def relu(x: np.ndarray) -> np.ndarray:
            return np.where(x >= theta, np.minimum(x, top_value), slope * (x - theta))

        if top is None and slope == 0 and theta == 0:
            return entrywise(layer.input_shape, relu, r"\max(0, {0})", r" \ (\text{entrywise})")
        if top is not None and slope == 0 and theta == 0:
            template = rf"\min(\max(0, {{0}}), {number(top)})"
            return entrywise(layer.input_shape, relu, template, r" \ (\text{entrywise})")
        cases = [rf"{below} & x < {number(theta)}"]
        if top is None:
            cases.append(rf"x & x \ge {number(theta)}")
        else:
            cases += [
                rf"x & {number(theta)} \le x < {number(top)}",
                rf"{number(top)} & x \ge {number(top)}",
            ]
        template = (r"\begin{{cases}} " + r" \\ ".join(cases) + r" \end{{cases}}").replace(
            "x", "{0}"
        )
        return entrywise(layer.input_shape, relu, template, r" \ (\text{entrywise})")


@register("LeakyReLU")
class LeakyReLUHandler(LayerHandler):
    summary = "leaky ReLU: a small slope below zero instead of zero"

    def equation(self, layer: LayerRecord) -> TensorEquation:
        slope = float(layer_activation(layer).param("negative_slope"))
        template = (
            rf"\begin{{{{cases}}}} {{0}} & {{0}} \ge 0 \\ {number(slope)}\,{{0}} & {{0}} < 0 "
            r"\end{{cases}}"
        )
        return entrywise(
            layer.input_shape,
            lambda x: np.where(x >= 0, x, slope * x),
            template,
            r" \ (\text{entrywise})",
        )


@register("ELU")
class ELUHandler(LayerHandler):
    summary = "ELU: x above zero, a saturating exponential below"

    def equation(self, layer: LayerRecord) -> TensorEquation:
        value = float(layer_activation(layer).param("alpha"))
        alpha = number(value)
        scale = "" if alpha == "1" else rf"{alpha}\,"
        template = (
            rf"\begin{{{{cases}}}} {{0}} & {{0}} > 0 \\ {scale}(e^{{{{{{0}}}}}} - 1) & "
            r"{0} \le 0 \end{{cases}}"
        )
        return entrywise(
            layer.input_shape,
            lambda x: np.where(x > 0, x, value * np.expm1(np.minimum(x, 0.0))),
            template,
            r" \ (\text{entrywise})",
        )


@register("Softmax")
class SoftmaxHandler(LayerHandler):
    summary = "softmax: positive entries that sum to 1 along an axis"

    def equation(self, layer: LayerRecord) -> TensorEquation | NumpyEquation:
        axis = layer.attrs.get("axis", -1)
        axes = list(axis) if isinstance(axis, list) else [axis]
        rank = len(layer.input_shape)
        if len(layer.input_shapes) > 1:  # called with a mask: masked entries get weight 0
            return NumpyEquation(
                r"a = \mathrm{softmax}(\tilde{x})\,[m > 0.5], \quad \tilde{x} = x "
                r"\text{ where the mask } m > 0.5 \text{, else } -10^9",
                lambda arrays, weights: masked_softmax(arrays[0], arrays[1], axes),
            )
        return softmax_equation(layer, axes, note=_where(layer, sorted(a % rank for a in axes)))


def masked_softmax(x: np.ndarray, mask: np.ndarray, axes: list[int]) -> np.ndarray:
    """Keras's softmax with a mask: masked entries read as -1e9, then weigh 0."""
    keep = np.broadcast_to(mask > 0.5, x.shape)
    z = np.where(keep, x, -1e9)
    axis = tuple(a % x.ndim for a in axes)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return np.where(keep, e / e.sum(axis=axis, keepdims=True), 0.0)


_IDX = ("i", "j", "k", "l", "m")


@register("PReLU")
class PReLUHandler(LayerHandler):
    summary = "PReLU: a leaky ReLU whose slopes are learned"

    def _alpha_axes(self, layer: LayerRecord) -> list[int]:
        """Input axes (1-based, batch excluded) along which the slopes differ."""
        shared = layer.attrs.get("shared_axes") or []
        shared = [shared] if isinstance(shared, int) else shared
        return [k for k in range(1, len(layer.input_shape)) if k not in shared]

    def params(self, layer: LayerRecord) -> ParamMath:
        shape = layer.input_shape
        rank = len(shape) - 1
        names = ["n"] if rank == 1 else [f"n_{k}" for k in range(1, rank)] + [r"c_{in}"]
        syms = [Sym(names[k - 1], shape[k]) for k in self._alpha_axes(layer)]
        weight = layer.weight("alpha")
        trainable = weight.trainable if weight is not None else True
        return params_from_parts(ParamPart(r"\alpha", product(syms), trainable=trainable))

    def equation(self, layer: LayerRecord) -> TensorEquation:
        shape = layer.input_shape
        indices = tuple(Idx(n, d) for n, d in zip(_IDX, shape[1:], strict=False))
        varying = self._alpha_axes(layer)
        maps = tuple(at(i) if k + 1 in varying else Affine(()) for k, i in enumerate(indices))
        order = tuple(k for k in range(len(indices)) if k + 1 in varying)
        alpha = Read(r"\alpha", ("weight", "alpha"), maps, batched=False, order=order)
        x = read_all("x", 0, indices)
        template = r"\begin{{cases}} {1} & {1} \ge 0 \\ {0}\, {1} & {1} < 0 \end{{cases}}"
        body = Func(lambda a, v: np.where(v >= 0, v, a * v), (alpha, x), template)
        return TensorEquation(indices, body)
