"""Einstein sums: Keras's `EinsumDense` (a learned kernel), `keras.ops.einsum` of two tensors,
and `keras.ops.repeat`, which keras-hub's attention layers are traced into.

Their equations are the sums the subscripts name, evaluated with NumPy's `einsum`; lengths Keras
leaves open (`None`) stay open, as in Keras's shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from generator.layers.formula import Sym, product
from generator.layers.recurrent_system import numpy_activation
from generator.layers.registry import (
    LayerHandler,
    ParamMath,
    ParamPart,
    SampledPositions,
    ShapeMath,
    at_positions,
    params_from_parts,
    register,
)
from generator.model.graph import LayerRecord


@dataclass(frozen=True)
class NumpyEquation(SampledPositions):
    """An equation printed as `text` and evaluated by `function(inputs, weights)`."""

    text: str
    function: Callable[[Sequence[np.ndarray], Mapping[str, np.ndarray]], np.ndarray]

    def latex(self) -> str:
        return self.text

    def evaluate(self, inputs, weights, positions=None) -> np.ndarray:
        arrays = [np.asarray(a, dtype=np.float64) for a in inputs]
        return at_positions(self.function(arrays, weights), positions)

    def worked_example(self, inputs, weights, index=None):
        return None


def _weight(weights: Mapping[str, np.ndarray], name: str) -> np.ndarray | None:
    for key, value in weights.items():
        if key == name or key.endswith("/" + name):
            return np.asarray(value, dtype=np.float64)
    return None


def _sum_latex(out: str, operands: list[tuple[str, str]], summed: str) -> str:
    """`a_{q,u} = \\sum_{m} x_{q,m} W_{m,u}` (the batch letter left out of the subscripts)."""
    reads = " ".join(f"{symbol}_{{{','.join(letters)}}}" for symbol, letters in operands)
    total = rf"\sum_{{{','.join(summed)}}} " if summed else ""
    return f"a_{{{','.join(out)}}} = {total}{reads}"


@register("EinsumDense")
class EinsumDenseHandler(LayerHandler):
    summary = "einsum dense: a learned kernel contracted with the input as the subscripts say"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        wanted = layer.attrs.get("output_shape")
        wanted = [wanted] if isinstance(wanted, int) else list(wanted)
        note = f"the subscripts {layer.attrs['equation']}"
        return ShapeMath(shape=(layer.input_shape[0], *wanted), note=note)

    def params(self, layer: LayerRecord) -> ParamMath:
        parts = []
        for weight, symbol in (("kernel", "W"), ("bias", "b")):
            record = next((w for w in layer.weights if w.name.endswith(weight)), None)
            if record is not None:
                sizes = [Sym(f"n_{{{symbol},{k}}}", d) for k, d in enumerate(record.shape)]
                parts.append(ParamPart(symbol, product(sizes), record.trainable))
        return params_from_parts(*parts)

    def equation(self, layer: LayerRecord) -> NumpyEquation:
        equation = layer.attrs["equation"]
        inputs, out = equation.split("->")
        x, kernel = inputs.split(",")
        bias_axes = layer.attrs.get("bias_axes") or ""
        activation = numpy_activation(layer.attrs.get("activation") or "linear")
        summed = "".join(c for c in x + kernel if c not in out and c in x and c in kernel)
        text = _sum_latex(out[1:], [("x", x[1:]), ("W", kernel)], "".join(dict.fromkeys(summed)))
        if bias_axes:
            text += f" + b_{{{','.join(bias_axes)}}}"

        def evaluate(arrays, weights):
            result = np.einsum(equation, arrays[0], _weight(weights, "kernel"))
            bias = _weight(weights, "bias")
            if bias is not None:
                shape = [result.shape[k] if c in bias_axes else 1 for k, c in enumerate(out)]
                result = result + bias.reshape(shape)
            return activation(result)

        return NumpyEquation(text, evaluate)


@register("ops.einsum")
class EinsumHandler(LayerHandler):
    summary = "an Einstein sum of tensors (`keras.ops.einsum`)"

    def _subscripts(self, layer: LayerRecord) -> tuple[list[str], str]:
        inputs, out = layer.attrs["subscripts"].replace(" ", "").split("->")
        return inputs.split(","), out

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        inputs, out = self._subscripts(layer)
        sizes: dict[str, int | None] = {}
        for letters, shape in zip(inputs, layer.input_shapes, strict=True):
            for c, d in zip(letters, shape, strict=True):
                sizes[c] = d if sizes.get(c) is None else sizes[c]
        return ShapeMath(shape=tuple(sizes[c] for c in out), note="the subscripts' sizes")

    def equation(self, layer: LayerRecord) -> NumpyEquation:
        inputs, out = self._subscripts(layer)
        if len(inputs) != len(layer.input_shapes) or any(a is not None for a in _constants(layer)):
            raise NotImplementedError("an einsum with constants")
        summed = "".join(dict.fromkeys(c for s in inputs for c in s if c not in out))
        symbols = [f"x^{{({k + 1})}}" for k in range(len(inputs))]
        text = _sum_latex(
            out[1:], [(s, i[1:]) for s, i in zip(symbols, inputs, strict=True)], summed
        )
        subscripts = layer.attrs["subscripts"]
        return NumpyEquation(text, lambda arrays, weights: np.einsum(subscripts, *arrays))


def _constants(layer: LayerRecord) -> list[object]:
    return [a for a in layer.attrs.get("operands", []) if a is not None]


@register("ops.repeat")
class RepeatHandler(LayerHandler):
    summary = "each entry repeated along an axis (`keras.ops.repeat(x, r, axis)`)"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        shape = list(layer.input_shape)
        axis, repeats = int(layer.attrs["axis"]) % len(shape), int(layer.attrs["repeats"])
        shape[axis] = None if shape[axis] is None else shape[axis] * repeats
        return ShapeMath(shape=tuple(shape), note=f"axis {axis} repeated {repeats} times")

    def equation(self, layer: LayerRecord) -> NumpyEquation:
        axis, repeats = int(layer.attrs["axis"]), int(layer.attrs["repeats"])
        letters = "ijklm"[: len(layer.input_shape) - 1]
        k = axis % len(layer.input_shape) - 1
        read = [c if n != k else rf"\lfloor {c} / {repeats} \rfloor" for n, c in enumerate(letters)]
        text = f"a_{{{','.join(letters)}}} = x_{{{','.join(read)}}}"
        return NumpyEquation(text, lambda arrays, weights: np.repeat(arrays[0], repeats, axis))
