"""The JSON backend: the schema `course math --format json` promises to programs."""

from __future__ import annotations

import json
from typing import Any

from generator.equation.analyze import ModelMath
from generator.equation.layer_checks import CheckedExample, LayerCheck
from generator.layers.derive import DerivedLayer
from generator.model.graph import Shape
from generator.render.gradients import gradients_json
from generator.render.worked import worked_json


def _shape(shape: Shape) -> list[int | None]:
    return list(shape)


def layer_json(
    layer: DerivedLayer, check: LayerCheck | None = None, worked: CheckedExample | None = None
) -> dict[str, Any]:
    """One layer; `equation_check` and `worked_example` are `null` where none was made."""
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
        "equation_latex": layer.equation_latex,
        "equation_check": None if check is None else check.to_json(),
        "worked_example": worked_json(worked),
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
        "layers": [
            layer_json(
                layer, math.layer_checks.get(layer.record.name), math.worked.get(layer.record.name)
            )
            for layer in math.layers
        ],
        "equation": equation,
        "framework": graph.framework,
        "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in math.checks],
        **({"gradients": gradients_json(math)} if gradients_json(math) is not None else {}),
    }


def dumps(math: ModelMath) -> str:
    return json.dumps(model_json(math), indent=2)
