"""The table of layer handlers, keyed by Keras class name.

To add a layer type: write a `LayerHandler` subclass in the module of its family
(`generator/layers/<family>.py`), decorate it with `@register("KerasClassName", ...)`, and add one
row for it to the table in `tests/test_layers.py`. Nothing else changes: the derivation, the
renderers and the docs read this table.

A handler derives three things from a `LayerRecord`, never from Keras itself:
- `output_shape`: the output shape, with the formula of every dimension that changes;
- `params`: the parameter count as a formula, split into trainable and non-trainable parts;
- `equation`: what the layer computes, in LaTeX index notation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from generator.layers.formula import Formula, Num, total
from generator.model.graph import LayerRecord, Shape


@dataclass(frozen=True)
class DimStep:
    """How one output dimension comes about: `label = formula = value`."""

    label: str
    formula: Formula


@dataclass(frozen=True)
class ShapeMath:
    """A derived output shape and the steps that explain it (empty when nothing is computed)."""

    shape: Shape
    steps: tuple[DimStep, ...] = ()
    note: str = ""

    @property
    def shapes(self) -> tuple[Shape, ...]:
        return (self.shape,)


@dataclass(frozen=True)
class MultiShapeMath(ShapeMath):
    """For layers with several outputs (an RNN returning its states, say)."""

    all_shapes: tuple[Shape, ...] = ()

    @property
    def shapes(self) -> tuple[Shape, ...]:
        return self.all_shapes


@dataclass(frozen=True)
class ParamPart:
    """One weight's share of a layer's count: `W` with `k_h k_w c_{in} c_{out}`, say."""

    name: str
    formula: Formula
    trainable: bool = True


@dataclass(frozen=True)
class ParamMath:
    """A layer's parameter count. `formula` is `None` only for a layer with no handler."""

    formula: Formula | None
    parts: tuple[ParamPart, ...] = ()
    count: int | None = None

    @property
    def total(self) -> int:
        if self.formula is not None:
            return self.formula.value()
        return self.count or 0

    @property
    def trainable(self) -> int:
        return sum(p.formula.value() for p in self.parts if p.trainable)

    @property
    def non_trainable(self) -> int:
        return sum(p.formula.value() for p in self.parts if not p.trainable)


def params_from_parts(*parts: ParamPart, formula: Formula | None = None) -> ParamMath:
    """A count made of its parts; `formula` overrides the plain sum (`4c` instead of `c+c+c+c`)."""
    return ParamMath(formula=formula or total([p.formula for p in parts]), parts=parts)


NO_PARAMS = ParamMath(formula=Num(0))


class LayerHandler:
    """Derives the math of one kind of layer. Subclasses override what differs."""

    types: tuple[str, ...] = ()
    #: A short human name for the docs' table of supported layers.
    summary: str = ""

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        return ShapeMath(shape=layer.input_shape)

    def params(self, layer: LayerRecord) -> ParamMath:
        return NO_PARAMS

    def equation(self, layer: LayerRecord) -> str:
        raise NotImplementedError


@dataclass
class _Registry:
    handlers: dict[str, LayerHandler] = field(default_factory=dict)

    def register(self, *type_names: str):
        def decorate(cls: type[LayerHandler]) -> type[LayerHandler]:
            handler = cls()
            handler.types = type_names
            for name in type_names:
                if name in self.handlers:
                    raise ValueError(
                        f"layer type {name!r} already has a handler "
                        f"({type(self.handlers[name]).__name__})"
                    )
                self.handlers[name] = handler
            return cls

        return decorate


REGISTRY = _Registry()
register = REGISTRY.register


def handler_for(type_name: str) -> LayerHandler | None:
    """The handler for a Keras class name, or `None` when no formula is known for it."""
    return REGISTRY.handlers.get(type_name)


def supported_layers() -> list[str]:
    """Every Keras class name that has a handler, sorted."""
    return sorted(REGISTRY.handlers)
