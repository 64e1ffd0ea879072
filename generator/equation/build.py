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

from generator.layers.common import INFERENCE_IDENTITY
from generator.layers.registry import REGISTRY, LayerHandler, handler_for
from generator.model.activations import (
    ACTIVATION_LAYERS,
    ACTIVATIONS,
    ELEMENTWISE,
    LayerActivation,
    layer_activation,
)
from generator.model.graph import LayerRecord, ModelGraph

#: Layers that pass a (batch, features) tensor through unchanged at inference.
IDENTITY = INFERENCE_IDENTITY | {"Flatten", "InputLayer"}
MERGE_TYPES = {
    "Add": "add",
    "Subtract": "subtract",
    "Multiply": "multiply",
    "Average": "average",
    "Maximum": "maximum",
    "Minimum": "minimum",
}
#: Layers whose handler writes them as an affine map (`LayerHandler.affine`).
AFFINE_LAYERS = frozenset(
    name
    for name, handler in REGISTRY.handlers.items()
    if type(handler).affine is not LayerHandler.affine
)
SUPPORTED = IDENTITY | set(MERGE_TYPES) | ACTIVATION_LAYERS | AFFINE_LAYERS | {"Concatenate"}


def input_symbols(graph: ModelGraph) -> list[sp.Symbol]:
    """`x_0 ... x_{n-1}`: the features of every input, in input order."""
    n = sum(t.shape[-1] for t in graph.inputs)
    return [sp.Symbol(f"x_{i}", real=True) for i in range(n)]


def unsupported_reason(
    graph: ModelGraph, resolve: Callable[[LayerRecord], LayerActivation | None]
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
            act = layer_activation(layer)
            name = act.name if act is not None else layer.type
            return f"layer {layer.name!r} has an activation ({name}) with no closed form here"
    for tensor in graph.inputs:
        if len(tensor.shape) != 2 or tensor.shape[-1] is None:
            return f"input {tensor.name!r} has shape {tensor.shape}, not (batch, features)"
    return None


def resolve_activation(
    layer: LayerRecord, probe: Callable[[str], str | None] | None = None
) -> LayerActivation | None:
    """The activation a layer applies after its affine part; `None` when it is not known.

    `probe(layer_name)` names an activation Keras could not (a registered function such as a
    tanh-approximate GELU) by evaluating the live layer; it is tried for unknown names only.
    """
    act = layer_activation(layer)
    if act is None:
        return None
    if act.name == "softmax":
        # A softmax over the units of a (batch, features) layer: its last axis.
        return LayerActivation("softmax") if act.param("axis") in (None, -1, 1) else None
    if act.name in ELEMENTWISE:
        return act
    found = probe(layer.name) if probe else None
    return LayerActivation(found) if found else None


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

    def get(self, layer: LayerRecord, role: str) -> np.ndarray | None:
        """The layer's weight of this role (`kernel`, `gamma`, ...), `None` where it has none."""
        record = layer.weight_by_role(role)
        value = None if record is None else self.values.get((layer.name, record.name))
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
    resolve: Callable[[LayerRecord], LayerActivation | None],
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
        if act.name == "softmax":
            affine = False
            xs = algebra.softmax(xs)
        elif not act.linear:
            affine = False
            params = {k: weights.get(layer, v) if isinstance(v, str) else v for k, v in act.params}
            xs = algebra.activation(xs, act.name, params)
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
    """The layer's own affine map (its handler's `affine`), with the weights as numbers or,
    for the general form, as symbols `W^{(l)}_{j,i}` (output index first) and `b^{(l)}_j`."""
    amap = handler_for(layer.type).affine(layer, lambda role: weights.get(layer, role), len(xs))
    w_symbol, b_symbol = amap.symbols or (None, None)
    if amap.matrix is not None:
        matrix, bias = amap.matrix, amap.bias
        if w_symbol:
            matrix = weights.named(matrix, w_symbol, index)
            bias = None if bias is None else weights.named(bias, b_symbol, index)
        return algebra.affine(xs, matrix.T, bias)
    scale, shift = amap.scale, amap.shift
    if w_symbol:
        scale, shift = weights.named(scale, w_symbol, index), weights.named(shift, b_symbol, index)
    return algebra.scale_shift(xs, scale, shift)


def activation_names_used(
    math_layers: list[LayerRecord], resolve: Callable[[LayerRecord], LayerActivation | None]
) -> list[str]:
    """The distinct non-linear activations of the layers, in order of first use."""
    names: list[str] = []
    for layer in math_layers:
        act = resolve(layer)
        if act and not act.linear and act.name not in names:
            names.append(act.name)
    return [n for n in names if n in ACTIVATIONS]
