"""The table of layer handlers, keyed by Keras class name.

To add a layer type: write a `LayerHandler` subclass in the module of its family
(`generator/layers/<family>.py`), decorate it with `@register("KerasClassName", ...)`, and add one
row for it to the table in `tests/test_layers.py`. Nothing else changes: the derivation, the
renderers and the docs read this table.

A handler derives three things from a `LayerRecord`, never from Keras itself:
- `output_shape`: the output shape, with the formula of every dimension that changes;
- `params`: the parameter count as a formula, split into trainable and non-trainable parts;
- `equation`: what the layer computes, as a `LayerEquation`: an object that prints itself in LaTeX
  index notation and evaluates itself with NumPy (checked against Keras's output of the layer).

Most handlers build a `TensorEquation` (`generator/layers/tensor_equation.py`): output indices
with their ranges, a right-hand side of `Read`s through affine index maps (`s i + d u - p`),
`Reduce`s over window indices and `Func`s, and an activation from the activation table; a layer
that is not an indexed sum (a recurrence over time) may implement the protocol directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

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


@dataclass(frozen=True)
class WorkedExample:
    """One output element computed with the numbers put in.

    Attributes:
        index: position in the layer's (first) output, without the batch axis.
        value: what the equation gives there (first item of the sample).
        latex: the element with the numbers put in: the inputs in the window, the weights, the
            bias, the sum, the activation, the result; long sums show their first terms and
            `+ 23 more terms`.
    """

    index: tuple[int, ...]
    value: float
    latex: str


@runtime_checkable
class LayerEquation(Protocol):
    """What a layer computes: printed as LaTeX for the page, evaluated with NumPy for the check."""

    def latex(self) -> str:
        """The display-math LaTeX the page shows."""
        ...

    def evaluate(
        self,
        inputs: Sequence[np.ndarray],
        weights: Mapping[str, np.ndarray],
        positions: np.ndarray | None = None,
    ) -> np.ndarray:
        """The layer's output computed from the equation.

        Args:
            inputs: the layer call's input arrays with the batch axis, as Keras feeds them.
            weights: `WeightRecord.name -> array`, in Keras's layout (Dense kernel n_in x n_out).
            positions: int array `(P, rank of output incl. batch)` of output positions, or `None`
                for the whole first output.

        Returns:
            The values at `positions` (shape `(P,)`), or the whole output array.
        """
        ...

    def worked_example(
        self,
        inputs: Sequence[np.ndarray],
        weights: Mapping[str, np.ndarray],
        index: tuple[int, ...] | None = None,
    ) -> WorkedExample | None:
        """One element with its numbers; `index` None lets the equation pick one (for a padded
        layer, a border element where padding contributes)."""
        ...

    def sample_positions(
        self,
        output_shape: tuple[int, ...],
        count: int = 16,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """At least `count` output positions (with the batch index), always with the corners."""
        ...


@dataclass(frozen=True)
class PrintedEquation:
    """An equation kept as what the page prints: the saved form of an equation object, for
    pages rendered away from the model (its `evaluate` holds functions that are no data)."""

    text: str

    def latex(self) -> str:
        return self.text

    def evaluate(self, inputs, weights, positions=None) -> np.ndarray:
        raise NotImplementedError("a printed equation is not evaluated")

    def worked_example(self, inputs, weights, index=None) -> WorkedExample | None:
        return None

    def sample_positions(self, output_shape, count=16, rng=None) -> np.ndarray:
        return sample_positions(output_shape, count, rng)


def sample_positions(
    output_shape: Sequence[int | None], count: int = 16, rng: np.random.Generator | None = None
) -> np.ndarray:
    """At least `count` output positions (batch index first): every corner, then random ones."""
    import itertools

    dims = [1 if d is None else int(d) for d in output_shape[1:]]
    batch = 1 if output_shape[0] is None else int(output_shape[0])
    corners = list(itertools.product(*({0, n - 1} for n in dims)))[:64]
    rng = rng or np.random.default_rng(0)
    extra = max(count - len(corners), 0)
    rows = [(0, *c) for c in corners]
    for _ in range(extra):
        rows.append((int(rng.integers(batch)), *(int(rng.integers(n)) for n in dims)))
    return np.asarray(rows, dtype=np.int64).reshape(len(rows), len(dims) + 1)


def at_positions(out: np.ndarray, positions: np.ndarray | None) -> np.ndarray:
    """`out` itself, or its values at `positions` (rows of indices, batch first)."""
    return out if positions is None else out[tuple(np.asarray(positions).T)]


class SampledPositions:
    """The contract's `sample_positions` for an equation with no preference of its own."""

    def sample_positions(
        self, output_shape: tuple[int, ...], count: int = 16, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        return sample_positions(output_shape, count, rng)


@dataclass(frozen=True)
class AffineMap:
    """A layer at inference as an affine map of its (batch, features) input, for the composed
    equation: `a = W x + b` (`matrix`, n_out x n_in, and `bias`), or entry by entry
    `a = s x + t` (`scale`, `shift`). `symbols` name the numbers in the general form (`W`, `b`;
    folded `\\hat\\gamma`, `\\hat\\beta`); empty for constants written as numbers."""

    matrix: np.ndarray | None = None
    bias: np.ndarray | None = None
    scale: np.ndarray | None = None
    shift: np.ndarray | None = None
    symbols: tuple[str, str] | tuple[()] = ()


class LayerHandler:
    """Derives the math of one kind of layer. Subclasses override what differs."""

    types: tuple[str, ...] = ()
    #: A short human name for the docs' table of supported layers.
    summary: str = ""
    #: The frontends that write this type: a Keras class name is both's vocabulary, a type
    #: such as `ParameterAdd` only the PyTorch frontend's.
    frameworks: tuple[str, ...] = ("keras", "torch")

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        return ShapeMath(shape=layer.input_shape)

    def params(self, layer: LayerRecord) -> ParamMath:
        return NO_PARAMS

    def equation(self, layer: LayerRecord) -> LayerEquation | None:
        """What the layer computes, or `None` for a layer with no equation."""
        raise NotImplementedError

    def affine(
        self, layer: LayerRecord, weight: Callable[[str], np.ndarray | None], n: int
    ) -> AffineMap | None:
        """The layer as an affine map of its `n` input features (`weight(role)` gives its
        weights), for layers the composed equation expands; `None` for the others."""
        return None


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
