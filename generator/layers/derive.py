"""Derivation: each layer of a `ModelGraph` through its handler, checked against Keras."""

from __future__ import annotations

from dataclasses import dataclass, replace

from generator.layers.common import aligned
from generator.layers.composite import (
    composite_handler,
    is_untraced_composite,
    sublayer_params,
    traced_note,
    untraced_latex,
    untraced_note,
)
from generator.layers.registry import LayerEquation, ParamMath, ShapeMath, handler_for
from generator.model.graph import LayerRecord, ModelGraph, Shape

UNKNOWN_NOTE = "No formula is known for this layer type; the count is Keras's own."


@dataclass(frozen=True)
class DerivedLayer:
    """The math of one layer: its shape derivation, parameter count and equation."""

    record: LayerRecord
    known: bool
    shape: ShapeMath | None
    params: ParamMath
    equation: LayerEquation | None
    note: str = ""
    children: DerivedModel | None = None

    @property
    def equation_latex(self) -> str | None:
        """What the layer computes in LaTeX, as the pages show it (`None`: no equation)."""
        if self.equation is None or isinstance(self.equation, str):
            return self.equation  # a handler not yet returning an object prints its string
        return self.equation.latex()

    @property
    def params_formula(self) -> str | None:
        """Plain arithmetic with the numbers put in, e.g. `(3*3*3 + 1)*8`."""
        return None if self.params.formula is None else self.params.formula.plain()

    @property
    def params_latex(self) -> str:
        if self.params.formula is None:
            return f"{self.record.framework_params:,}".replace(",", "{,}")
        return self.params.formula.derivation()

    @property
    def shape_latex(self) -> str:
        return shape_latex(self.shape, self.record.output_shape)

    @property
    def shape_matches(self) -> bool:
        return self.shape is None or tuple(self.shape.shapes) == tuple(self.record.output_shapes)

    @property
    def params_match(self) -> bool:
        return self.params.formula is None or self.params.total == self.record.framework_params


@dataclass(frozen=True)
class Check:
    """A figure we derived, compared with the reference (Keras, `predict`)."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class DerivedModel:
    """Every layer of a model derived, with the checks of shapes and counts against Keras."""

    graph: ModelGraph
    layers: tuple[DerivedLayer, ...]
    checks: tuple[Check, ...] = ()

    @property
    def total_params(self) -> int:
        return sum(layer.params.total for layer in self.layers if not layer.record.shares)

    @property
    def trainable_params(self) -> int:
        return sum(
            layer.record.framework_trainable for layer in self.layers if not layer.record.shares
        )

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def derive_layer(record: LayerRecord) -> DerivedLayer:
    """Run one layer through its handler; a layer type with no handler keeps Keras's count."""
    handler = handler_for(record.type) or composite_handler(record)
    if handler is None and is_untraced_composite(record):
        return DerivedLayer(
            record=record,
            known=False,
            shape=None,
            params=sublayer_params(record),
            equation=untraced_latex(record),
            note=untraced_note(record),
        )
    if handler is None:
        return DerivedLayer(
            record=record,
            known=False,
            shape=None,
            params=ParamMath(formula=None, count=record.framework_params),
            equation=None,
            note=UNKNOWN_NOTE,
        )
    children = derive_model(record.children) if record.children is not None else None
    params = handler.params(record)
    if not record.trainable:  # a frozen layer: no weight trains
        params = replace(params, parts=tuple(replace(p, trainable=False) for p in params.parts))
    return DerivedLayer(
        record=record,
        known=True,
        shape=handler.output_shape(record),
        params=params,
        equation=handler.equation(record),
        children=children,
        note=traced_note(record),
    )


def derive_model(graph: ModelGraph) -> DerivedModel:
    """Derive every layer and check shapes and counts against Keras's."""
    layers = tuple(derive_layer(record) for record in graph.layers)
    return DerivedModel(graph=graph, layers=layers, checks=_checks(graph, layers))


def _checks(graph: ModelGraph, layers: tuple[DerivedLayer, ...]) -> tuple[Check, ...]:
    """Counts and shapes per call, and the total; each detail says what was not compared."""
    framework = graph.framework_name
    known = [layer for layer in layers if layer.params.formula is not None]
    bad_params = [layer.record.name for layer in known if not layer.params_match]
    shaped = [layer for layer in layers if layer.shape is not None]
    bad_shapes = [layer.record.name for layer in shaped if not layer.shape_matches]
    # A shared layer's later calls reuse the first call's weights: they count once.
    total = sum(layer.params.total for layer in layers if not layer.record.shares)
    return (
        Check(
            f"parameter counts vs {framework}",
            not bad_params,
            _compared(len(known) - len(bad_params), known, layers, "a count formula")
            + (f"; differ: {', '.join(bad_params)}" if bad_params else ""),
        ),
        Check(
            f"output shapes vs {framework}",
            not bad_shapes,
            _compared(len(shaped) - len(bad_shapes), shaped, layers, "a shape derivation")
            + (f"; differ: {', '.join(bad_shapes)}" if bad_shapes else ""),
        ),
        Check(
            f"total parameters vs {framework}",
            total == graph.framework_params,
            f"{total:,} derived, {graph.framework_params:,} counted by {framework}"
            + (
                f" (shared layers counted once: {', '.join(_shared(layers))})"
                if _shared(layers)
                else ""
            ),
        ),
    )


def _compared(agree: int, compared: list, layers: tuple[DerivedLayer, ...], what: str) -> str:
    """`9 of 9 layers with a count formula agree; not compared (no formula): flatten_1`."""
    text = f"{agree} of {len(compared)} layers with {what} agree"
    if len(compared) == len(layers):
        return text
    ids = {id(layer) for layer in compared}
    left = [layer.record.name for layer in layers if id(layer) not in ids]
    shown = ", ".join(left[:6]) + (f" and {len(left) - 6} more" if len(left) > 6 else "")
    return f"{text}; {len(left)} of {len(layers)} not compared (none known here): {shown}"


def _shared(layers: tuple[DerivedLayer, ...]) -> list[str]:
    return list(dict.fromkeys(layer.record.shares for layer in layers if layer.record.shares))


def shape_text(shape: Shape) -> str:
    """A shape without its batch dimension in LaTeX: `30 \\times 30 \\times 32`."""
    dims = shape[1:] if shape and shape[0] is None else shape
    if not dims:
        return "1"
    return r" \times ".join(r"\ast" if d is None else str(d) for d in dims)


def shape_latex(shape: ShapeMath | None, fallback: Shape) -> str:
    """Each computed dimension as `label = formula = numbers = value`, then the shape."""
    if shape is None:
        return shape_text(fallback)
    steps = [
        f"{step.label} = {step.formula.latex()} = "
        + (
            f"{step.formula.latex(numbers=True)} = {step.formula.value()}"
            if step.formula.latex(numbers=True) != str(step.formula.value())
            else str(step.formula.value())
        )
        for step in shape.steps
    ]
    result = r",\quad ".join(shape_text(s) for s in shape.shapes)
    if not steps:
        return result
    if len(steps) == 1:
        return steps[0] + r" \;\Rightarrow\; " + result
    # One row per dimension, so a 2-D or 3-D derivation fits the width of a page.
    rows = [step.replace(" = ", " &= ", 1) for step in steps]
    return aligned([*rows, r"&\Rightarrow " + result])
