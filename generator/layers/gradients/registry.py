"""The table of backward equations, keyed by layer type like the forward handlers.

A layer's backward equation takes the upstream gradient `dL/da` (the loss's gradient with
respect to the layer's output) and gives the gradients with respect to the layer's inputs and to
each of its weights. It is written as stages: each stage is a `TensorEquation` (the forward
equations' printer and evaluator) whose inputs are the layer's inputs, the upstream gradient,
the layer's output and pre-activation, and the results of the stages before it (`\\delta`, a max
pool's winners). A weight's gradient is evaluated item by item and summed over the batch.

To add a layer type: write a function `layer record -> BackwardEquation | None` in the module of
its family (`generator/layers/gradients/<family>.py`), decorate it with
`@register_backward("KerasClassName", ...)`, and add one row for it to the table in
`tests/test_gradient_equations.py`, which checks it against `tf.GradientTape`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np

from generator.layers.tensor_equation import TensorEquation
from generator.layers.tensor_expr import Affine, Read
from generator.model.graph import LayerRecord

#: The names of the arrays every stage may read after the layer's inputs, in slot order.
UPSTREAM, OUTPUT, PRE_ACTIVATION = "upstream", "output", "pre-activation"
#: What a slot holds before its stage has run (no stage reads a later one).
_ABSENT = np.zeros(0)
#: The result key of the gradient with respect to input `m` of a layer with several inputs.
INPUT = "input"


def input_key(m: int, inputs: int) -> str:
    """`input` for a layer with one input, `input:m` for input `m` of several."""
    return INPUT if inputs == 1 else f"{INPUT}:{m}"


def partial(symbol: str) -> str:
    """`\\frac{\\partial L}{\\partial x_{i,j}}`: the loss's gradient with respect to `symbol`."""
    return rf"\frac{{\partial \mathcal L}}{{\partial {symbol}}}"


class GradRead(Read):
    """A read of a gradient array, printed as `\\frac{\\partial L}{\\partial a_{i,j,q}}`."""

    def latex(self) -> str:
        return partial(super().latex())


@dataclass(frozen=True)
class GradientEquation(TensorEquation):
    """`\\frac{\\partial L}{\\partial W_{j,i}} = ...`: a gradient as an indexed equation.

    `symbol` is what the loss is differentiated by (`x`, `W`, `\\gamma`); `named` gives the
    gradient a name of its own (`\\delta_j = \\partial L / \\partial z_j`). `printed` lists the
    output indices in printed order (a dense kernel `W_{j,i}` is stored `kernel[i, j]`);
    `batch_sum` marks a weight's gradient, the sum of every item's share, printed as `\\sum_n`.
    """

    printed: tuple[int, ...] | None = None
    batch_sum: bool = False
    named: str = ""

    def subscript(self) -> str:
        order = self.printed if self.printed is not None else range(len(self.indices))
        labels = [
            self.indices[k].label or self.indices[k].name for k in order if self.indices[k].shown
        ]
        if not labels:
            return ""
        if len(labels) == 1 and len(labels[0]) == 1:
            return f"_{labels[0]}"
        return f"_{{{','.join(labels)}}}"

    def lhs(self, symbol: str | None = None, last: str | None = None) -> str:
        sub = self.subscript()
        grad = partial(f"{symbol or self.symbol}{sub}")
        return f"{self.named}{sub} = {grad}" if self.named else grad

    def latex(self) -> str:
        text = super().latex()
        if self.batch_sum:
            lhs = self.lhs()
            text = rf"{lhs} = \sum_{{n}} {text[len(lhs) + 3 :]}"
        return text


@dataclass(frozen=True)
class Stage:
    """One step of a backward equation: the array it defines (`delta`, `input`, `kernel`)."""

    name: str
    equation: Any  # a TensorEquation, or an object with the same `latex`/`evaluate`
    weight: bool = False  # a weight's gradient: evaluated per item, summed over the batch


@runtime_checkable
class Backward(Protocol):
    """What a backward equation offers: LaTeX, and the gradients from an upstream gradient."""

    def latex(self) -> str: ...

    def evaluate(
        self,
        inputs: Sequence[np.ndarray],
        weights: Mapping[str, np.ndarray],
        upstream: np.ndarray,
    ) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class BackwardEquation:
    """A layer's backward pass as stages, printed in order and evaluated in order.

    Attributes:
        inputs: how many inputs the layer call reads.
        stages: the stages; their results are named by `Stage.name` and read by later stages
            through `slot(name)`.
        forward: the layer's forward equation, when a stage reads the output or the
            pre-activation (evaluated once, on the same inputs).
        note: prose in LaTeX appended to the printed equations.
    """

    inputs: int
    stages: tuple[Stage, ...]
    forward: TensorEquation | None = None
    note: str = ""
    slots: tuple[str, ...] = field(default=())
    needs: frozenset[str] = frozenset()

    def latex(self) -> str:
        lines = [stage.equation.latex() for stage in self.stages]
        return r" \\ ".join(lines) + self.note

    def lines(self) -> list[str]:
        """Each stage's LaTeX on its own (the pages print them one per row)."""
        return [stage.equation.latex() for stage in self.stages]

    def arrays(
        self,
        inputs: Sequence[np.ndarray],
        weights: Mapping[str, np.ndarray],
        upstream: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """Every slot's array: the inputs, upstream, output, pre-activation and each stage."""
        values: dict[str, np.ndarray] = {
            f"x{m}": np.asarray(x, dtype=np.float64) for m, x in enumerate(inputs)
        }
        values[UPSTREAM] = np.asarray(upstream, dtype=np.float64)
        if self.forward is not None and OUTPUT in self.needs:
            values[OUTPUT] = self.forward.evaluate(list(inputs), weights)
        if self.forward is not None and PRE_ACTIVATION in self.needs:
            linear = replace(self.forward, activation="linear")
            values[PRE_ACTIVATION] = linear.evaluate(list(inputs), weights)
        for stage in self.stages:
            read = [values.get(name, _ABSENT) for name in self.slots]
            if stage.weight:
                out = np.asarray(stage.equation.evaluate(read, weights), dtype=np.float64)
                values[stage.name] = out.sum(axis=0)
            else:
                values[stage.name] = np.asarray(
                    stage.equation.evaluate(read, weights), dtype=np.float64
                )
        return values

    def evaluate(
        self,
        inputs: Sequence[np.ndarray],
        weights: Mapping[str, np.ndarray],
        upstream: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """`{"input": dL/dx, "kernel": dL/dW, ...}`: the gradients the layer passes on and the
        gradients of its weights (keyed by `WeightRecord.name`), from `upstream = dL/da`."""
        values = self.arrays(inputs, weights, upstream)
        keys = [s.name for s in self.stages if s.weight or s.name.startswith(INPUT)]
        return {key: values[key] for key in keys}

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)


class Slots:
    """The arrays stages read, by name, as the input positions of their `TensorEquation`s.

    Slot `m < inputs` is input `m`; then the upstream gradient, the layer's output and its
    pre-activation; then each stage's result in the order the stages are added.
    """

    def __init__(self, inputs: int):
        self.inputs = inputs
        self.names: list[str] = [f"x{m}" for m in range(inputs)]
        self.names += [UPSTREAM, OUTPUT, PRE_ACTIVATION]
        self.used: set[str] = set()

    def __call__(self, name: str) -> tuple[str, int]:
        """The `Read.source` of a slot, adding a stage's name the first time it is asked for."""
        if name not in self.names:
            self.names.append(name)
        self.used.add(name)
        return ("input", self.names.index(name))

    def equation(
        self,
        inputs: int,
        stages: Sequence[Stage],
        forward: TensorEquation | None = None,
        note: str = "",
    ) -> BackwardEquation:
        for stage in stages:
            self(stage.name)
        return BackwardEquation(
            inputs, tuple(stages), forward, note, tuple(self.names), frozenset(self.used)
        )


def read_grad(
    symbol: str, source: tuple[str, int], maps: tuple[Affine, ...], **kw: Any
) -> GradRead:
    """The upstream gradient (or another gradient) read through index maps."""
    return GradRead(symbol, source, maps, **kw)


BackwardBuilder = Callable[[LayerRecord], "Backward | None"]


@dataclass
class _BackwardRegistry:
    builders: dict[str, BackwardBuilder] = field(default_factory=dict)

    def register(self, *type_names: str):
        def decorate(fn: BackwardBuilder) -> BackwardBuilder:
            for name in type_names:
                if name in self.builders:
                    raise ValueError(f"layer type {name!r} already has a backward equation")
                self.builders[name] = fn
            return fn

        return decorate


BACKWARD = _BackwardRegistry()
register_backward = BACKWARD.register


def backward_equation(layer: LayerRecord) -> Backward | None:
    """The layer's backward equation, or `None` when none is known for its type or attrs."""
    import generator.layers.gradients  # noqa: F401 - the family modules register themselves

    builder = BACKWARD.builders.get(layer.type)
    return builder(layer) if builder is not None else None


def supported_gradients() -> list[str]:
    """Every layer type with a backward equation, sorted."""
    import generator.layers.gradients  # noqa: F401

    return sorted(BACKWARD.builders)
