"""The whole derivation for one Keras model: describe, derive per layer, compose, check.

This is the one entry point the CLI and `publish()` use; it runs where Keras is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from generator.equation.compose import ComposedEquation, compose_equation
from generator.equation.layer_checks import (
    CheckedExample,
    EquationChecks,
    InputWindow,
    LayerCheck,
    check_equations,
)
from generator.equation.settings import MathSettings
from generator.layers.derive import DerivedModel, derive_model
from generator.model.frontend import describe_model
from generator.model.probe import LayerIO, probe_layers


@dataclass(frozen=True)
class ModelMath(DerivedModel):
    """A derived model with its composed equation (`None` where none applies), each layer's
    equation checked against Keras (`layer_checks`, by layer name), the worked examples and,
    for the first convolution and pooling, the input around the worked example (`windows`)."""

    equation: ComposedEquation | None = None
    layer_checks: dict[str, LayerCheck] = field(default_factory=dict, compare=False)
    worked: dict[str, CheckedExample] = field(default_factory=dict, compare=False)
    windows: dict[str, InputWindow] = field(default_factory=dict, compare=False)


def analyze_model(
    model: Any, sample: Any = None, settings: MathSettings | None = None
) -> ModelMath:
    """Derive `model`'s math and, where the composed-equation backend applies, its equation.

    Args:
        model: a built Keras model.
        sample: inputs to check the closed form against `model.predict` and each layer's
            equation against Keras on (one array, or a list for several inputs); its first item
            is the worked examples'. A seeded random sample is drawn when omitted.
        settings: rounding, size limits and the like; `MathSettings()` when omitted.
    """
    settings = settings or MathSettings()
    graph = describe_model(model, with_weights=True)
    derived = derive_model(graph)
    probed = probe_layers(model, sample, seed=settings.seed)
    layer_checks = _check_layers(model, derived, probed.layers, settings.seed)
    equation = compose_equation(model, derived, sample=sample, settings=settings)
    checks = derived.checks + (layer_checks.check,)
    if equation is not None:
        checks += tuple(equation.checks)
    base = {f.name: getattr(derived, f.name) for f in fields(DerivedModel)}
    return ModelMath(
        **{**base, "checks": checks},
        equation=equation,
        layer_checks=layer_checks.layers,
        worked=layer_checks.worked,
        windows=layer_checks.windows,
    )


def _check_layers(
    model: Any, derived: DerivedModel, probed: dict[str, LayerIO], seed: int
) -> EquationChecks:
    """Each layer's equation against Keras; a nested model's layers on the inputs it got."""
    inner = {}
    for layer in derived.layers:
        name = layer.record.name
        if layer.children is None or name not in probed:
            continue
        nested = model.get_layer(name)
        inner_probe = probe_layers(nested, list(probed[name].inputs), seed=seed)
        inner[name] = _check_layers(nested, layer.children, inner_probe.layers, seed)
    return check_equations(derived, probed, seed=seed, inner=inner)
