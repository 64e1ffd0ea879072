"""The layer equation as an object: printed in LaTeX, evaluated with NumPy at chosen positions."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generator.layers.latex_text import call, index_range, leading
from generator.layers.registry import SampledPositions, WorkedExample, at_positions
from generator.layers.tensor_expr import BATCH, Context, Expr, Func, Idx, Read, Term, at, number
from generator.model.activations import (
    activation_latex,
    activation_name,
    layer_activation,
    numpy_function,
)

#: Activations that act on a whole vector (the last axis), not on each number by itself.
VECTOR_ACTIVATIONS = ("softmax", "log_softmax")
#: Gathered entries per chunk of positions: bounds the memory of one evaluation.
CHUNK_ENTRIES = 2_000_000


def _softmax(z: np.ndarray, log: bool = False) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    if log:
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(rows, axis=0, return_inverse=True)` for an integer array P x K, sorted alike.

    Each row is packed into one int64 key first: NumPy sorts rows of several columns as opaque
    bytes, dozens of times slower (a large network's equation checks spent most of their time
    there).
    """
    if rows.ndim != 2 or rows.shape[1] == 0 or len(rows) == 0:
        found, which = np.unique(rows, axis=0, return_inverse=True)
        return found, np.asarray(which).reshape(-1)
    low = rows.min(axis=0)
    sizes = rows.max(axis=0) - low + 1
    if float(np.prod(sizes.astype(np.float64))) >= 2.0**62:  # keys would overflow: slow path
        found, which = np.unique(rows, axis=0, return_inverse=True)
        return found, np.asarray(which).reshape(-1)
    keys = np.ravel_multi_index(tuple((rows - low).T), tuple(int(s) for s in sizes))
    _, first, which = np.unique(keys, return_index=True, return_inverse=True)
    return rows[first], which.reshape(-1)


def _plain(value: float) -> str:
    """A result in a worked example: four significant digits."""
    return number(value).strip("()")


@dataclass(frozen=True)
class TensorEquation(SampledPositions):
    """`a_{indices} = f(body)`, with the tensors it defines on the way (`y`, `\\mu`).

    Attributes:
        indices: the output's indices in array order, without the batch axis.
        body: the right-hand side before the activation.
        activation: a name of the activation table (`linear`, `relu`, `softmax`, ...).
        activation_params: its parameters where Keras's attrs sets them.
        aliases: indices defined by an output index (`c = k // 3`, `q = k mod 3`).
        definitions: named tensors the body reads with `Read(source=("def", name))`.
        definitions_first: print the definitions before the output's equation.
        symbol: the output's symbol (`a`; `y` for a definition).
        ranges: print the range of each shown output index (`j = 0, \\dots, 9`).
        note: LaTeX appended to the equation (`\\quad (x = 0 \\text{ outside})`).
        example: the output position (no batch) a worked example shows by default.
    """

    indices: tuple[Idx, ...]
    body: Expr
    activation: str = "linear"
    activation_params: Mapping[str, float] = field(default_factory=dict)
    aliases: tuple[tuple[Idx, Term], ...] = ()
    definitions: tuple[TensorEquation, ...] = ()
    definitions_first: bool = False
    symbol: str = "a"
    ranges: bool = False
    note: str = ""
    example: tuple[int, ...] | None = None

    # --- printing -------------------------------------------------------------------------
    def lhs(self, symbol: str | None = None, last: str | None = None) -> str:
        labels = [i.label or i.name for i in self.indices if i.shown]
        if last is not None and labels:
            labels[-1] = last
        symbol = symbol or self.symbol
        if not labels:
            return symbol
        if len(labels) == 1 and len(labels[0]) == 1:
            return f"{symbol}_{labels[0]}"
        return f"{symbol}_{{{','.join(labels)}}}"

    def latex(self) -> str:
        name = activation_name(self.activation)
        body = self.body.latex()
        if name in VECTOR_ACTIVATIONS:
            f = activation_latex(name)
            shown = [i for i in self.indices if i.shown]
            if len(shown) <= 1:
                vector = rf"{self.symbol} = {f}(z)"
            else:
                vector = rf"{self.lhs(last=':')} = {f}\!\left({self.lhs('z', last=':')}\right)"
            labels = ",".join(i.label or i.name for i in shown)
            main = rf"{vector}, \quad z_{{{labels}}} = {body}"
        elif name == "linear":
            main = f"{self.lhs()} = {body}"
        elif isinstance(self.body, Read) and not any(m.shown for m in self.body.maps):
            main = rf"{self.lhs()} = {activation_latex(name)}({body})"
        else:
            main = rf"{self.lhs()} = {activation_latex(name)}\!\left({body}\right)"
        if self.ranges:
            main += "".join(
                rf", \quad {index_range(i.name, i.size - 1)}"
                for i in self.indices
                if i.shown and i.size is not None and not i.label
            )
        defs = [d.latex() for d in self.definitions]
        if self.definitions_first:
            text = r", \qquad ".join([*defs, main])
        else:
            text = r", \quad ".join([main, *defs])
        return text + self.note

    # --- evaluation -----------------------------------------------------------------------
    def _env(self, positions: np.ndarray) -> dict[str, np.ndarray]:
        env = {BATCH: positions[:, 0]}
        for k, idx in enumerate(self.indices):
            env[idx.name] = positions[:, k + 1]
        for idx, term in self.aliases:
            env[idx.name] = term.values(env)
        return env

    def _pre_activation(self, ctx: Context, positions: np.ndarray) -> np.ndarray:
        step = max(1, CHUNK_ENTRIES // max(1, self.body.volume()))
        out = [
            np.broadcast_to(
                self.body.values(ctx, self._env(positions[s : s + step])),
                (len(positions[s : s + step]),),
            )
            for s in range(0, len(positions), step)
        ]
        return np.concatenate(out) if out else np.zeros(0)

    def values_at(self, ctx: Context, positions: np.ndarray) -> np.ndarray:
        """The output at `positions` (P x (1 + rank)), the activation applied."""
        name = activation_name(self.activation)
        if name in VECTOR_ACTIVATIONS:
            # The whole vector at each distinct leading position, computed once.
            n = self.indices[-1].size
            leading, which = unique_rows(positions[:, :-1])
            full = np.repeat(np.column_stack([leading, np.zeros(len(leading), int)]), n, axis=0)
            full[:, -1] = np.tile(np.arange(n), len(leading))
            z = self._pre_activation(ctx, full).reshape(len(leading), n)
            a = _softmax(z, log=name == "log_softmax")
            return a[which, positions[:, -1]]
        z = self._pre_activation(ctx, positions).astype(np.float64)
        if name == "linear":
            return z
        return numpy_function(name)(z, **self.activation_params)

    def at(self, ctx: Context, index: list[np.ndarray], outside: float | None) -> np.ndarray:
        """This definition read at broadcast index arrays (batch first), as `Read` needs it."""
        index = np.broadcast_arrays(*index)
        shape = index[0].shape
        flat = np.stack([ix.reshape(-1) for ix in index], axis=1)
        # A statistic (a mean over a window) is read at many places: compute each entry once.
        rows, which = unique_rows(flat)
        return self.values_at(ctx, rows)[which].reshape(shape)

    def context(self, inputs: Sequence[np.ndarray], weights: Mapping[str, Any]) -> Context:
        inputs = [np.asarray(x, dtype=np.float64) for x in inputs]
        weights = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
        defs = {d.symbol: d for d in self.definitions}
        return Context(inputs, weights, defs)

    def output_shape(self, inputs: Sequence[np.ndarray]) -> tuple[int, ...]:
        """The output's shape with batch; an index of unknown size takes the size of the input
        axis it reads (an open length), else the input's axis at the same place."""
        batch = np.shape(inputs[0])[0]
        read_at = _open_axes(self.body)
        dims = []
        for k, idx in enumerate(self.indices):
            if idx.size is not None:
                dims.append(idx.size)
            elif idx.name in read_at:
                source, axis = read_at[idx.name]
                dims.append(np.shape(inputs[source])[axis + 1])
            else:
                dims.append(np.shape(inputs[0])[k + 1])
        return (batch, *dims)

    def evaluate(
        self,
        inputs: Sequence[np.ndarray],
        weights: Mapping[str, np.ndarray],
        positions: np.ndarray | None = None,
    ) -> np.ndarray:
        ctx = self.context(inputs, weights)
        if positions is not None:
            return self.values_at(ctx, np.asarray(positions, dtype=np.int64))
        shape = self.output_shape(inputs)
        grid = np.indices(shape).reshape(len(shape), -1).T
        return self.values_at(ctx, grid).reshape(shape)

    # --- worked example -------------------------------------------------------------------
    def worked_example(
        self,
        inputs: Sequence[np.ndarray],
        weights: Mapping[str, np.ndarray],
        index: tuple[int, ...] | None = None,
    ) -> WorkedExample | None:
        index = tuple(index if index is not None else self.example or (0,) * len(self.indices))
        ctx = self.context(inputs, weights)
        position = np.asarray([(0, *index)], dtype=np.int64)
        value = float(self.values_at(ctx, position)[0])
        env = self._env(position)
        numbers = leading(self.body.numbers(ctx, env))
        z = float(np.asarray(self.body.values(ctx, env)).reshape(-1)[0])
        name = activation_name(self.activation)
        lhs = self._lhs_numbers(index)
        if name in VECTOR_ACTIVATIONS:
            zname = lhs.replace(self.symbol, "z", 1)
            text = (
                rf"{zname} = {numbers} = {leading(number(z))}, \quad {lhs} = "
                rf"{activation_latex(name)}(z)_{{{index[-1]}}} = {_plain(value)}"
            )
        elif name == "linear":
            text = f"{lhs} = {numbers} = {_plain(value)}"
            if numbers == _plain(value):  # the entry is read, not computed: one number
                text = f"{lhs} = {numbers}"
        else:
            f = activation_latex(name)
            text = rf"{lhs} = {f}\!\left({numbers}\right) = {call(f, number(z))} = {_plain(value)}"
            if numbers == leading(number(z)):  # one number inside: no sum to work out first
                text = rf"{lhs} = {call(f, numbers)} = {_plain(value)}"
        return WorkedExample(index=index, value=value, latex=text)

    def _lhs_numbers(self, index: tuple[int, ...]) -> str:
        # Every index, hidden ones too: the example names one entry of the output array.
        if not index:
            return self.symbol
        return f"{self.symbol}_{{{','.join(str(v) for v in index)}}}"


@dataclass(frozen=True)
class IndexMapEquation(SampledPositions):
    """A layer that only moves numbers (Flatten, Reshape): the input read in row-major order
    (its axes taken in `source_order`), written in row-major order into the `output` shape.

    `text` says where each input entry lands; `position` (Flatten) is the output position of
    input entry `(i, j, k)` in LaTeX, `{0}`, `{1}`, ... standing for the input's indices.
    """

    text: str
    output: tuple[int, ...]
    source_order: tuple[int, ...] | None = None
    position: str = ""

    def latex(self) -> str:
        return self.text

    def evaluate(self, inputs, weights, positions=None):
        x = np.asarray(inputs[0], dtype=np.float64)
        if self.source_order is not None:
            x = np.transpose(x, (0, *(a + 1 for a in self.source_order)))
        out = x.reshape(x.shape[0], *self.output)
        return at_positions(out, positions)

    def worked_example(self, inputs, weights, index=None):
        """Where one output entry comes from: `a_{18} = x_{1,2,0} = 0.25`."""
        x = np.asarray(inputs[0])
        dims = x.shape[1:]
        order = self.source_order or tuple(range(len(dims)))
        if index is None:
            index = tuple(d // 2 for d in self.output)
        flat = int(np.ravel_multi_index(tuple(index), self.output))
        read = np.unravel_index(flat, tuple(dims[a] for a in order))
        source = [0] * len(dims)
        for axis, value in zip(order, read, strict=True):
            source[axis] = int(value)
        value = float(x[(0, *source)])
        lhs = ",".join(str(int(i)) for i in index)
        rhs = ",".join(str(i) for i in source)
        text = rf"a_{{{lhs}}} = x_{{{rhs}}} = {_plain(value)}"
        if self.position:
            where = self.position.format(*source)
            text = rf"n = {where} = {flat}: \quad " + text
        return WorkedExample(index=tuple(int(i) for i in index), value=value, latex=text)


def activation_spec(layer: Any) -> str:
    """The name of a layer's fused activation in the table (`linear` when it has none)."""
    return layer_activation(layer).name


def hidden_indices(shape: Sequence[int | None], prefix: str = "t") -> tuple[Idx, ...]:
    """One unprinted index per axis of `shape` (batch excluded): `a = f(x)` entry by entry."""
    return tuple(Idx(f"{prefix}{k}", d, shown=False) for k, d in enumerate(shape[1:]))


def read_all(symbol: str, k: int, indices: Sequence[Idx]) -> Read:
    """Input `k` read at the same position as the output: `x` (or `x_{i,j}` if shown)."""
    return Read(symbol, ("input", k), tuple(at(i) for i in indices))


def entrywise(shape: Sequence[int | None], fn, template: str, note: str = "") -> TensorEquation:
    """`a = f(x)` applied to every entry; `template` writes `f` of `{0}` in LaTeX."""
    indices = hidden_indices(shape)
    return TensorEquation(indices, Func(fn, (read_all("x", 0, indices),), template), note=note)


def _open_axes(expr: object) -> dict[str, tuple[int, int]]:
    """For each index of unknown size read plainly (`x_{..., t, ...}`) from an input: which
    input and which of its axes (without the batch) it runs along."""
    found: dict[str, tuple[int, int]] = {}

    def visit(node: object) -> None:
        if isinstance(node, Read) and node.source[0] == "input":
            for axis, m in enumerate(node.maps):
                if len(m.terms) == 1 and m.terms[0].coef == 1 and m.terms[0].idx.size is None:
                    found.setdefault(m.terms[0].idx.name, (int(node.source[1]), axis))
        if dataclasses.is_dataclass(node) and not isinstance(node, type):
            for f in dataclasses.fields(node):
                visit(getattr(node, f.name))
        elif isinstance(node, tuple | list):
            for item in node:
                visit(item)

    visit(expr)
    return found
