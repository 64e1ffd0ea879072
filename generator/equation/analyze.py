"""The whole derivation for one Keras model: describe, derive per layer, compose, check.

This is the one entry point the CLI and `publish()` use; it runs where Keras is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from generator.equation.compose import ComposedEquation, compose_equation
from generator.equation.settings import MathSettings
from generator.layers.derive import DerivedModel, derive_model
from generator.model.frontend import describe_model


@dataclass(frozen=True)
class ModelMath(DerivedModel):
    """A derived model with its composed equation (`None` where none applies)."""

    equation: ComposedEquation | None = None


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
    derived = derive_model(graph)
    equation = compose_equation(model, derived, sample=sample, settings=settings)
    base = {f.name: getattr(derived, f.name) for f in fields(DerivedModel)}
    if equation is None:
        return ModelMath(**base)
    return ModelMath(
        **{**base, "checks": derived.checks + tuple(equation.checks)}, equation=equation
    )
