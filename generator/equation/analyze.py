"""The whole derivation for one model: describe, derive per layer, compose, check.

This is the one entry point the CLI and `publish()` use; it runs where the model's framework
(Keras or PyTorch) is loaded, and asks it only through a `Reference`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
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
from generator.layers.derive import DerivedLayer, DerivedModel, derive_model
from generator.layers.registry import PrintedEquation
from generator.model.graph import ModelGraph
from generator.model.probe import LayerIO
from generator.model.reference import Reference


@dataclass(frozen=True)
class ModelMath(DerivedModel):
    """A derived model with its composed equation (`None` where none applies), each layer's
    equation checked against Keras (`layer_checks`, by layer name), the worked examples and,
    for the first convolution and pooling, the input around the worked example (`windows`)."""

    equation: ComposedEquation | None = None
    layer_checks: dict[str, LayerCheck] = field(default_factory=dict, compare=False)
    worked: dict[str, CheckedExample] = field(default_factory=dict, compare=False)
    windows: dict[str, InputWindow] = field(default_factory=dict, compare=False)
    #: The gradients' `GradientReport` (plain data), when asked for (`--gradients`, publish).
    gradients: Any = field(default=None, compare=False)

    def for_pages(self) -> ModelMath:
        """The same math as plain data for the renderers, which run in the build and not in
        the lesson's kernel: each layer's equation as its printed LaTeX (equation objects hold
        NumPy functions), the composed equation without its sympy expressions."""
        equation = self.equation
        if equation is not None:
            equation = replace(equation, expressions=(), inputs=())
        return replace(self, layers=_printed(self.layers), equation=equation)


def _printed(layers: tuple[DerivedLayer, ...]) -> tuple[DerivedLayer, ...]:
    """Layers with their equations printed, nested models' layers too."""
    out = []
    for layer in layers:
        text = layer.equation_latex
        children = layer.children
        if children is not None:
            children = replace(children, layers=_printed(children.layers))
        equation = None if text is None else PrintedEquation(text)
        out.append(replace(layer, equation=equation, children=children))
    return tuple(out)


def analyze_model(
    model: Any, sample: Any = None, settings: MathSettings | None = None
) -> ModelMath:
    """Derive `model`'s math and, where the composed-equation backend applies, its equation.

    Args:
        model: a built Keras model, or a PyTorch model: a `torch.export.ExportedProgram`, or an
            `nn.Module` together with an example input as `sample` (it is exported first).
        sample: inputs to check the closed form against the framework's outputs and each
            layer's equation against the framework's layer outputs on (one array, or a list for
            several inputs); its first item is the worked examples'. A seeded random sample is
            drawn when omitted (a PyTorch module needs one to be exported).
        settings: rounding, size limits and the like; `MathSettings()` when omitted.
    """
    if _is_torch(model):
        from generator.model.torch_reference import torch_model

        graph, reference = torch_model(model, sample)
        return analyze_graph(graph, reference, sample, settings)
    from generator.model.frontend import describe_model
    from generator.model.reference import keras_reference

    graph = describe_model(model, with_weights=True)
    return analyze_graph(graph, keras_reference(model), sample, settings)


def analyze_graph(
    graph: ModelGraph,
    reference: Reference | None,
    sample: Any = None,
    settings: MathSettings | None = None,
) -> ModelMath:
    """Derive a described model (the IR, with its weights) and check it against `reference`,
    the framework it came from; `None` derives without checking against a framework."""
    settings = settings or MathSettings()
    derived = derive_model(graph)
    checks = derived.checks
    layer_checks = None
    if reference is not None:
        probed = reference.probe(sample, settings.seed)
        # Open lengths (an image of any size): the equations are checked as the model ran.
        ran = derived
        if reference.described_at is not None and _open_lengths(graph):
            ran = derive_model(reference.described_at(probed))
        layer_checks = _check_layers(reference, ran, probed.layers, settings.seed)
        checks += (layer_checks.check,)
    equation = compose_equation(reference, derived, sample=sample, settings=settings)
    if equation is not None:
        checks += tuple(equation.checks)
    base = {f.name: getattr(derived, f.name) for f in fields(DerivedModel)}
    return ModelMath(
        **{**base, "checks": checks},
        equation=equation,
        layer_checks=layer_checks.layers if layer_checks else {},
        worked=layer_checks.worked if layer_checks else {},
        windows=layer_checks.windows if layer_checks else {},
    )


def _open_lengths(graph: ModelGraph) -> bool:
    """Whether a call's shape leaves a length other than the batch open."""
    return any(
        None in shape[1:]
        for layer in graph.layers
        for shape in layer.input_shapes + layer.output_shapes
    )


def _is_torch(model: Any) -> bool:
    """Whether `model` is a PyTorch module or exported program (without importing torch)."""
    return any(cls.__module__.startswith("torch") for cls in type(model).__mro__)


def _check_layers(
    reference: Reference, derived: DerivedModel, probed: dict[str, LayerIO], seed: int
) -> EquationChecks:
    """Each layer's equation against the framework; a nested model's layers on its inputs."""
    inner = {}
    for layer in derived.layers:
        name = layer.record.name
        if layer.children is None or name not in probed or reference.inner is None:
            continue
        nested = reference.inner(name, list(probed[name].inputs))
        if nested is None:
            continue
        inner_probe = nested.probe(None, seed)
        inner[name] = _check_layers(nested, layer.children, inner_probe.layers, seed)
    return check_equations(derived, probed, seed=seed, inner=inner, framework=reference.name)
