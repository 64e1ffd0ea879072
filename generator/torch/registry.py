"""The table of PyTorch translations, keyed by Keras class name, and what a translation sees.

To add a layer type: write a function in the module of its family (`generator/torch/<family>.py`)
that takes a `LayerContext` and returns a `Result`, decorate it with
`@translation("KerasClassName", wants=...)`, and add a row for it to `tests/test_torch.py`.

A translation reads the layer's record (never Keras) and
- asks for its inputs in the layout it needs (`ctx.input(0, CF)`): channels first for
  convolutions, Keras's own channels-last order for dense and recurrent layers;
- registers the modules it needs (`ctx.module("nn.Linear(...)", weight=..., bias=...)`), the
  weights converted from Keras's layout to PyTorch's;
- returns the forward expression and the layout of its output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generator.exceptions import CourseError
from generator.model.activations import ACTIVATIONS, layer_activation
from generator.model.graph import LayerRecord, Shape


class TranslationError(CourseError):
    """A layer that has no PyTorch translation, or a setting the translation does not cover."""


@dataclass(frozen=True)
class Layout:
    """How a tensor's axes are ordered in the PyTorch module.

    `cl` is Keras's own order (channels or features last; batch-first sequences), `cf` puts the
    channels right after the batch axis (NCL, NCHW, NCDHW), and `flat_cf` is a vector flattened
    from a channels-first tensor. `dims` keeps the Keras dimensions a vector was flattened from,
    to show `14 * 14 * 16`-style arithmetic.
    """

    kind: str
    dims: tuple[int, ...] = ()


CL = Layout("cl")
CF = Layout("cf")


@dataclass(frozen=True)
class Value:
    """A tensor in `forward`: the expression naming it, its Keras shape and its layout."""

    expr: str
    shape: Shape
    layout: Layout

    @property
    def rank(self) -> int:
        return len(self.shape)


@dataclass(frozen=True)
class Result:
    """What a translation returns: the expression of its output and that output's layout."""

    expr: str
    layout: Layout


@dataclass(frozen=True)
class Registered:
    """One module of the generated `nn.Module`: its attribute, constructor and state tensors."""

    layer: str
    attr: str
    constructor: str
    state: dict[str, Any]
    buffers: frozenset[str] = frozenset()

    @property
    def params(self) -> int:
        return sum(int(np.prod(a.shape)) for k, a in self.state.items() if k not in self.buffers)

    @property
    def buffer_values(self) -> int:
        return sum(
            int(np.prod(self.state[k].shape))
            for k in self.buffers
            if k.rsplit(".", 1)[-1] != "num_batches_tracked"
        )


@dataclass
class LayerContext:
    """Everything a translation may read about one layer, and where it writes its modules."""

    record: LayerRecord
    inputs: list[Value]
    attr: str
    out: str
    weight_values: dict[tuple[str, str], Any]
    modules: list[Registered] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    helpers: dict[str, None] = field(default_factory=dict)

    @property
    def attrs(self) -> dict[str, Any]:
        return self.record.attrs

    def value(self, index: int = 0) -> Value:
        return self.inputs[index]

    def input(self, index: int = 0, layout: Layout | None = None) -> str:
        """The expression of input `index`, converted to `layout` (kept as it is for `None`)."""
        value = self.inputs[index]
        return value.expr if layout is None else convert(value, layout)

    def weight(self, name: str, prefix: str = "") -> np.ndarray:
        """A weight by its last path component (`kernel`), under `prefix` (`forward_`) if given.

        Without stored values (shapes only), an all-zero array that costs no memory.
        """
        for record in self.record.weights:
            parts = record.name.split("/")
            if parts[-1] == name and (not prefix or parts[0].startswith(prefix)):
                value = self.weight_values.get((self.record.name, record.name))
                if value is None:
                    return np.broadcast_to(np.float32(0), record.shape)
                return np.asarray(value, dtype=np.float32)
        raise self.error(f"has no weight {name!r}")

    def has_weight(self, name: str) -> bool:
        return any(w.name.split("/")[-1] == name for w in self.record.weights)

    def module(
        self, constructor: str, attr: str | None = None, buffers: tuple[str, ...] = (), **state: Any
    ) -> str:
        """Register `self.<attr> = <constructor>` with its state; returns `self.<attr>`."""
        attr = attr or self.attr
        self.modules.append(
            Registered(self.record.name, attr, constructor, dict(state), frozenset(buffers))
        )
        return f"self.{attr}"

    def use_helper(self, source: str) -> None:
        """Put a helper function or class (its source) at the top of the generated file."""
        self.helpers[source] = None

    def line(self, statement: str) -> None:
        """A statement of `forward` that comes before the output's assignment."""
        self.lines.append(statement)

    def error(self, reason: str) -> TranslationError:
        return TranslationError(
            f"layer {self.record.name!r} ({self.record.type}) {reason}; see "
            "generator.torch.registry for how to add a translation"
        )


Translate = Callable[[LayerContext], Result]


@dataclass(frozen=True)
class Translation:
    """A translation function and the layout it wants model inputs in (`None`: either)."""

    function: Translate
    wants: Layout | None


_TABLE: dict[str, Translation] = {}


def translation(*type_names: str, wants: Layout | None = None):
    """Register a translation for Keras class names; a second one for a name is refused."""

    def decorate(function: Translate) -> Translate:
        for name in type_names:
            if name in _TABLE:
                raise ValueError(f"layer type {name!r} already has a PyTorch translation")
            _TABLE[name] = Translation(function, wants)
        return function

    return decorate


def translation_for(type_name: str) -> Translation | None:
    return _TABLE.get(type_name)


def translated_layers() -> list[str]:
    """Every Keras class name with a PyTorch translation, sorted."""
    return sorted(_TABLE)


# --- layouts -------------------------------------------------------------------------------------


def _natural_dims(dims: tuple[int, ...]) -> str:
    return ", ".join(str(d) for d in dims)


def convert(value: Value, layout: Layout) -> str:
    """`value`'s expression with its axes reordered into `layout`."""
    expr, rank = value.expr, value.rank
    if value.layout.kind == "flat_cf":
        if layout.kind == "flat_cf":
            return expr
        dims = value.layout.dims
        cf_dims = (dims[-1], *dims[:-1])
        order = ", ".join(str(i) for i in (0, *range(2, len(dims) + 1), 1))
        # Keras flattens channels-last: undo the channels-first order before flattening again.
        return f"{expr}.unflatten(1, ({_natural_dims(cf_dims)})).permute({order}).flatten(1)"
    if rank <= 2 or value.layout.kind == layout.kind:
        return expr
    if layout.kind == "cf":
        order = (0, rank - 1, *range(1, rank - 1))
    else:
        order = (0, *range(2, rank), 1)
    return f"{expr}.permute({', '.join(str(i) for i in order)})"


def torch_dim(axis: int, value_or_rank: Value | int, layout: Layout | None = None) -> int:
    """The PyTorch dimension of Keras axis `axis` of a tensor in `layout`."""
    if isinstance(value_or_rank, Value):
        rank, layout = value_or_rank.rank, value_or_rank.layout
    else:
        rank = value_or_rank
    axis = axis % rank
    if layout is None or layout.kind != "cf" or rank <= 2 or axis == 0:
        return axis
    return 1 if axis == rank - 1 else axis + 1


def spatial_dims(value: Value) -> tuple[int, ...]:
    """The PyTorch dimensions of a tensor's spatial (or time) axes."""
    if value.layout.kind == "cf":
        return tuple(range(2, value.rank))
    return tuple(range(1, value.rank - 1))


# --- activations ---------------------------------------------------------------------------------


def activate(ctx: LayerContext, expr: str, rank: int, layout: Layout, axis: int = -1) -> str:
    """`expr` passed through the layer's activation (a softmax over Keras axis `axis`).

    The activation and its PyTorch form come from the activation table
    (`generator.model.activations`); a layer whose activation has none there is refused.
    """
    act = layer_activation(ctx.record)
    dim = torch_dim(axis, rank, layout) if rank > 1 else -1
    translated = act.torch(expr, dim) if act is not None else None
    if translated is None:
        known = sorted(name for name, row in ACTIVATIONS.items() if row.torch)
        name = act.name if act is not None else ctx.record.type
        raise ctx.error(
            f"uses activation {name!r}, which has no PyTorch translation "
            f"(known: {', '.join(known)})"
        )
    return translated


def int_arg(values: tuple[int, ...] | list[int]) -> str:
    """A size argument as PyTorch code: `3` when every axis agrees, else `(3, 5)`."""
    values = tuple(int(v) for v in values)
    if len(set(values)) == 1:
        return str(values[0])
    return f"({', '.join(str(v) for v in values)})"
