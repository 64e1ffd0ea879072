"""The whole derivation for one Keras model: describe, derive per layer, compose, check.

This is the one entry point the CLI and `publish()` use; it runs where Keras is loaded.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from generator.derive import ModelMath, derive_model
from generator.frontend import describe_model
from generator.settings import MathSettings


def analyze_model(
    model: Any, sample: Any = None, settings: MathSettings | None = None
) -> ModelMath:
    """Derive `model`'s math and, where the composed-equation backend applies, its equation.

    Args:
        model: a built Keras model.
        sample: inputs to check the closed form against `model.predict` on (one array, or a
            list for several inputs); a seeded random sample is drawn when omitted.
        settings: rounding, size limits and the like; `MathSettings()` when omitted.
    """
    settings = settings or MathSettings()
    graph = describe_model(model, with_weights=True)
    math = derive_model(graph)
    from generator.compose import compose_equation

    equation = compose_equation(model, math, sample=sample, settings=settings)
    if equation is None:
        return math
    return replace(math, equation=equation, checks=math.checks + tuple(equation.checks))
