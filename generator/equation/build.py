"""The walk over a model's layers that turns it into one expression per output unit.

Each supported layer is described once, as operations of an algebra (`generator.equation.algebra`),
so the same walk counts operations, builds the closed form with the trained weights, or builds
the general form with weight symbols `W^{(l)}_{j,i}`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from generator.model.activations import ACTIVATIONS, ELEMENTWISE, activation_name
from generator.model.graph import LayerRecord, ModelGraph

IDENTITY = {
    "Dropout",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "SpatialDropout1D",
    "ActivityRegularization",
    "Identity",
    "Flatten",
    "InputLayer",
}
MERGE_TYPES = {
    "Add": "add",
    "Subtract": "subtract",
    "Multiply": "multiply",
    "Average": "average",
    "Maximum": "maximum",
    "Minimum": "minimum",
}
ACTIVATION_LAYERS = {"Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax"}
AFFINE_LAYERS = {"Dense", "Rescaling", "Normalization", "BatchNormalization"}
SUPPORTED = IDENTITY | set(MERGE_TYPES) | ACTIVATION_LAYERS | AFFINE_LAYERS | {"Concatenate"}
KERAS_EPSILON = 1e-7  # keras.config.epsilon(), Normalization's floor on the deviation


@dataclass(frozen=True)
class Resolved:
    """What one layer computes, read once from its record: an activation and its parameters."""

    activation: str = "linear"
    params: tuple[tuple[str, Any], ...] = ()


def input_symbols(graph: ModelGraph) -> list[sp.Symbol]:
    """`x_0 ... x_{n-1}`: the features of every input, in input order."""
    n = sum(t.shape[-1] for t in graph.inputs)
    return [sp.Symbol(f"x_{i}", real=True) for i in range(n)]


def unsupported_reason(
    graph: ModelGraph, resolve: Callable[[LayerRecord], Resolved | None]
) -> str | None:
    """Why `graph` has no closed form here (a layer type, a tensor rank), or `None`."""
    others = list(
        dict.fromkeys(
            layer.type
            for layer in graph.layers
            if layer.type not in SUPPORTED or layer.children is not None
        )
    )
    if others:
        shown = ", ".join(others[:4]) + (f" and {len(others) - 4} more" if len(others) > 4 else "")
        return f"it has {shown} layers (only dense and element-wise layers are expanded)"
    for layer in graph.layers:
        shapes = layer.input_shapes + layer.output_shapes
        if any(len(s) != 2 for s in shapes):
            return f"layer {layer.name!r} works on shape {layer.input_shape}, not (batch, features)"
        if resolve(layer) is None:
            name = activation_name(layer.config.get("activation"))
            return f"layer {layer.name!r} has an activation ({name}) with no closed form here"
    for tensor in graph.inputs:
        if len(tensor.shape) != 2 or tensor.shape[-1] is None:
            return f"input {tensor.name!r} has shape {tensor.shape}, not (batch, features)"
    return None


def resolve_activation(
    layer: LayerRecord, probe: Callable[[str], str | None] | None = None
) -> Resolved | None:
    """The activation a layer applies after its affine part; `None` when it is not known.

    `probe(layer_name)` names an activation Keras could not (a registered function such as a
    tanh-approximate GELU) by evaluating the live layer; it is tried for unknown names only.
    """
    config = layer.config
    if layer.type == "ReLU":
        slope, top = float(config.get("negative_slope") or 0.0), config.get("max_value")
        if float(config.get("threshold") or 0.0) != 0.0:
            return None
        if top is None:
            return (
                Resolved("leaky_relu", (("negative_slope", slope),)) if slope else Resolved("relu")
            )
        return Resolved("relu6") if float(top) == 6.0 and not slope else None
    if layer.type == "LeakyReLU":
        return Resolved("leaky_relu", (("negative_slope", float(config["negative_slope"])),))
    if layer.type == "ELU":
        return Resolved("elu", (("alpha", float(config.get("alpha", 1.0))),))
    if layer.type == "PReLU":
        return Resolved("leaky_relu", (("negative_slope", "alpha"),))
    if layer.type == "Softmax":
        return Resolved("softmax") if config.get("axis", -1) in (-1, [-1], 1) else None
    if layer.type not in ("Dense", "Activation"):
        return Resolved()
    name = activation_name(config.get("activation"))
    if name in ELEMENTWISE or name == "softmax":
        return Resolved(name)
    found = probe(layer.name) if probe else None
    return Resolved(found) if found else None


@dataclass(frozen=True)
class Walk:
    """The walk's result: one value per output unit, and whether the whole map is affine."""

    outputs: list[Any]
    affine: bool


class WeightSource:
    """Weights as numbers, or as symbols `W^{(l)}_{j,i}` for the general form."""

    def __init__(self, graph: ModelGraph, symbolic: bool = False):
        self.values = graph.weight_values
        self.symbolic = symbolic

    def get(self, layer: LayerRecord, name: str) -> np.ndarray | None:
        value = self.values.get((layer.name, name))
        return None if value is None else np.asarray(value, dtype=np.float64)

    def named(
        self, array: np.ndarray, symbol: str, index: int, per_unit: bool = True
    ) -> np.ndarray:
        """`array`, or in symbolic mode the same shape of symbols `symbol^{(index)}_{i,j}`."""
        if not self.symbolic:
            return array
        out = np.empty(array.shape, dtype=object)
        for idx in np.ndindex(array.shape):
            sub = ",".join(str(i) for i in idx) if per_unit else ""
            out[idx] = sp.Symbol(f"{symbol}^{{({index})}}" + (f"_{{{sub}}}" if sub else ""))
        return out


def walk(
    graph: ModelGraph,
    algebra: Any,
    inputs: list[Any],
    resolve: Callable[[LayerRecord], Resolved | None],
    weights: WeightSource,
) -> Walk:
    """Run every layer of `graph` (checked by `unsupported_reason`) through `algebra`."""
    env: dict[str, list[Any]] = {}
    start = 0
    for tensor in graph.inputs:
        width = tensor.shape[-1]
        env[tensor.name] = list(inputs[start : start + width])
        start += width
    affine = True
    for index, layer in enumerate(graph.layers, start=1):
        args = [env[name] for name in layer.inbound]
        xs = args[0] if args else []
        if layer.type in MERGE_TYPES:
            op = MERGE_TYPES[layer.type]
            affine &= op not in ("multiply", "maximum", "minimum")
            env[layer.name] = algebra.merge(op, args)
            continue
        if layer.type == "Concatenate":
            env[layer.name] = [unit for tensor in args for unit in tensor]
            continue
        if layer.type in AFFINE_LAYERS:
            xs = _affine_part(layer, index, xs, algebra, weights)
        act = resolve(layer)
        if act.activation == "softmax":
            affine = False
            xs = algebra.softmax(xs)
        elif act.activation != "linear":
            affine = False
            params = {k: weights.get(layer, v) if isinstance(v, str) else v for k, v in act.params}
            xs = algebra.activation(xs, act.activation, params)
        env[layer.name] = xs
    outputs = [
        unit
        for name in graph.output_layers or [t.name for t in graph.outputs]
        for unit in env[name]
    ]
    return Walk(outputs=outputs, affine=affine)


def _affine_part(
    layer: LayerRecord, index: int, xs: list[Any], algebra: Any, weights: WeightSource
) -> list[Any]:
    config, n = layer.config, len(xs)
    if layer.type == "Dense":
        # Symbols W^{(l)}_{j,i}, output index first: W^{(l)} is the transposed kernel.
        kernel = weights.named(weights.get(layer, "kernel").T, "W", index).T
        bias = weights.get(layer, "bias")
        bias = None if bias is None else weights.named(bias, "b", index)
        return algebra.affine(xs, kernel, bias)
    if layer.type == "Rescaling":
        scale = np.broadcast_to(np.asarray(config.get("scale", 1.0), dtype=np.float64), (n,))
        offset = np.broadcast_to(np.asarray(config.get("offset", 0.0), dtype=np.float64), (n,))
        return algebra.scale_shift(xs, scale, offset)
    if layer.type == "Normalization":
        mean, variance = weights.get(layer, "mean"), weights.get(layer, "variance")
        if mean is None:
            mean = np.asarray(config["mean"], dtype=np.float64)
            variance = np.asarray(config["variance"], dtype=np.float64)
        mean, variance = np.broadcast_to(mean, (n,)), np.broadcast_to(variance, (n,))
        if config.get("invert"):
            scale, shift = np.sqrt(variance), mean
        else:
            scale = 1.0 / np.maximum(np.sqrt(variance), KERAS_EPSILON)
            shift = -mean * scale
    else:  # BatchNormalization at inference: gamma (x - mean) / sqrt(var + eps) + beta
        gamma = weights.get(layer, "gamma")
        beta = weights.get(layer, "beta")
        mean, variance = weights.get(layer, "moving_mean"), weights.get(layer, "moving_variance")
        scale = (np.ones(n) if gamma is None else gamma) / np.sqrt(variance + config["epsilon"])
        shift = (np.zeros(n) if beta is None else beta) - mean * scale
    return algebra.scale_shift(
        xs, weights.named(scale, "s", index), weights.named(shift, "t", index)
    )


def activation_names_used(
    math_layers: list[LayerRecord], resolve: Callable[[LayerRecord], Resolved | None]
) -> list[str]:
    """The distinct non-linear activations of the layers, in order of first use."""
    names: list[str] = []
    for layer in math_layers:
        act = resolve(layer)
        if act and act.activation != "linear" and act.activation not in names:
            names.append(act.activation)
    return [n for n in names if n in ACTIVATIONS]
