"""The whole network as one function: closed form, general form, layered form, verified.

`compose_equation` counts the operations of the expanded expression first (in time proportional
to the parameters) and only builds it under `MathSettings.max_closed_form_ops`; other models get
the layered form (`f = f_L \\circ \\dots \\circ f_1`, or step by step where layers branch).
The closed form is checked against `model.predict` by running the generated NumPy module itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import sympy as sp

from generator.equation.algebra import CountAlgebra, SympyAlgebra
from generator.equation.build import (
    WeightSource,
    activation_names_used,
    input_symbols,
    resolve_activation,
    unsupported_reason,
    walk,
)
from generator.equation.collapse import Collapse, affine_collapse
from generator.equation.latex import EquationLatexPrinter, closed_form_latex
from generator.equation.layered import Step, count_text, layered_latex, layered_steps, rough_ops
from generator.equation.settings import MathSettings
from generator.equation.verify import predict_error, sample_inputs
from generator.layers.derive import Check, DerivedModel
from generator.layers.normalization import fold_kind
from generator.model.activations import LayerActivation
from generator.model.graph import LayerRecord
from generator.model.reference import Reference

__all__ = ["ComposedEquation", "compose_equation"]

SYMBOLIC_TERMS = 4  # a sum in the general form shows its first two terms, dots, its last


@dataclass(frozen=True)
class ComposedEquation:
    """The network as one function, in every form a page or a program needs.

    Attributes:
        closed_form: whether the expression was expanded (else `latex` is the layered form).
        latex: the closed form with rounded weights, broken over `aligned` lines.
        symbolic_latex: the general form, weights as symbols `W^{(l)}_{j,i}`, `b^{(l)}_j`.
        numpy: source of the self-contained NumPy module, or `None` without a closed form.
        max_abs_error: largest difference of the closed form from `model.predict` on the sample.
        layered_latex: `f = f_L \\circ \\dots \\circ f_1` (a chain) or the steps
            `a^{(l)} = f_l(...)` (any other graph), with every layer's equation.
        steps: each call with its inputs (`generator.equation.layered.Step`).
        expansion_ops: operations of the expanded expression (a rough estimate, or `None`,
            for layers outside the closed form).
        collapse: the affine collapse when every activation is linear.
        checks: "closed form vs predict" (and the collapse's check).
        reason: why there is no closed form (empty when there is one).
        expressions: one sympy expression per output unit (for Taylor polynomials).
        inputs: the input symbols `x_0 ...` in column order.
        folded: the kinds of layer whose scale and shift appear in the general form as
            `\\hat{\\gamma}^{(l)}_i`, `\\hat{\\beta}^{(l)}_i` ("BatchNormalization",
            "Normalization", "Normalization (invert)"), for the page to define them.
    """

    closed_form: bool
    latex: str
    symbolic_latex: str
    numpy: str | None
    max_abs_error: float | None
    layered_latex: str
    expansion_ops: int | None
    collapse: Collapse | None = None
    checks: tuple[Check, ...] = ()
    reason: str = ""
    limit: int = 0
    sample_size: int = 0
    tolerance: float = 0.0
    expressions: tuple[sp.Expr, ...] = field(default=(), compare=False, repr=False)
    inputs: tuple[sp.Symbol, ...] = field(default=(), compare=False, repr=False)
    folded: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The `equation` field of `course math --format json`."""
        return {
            "latex": self.latex,
            "numpy": self.numpy,
            "symbolic_latex": self.symbolic_latex,
            "max_abs_error": self.max_abs_error,
            "steps": [step.to_json() for step in self.steps],
        }

    def function(self):
        """The closed form as a NumPy function `f(x)` (the module's own code)."""
        from generator.equation.numpy_source import load_function

        if self.numpy is None:
            raise ValueError(f"no closed form: {self.reason}")
        return load_function(self.numpy)


def _folded_kinds(layers: Any) -> tuple[str, ...]:
    """The kinds of normalization fold (`fold_kind`) among `layers`, in order of first use."""
    kinds = [fold_kind(layer) for layer in layers]
    return tuple(dict.fromkeys(kind for kind in kinds if kind is not None))


def compose_equation(
    reference: Reference | None,
    math: DerivedModel,
    sample: Any = None,
    settings: MathSettings | None = None,
) -> ComposedEquation | None:
    """The whole network as one function (see `ComposedEquation`).

    Args:
        reference: the model's framework (for its outputs on the sample, and to name
            activations Keras serialized as custom functions); `None` skips the check.
        math: the model's derived math; `math.graph.weight_values` holds the weights.
        sample: inputs to check on (one array, or a list for several inputs); drawn when omitted.
        settings: digits, size limit, sample and tolerance.
    """
    settings = settings or MathSettings()
    graph = math.graph
    resolve = _once_per_layer(
        partial(resolve_activation, probe=reference.activation_name if reference else None)
    )
    layered = layered_latex(math)
    base = dict(
        layered_latex=layered,
        steps=layered_steps(math),
        limit=settings.max_closed_form_ops,
        sample_size=settings.sample_size,
        tolerance=settings.tolerance,
    )
    reason = unsupported_reason(graph, resolve)
    ops = None
    if reason is None:
        inputs = input_symbols(graph)
        counted = walk(graph, CountAlgebra(), [0] * len(inputs), resolve, WeightSource(graph))
        ops = sum(counted.outputs)
        if ops > settings.max_closed_form_ops:
            reason = (
                f"written out it would have {count_text(ops)} operations, over the limit "
                f"of {settings.max_closed_form_ops:,}"
            )
    else:
        ops = rough_ops(graph)
    if reason is not None:
        return ComposedEquation(
            closed_form=False,
            latex=layered,
            symbolic_latex=layered,
            numpy=None,
            max_abs_error=None,
            expansion_ops=ops,
            reason=reason,
            **base,
        )
    return _closed_form(reference, math, inputs, resolve, ops, sample, settings, base)


def _once_per_layer(resolve: Callable[[LayerRecord], LayerActivation | None]):
    """`resolve` remembered by layer name: probing a live activation costs a Keras call."""
    known: dict[str, LayerActivation | None] = {}

    def remembered(layer: LayerRecord) -> LayerActivation | None:
        if layer.name not in known:
            known[layer.name] = resolve(layer)
        return known[layer.name]

    return remembered


def _closed_form(
    reference: Reference | None,
    math: DerivedModel,
    inputs: list[sp.Symbol],
    resolve: Callable[[LayerRecord], LayerActivation | None],
    ops: int,
    sample: Any,
    settings: MathSettings,
    base: dict[str, Any],
) -> ComposedEquation:
    """Build, print and check the closed form (the size was checked by the caller)."""
    from generator.equation.numpy_source import load_function, module_source

    graph = math.graph
    built = walk(graph, SympyAlgebra(), inputs, resolve, WeightSource(graph))
    general = walk(graph, SympyAlgebra(), inputs, resolve, WeightSource(graph, symbolic=True))
    names = {inputs[0]: "x"} if len(inputs) == 1 else {}
    printer = EquationLatexPrinter({"digits": settings.digits, "symbol_names": names})
    symbols = EquationLatexPrinter({"max_terms": SYMBOLIC_TERMS, "symbol_names": names})
    functions = activation_names_used(list(graph.layers), resolve)
    source = module_source(built.outputs, inputs, graph.name, functions)
    function = load_function(source)
    checks: list[Check] = []
    error = collapse = None
    x = predicted = None
    if reference is not None:
        x, predicted = sample_inputs(reference.predict, graph, sample, settings)
        error, check = predict_error("closed form vs predict", function(x), predicted, settings)
        checks.append(check)
    if built.affine:
        collapse = affine_collapse(function, graph, inputs, printer)
        if predicted is not None:
            c_error, check = predict_error(
                "linear collapse vs predict", collapse(x), predicted, settings
            )
            collapse = Collapse(
                collapse.weights, collapse.bias, collapse.latex, collapse.symbolic_latex, c_error
            )
            checks.append(check)
    return ComposedEquation(
        closed_form=True,
        latex=closed_form_latex(built.outputs, printer),
        symbolic_latex=closed_form_latex(general.outputs, symbols),
        numpy=source,
        max_abs_error=error,
        expansion_ops=ops,
        collapse=collapse,
        checks=tuple(checks),
        expressions=tuple(built.outputs),
        inputs=tuple(inputs),
        folded=_folded_kinds(graph.layers),
        **base,
    )
