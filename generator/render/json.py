"""The JSON backend: the schema `course math --format json` promises to programs."""

from __future__ import annotations

import json
from typing import Any

from generator.equation.analyze import ModelMath
from generator.layers.derive import DerivedLayer
from generator.model.graph import Shape


def _shape(shape: Shape) -> list[int | None]:
    return list(shape)


def layer_json(layer: DerivedLayer) -> dict[str, Any]:
    record = layer.record
    return {
        "name": record.name,
        "type": record.type,
        "inbound": list(record.inbound),
        "output_shape": _shape(record.output_shape)
        if len(record.output_shapes) == 1
        else [_shape(s) for s in record.output_shapes],
        "params": layer.params.total,
        "params_formula": layer.params_formula,
        "params_latex": layer.params_latex,
        "shape_latex": layer.shape_latex,
        "equation_latex": layer.equation,
    }


def model_json(math: ModelMath) -> dict[str, Any]:
    """The model's math as a JSON-ready dict, in the documented schema."""
    graph = math.graph
    equation = math.equation.to_json() if hasattr(math.equation, "to_json") else math.equation
    return {
        "model": graph.name,
        "inputs": [{"name": t.name, "shape": _shape(t.shape)} for t in graph.inputs],
        "outputs": [{"name": t.name, "shape": _shape(t.shape)} for t in graph.outputs],
        "total_params": math.total_params,
        "layers": [layer_json(layer) for layer in math.layers],
        "equation": equation,
    }


def dumps(math: ModelMath) -> str:
    return json.dumps(model_json(math), indent=2)
