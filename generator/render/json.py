"""The JSON backend: the schema `course math --format json` promises to programs."""

from __future__ import annotations

import json
from typing import Any

from generator.equation.analyze import ModelMath
from generator.model.graph import Shape
from generator.render.gradients import gradients_json
from generator.render.page_model import PageLayer, page_model
from generator.render.worked import worked_json


def _shape(shape: Shape) -> list[int | None]:
    return list(shape)


def layer_json(layer: PageLayer) -> dict[str, Any]:
    """One layer; `equation_check` and `worked_example` are `null` where none was made."""
    record = layer.derived.record
    return {
        "number": layer.number,
        "name": layer.name,
        "type": layer.type,
        "inbound": list(record.inbound),
        "output_shape": _shape(layer.output_shapes[0])
        if len(layer.output_shapes) == 1
        else [_shape(s) for s in layer.output_shapes],
        "params": layer.params,
        "params_formula": layer.params_formula,
        "params_latex": layer.params_latex,
        "shape_latex": layer.shape_latex,
        "equation_latex": layer.equation_latex,
        "equation_check": None if layer.check is None else layer.check.to_json(),
        "worked_example": worked_json(layer.worked),
    }


def model_json(math: ModelMath) -> dict[str, Any]:
    """The model's math as a JSON-ready dict, in the documented schema; its layers numbered
    from 1 (`number`), as on the Markdown and LaTeX pages."""
    graph = math.graph
    page = page_model(math)
    gradients = gradients_json(page.gradients)
    equation = math.equation.to_json() if hasattr(math.equation, "to_json") else math.equation
    return {
        "model": graph.name,
        "inputs": [{"name": t.name, "shape": _shape(t.shape)} for t in graph.inputs],
        "outputs": [{"name": t.name, "shape": _shape(t.shape)} for t in graph.outputs],
        "total_params": page.total_params,
        "layers": [layer_json(layer) for layer in page.layers],
        "equation": equation,
        "framework": graph.framework,
        "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in page.checks],
        **({"gradients": gradients} if gradients is not None else {}),
    }


def dumps(math: ModelMath) -> str:
    return json.dumps(model_json(math), indent=2)
