"""Index expressions: indices with ranges, affine index maps, and the terms a layer reduces."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from generator.layers.latex_text import EXPONENT_NEGATIVE, leading

#: The batch index: never printed, always the first axis of the inputs and the output.
BATCH = "__batch"
#: How many terms of a long sum a worked example writes out before `+ N more terms`.
SHOWN_TERMS = 4


@dataclass(frozen=True)
class Idx:
    """An index and its range `0 <= name < size`; `shown=False` hides it (leading axes).

    `label` is how an output index prints on the left-hand side (`3c+q` for channel `k` of a
    depthwise convolution with depth multiplier 3), where it stands for other indices.
    A window index over an axis of unknown length (`size=None`: a model built for any image
    size) prints its range as `extent` (`n_h`) and takes the length of `axis`, an `(input,
    array axis with batch)` pair, when it is evaluated.
    """

    name: str
    size: int | None
    shown: bool = True
    label: str = ""
    extent: str = ""
    axis: tuple[int, int] | None = None

    @property
    def bound(self) -> str:
        """The range's end as printed: `7`, or `n_h` where the length is only known at run time."""
        return str(self.size) if self.size is not None else self.extent or "n"

    @property
    def last(self) -> str:
        """The last value as printed: `6`, or `n_h - 1`."""
        return str(self.size - 1) if self.size is not None else f"{self.bound} - 1"

    def resolved(self, ctx: Context) -> Idx:
        """This index with its length read from the input where it was unknown."""
        if self.size is not None or self.axis is None:
            return self
        k, axis = self.axis
        return replace(self, size=int(np.shape(ctx.inputs[k])[axis]))


@dataclass(frozen=True)
class Term:
    """`coef * ((idx // div) % mod)` (`mod = 0`: no remainder): one term of an index map."""

    idx: Idx
    coef: int = 1
    div: int = 1
    mod: int = 0

    def values(self, env: Mapping[str, np.ndarray]) -> np.ndarray:
        v = env[self.idx.name]
        if self.div != 1:
            v = v // self.div
        if self.mod:
            v = v % self.mod
        return self.coef * v

    def latex(self) -> str:
        body = self.idx.name
        if self.div != 1:
            body = rf"\lfloor {body}/{self.div} \rfloor"
        if self.mod:
            body = rf"({body} \bmod {self.mod})"
        coef = "" if abs(self.coef) == 1 else f"{abs(self.coef)}"
        return f"{coef}{body}"


@dataclass(frozen=True)
class Affine:
    """An index map `(sum of terms + offset) / divisor`: `2i + u - 1`, `(i + 1 - u)/2`.

    A map with `divisor > 1` reads only where the division is exact (a transposed convolution).
    """

    terms: tuple[Term, ...]
    offset: int = 0
    divisor: int = 1

    def values(self, env: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        """The index values, and where they are exact (None when the map has no divisor)."""
        total: Any = self.offset
        for term in self.terms:
            total = total + term.values(env)
        total = np.asarray(total)
        if self.divisor == 1:
            return total, None
        return total // self.divisor, total % self.divisor == 0

    @property
    def shown(self) -> bool:
        """A map that is just a hidden index (a leading axis) is left out of the subscript."""
        return not (
            len(self.terms) == 1
            and not self.terms[0].idx.shown
            and self.offset == 0
            and self.terms[0].coef == 1
        )

    def latex(self) -> str:
        parts: list[str] = []
        for term in self.terms:
            text = term.latex()
            if not parts:
                parts.append(text if term.coef > 0 else f"-{text}")
            else:
                parts.append(f"+ {text}" if term.coef > 0 else f"- {text}")
        if self.offset or not parts:
            if not parts:
                parts.append(str(self.offset))
            else:
                parts.append(f"+ {self.offset}" if self.offset > 0 else f"- {-self.offset}")
        text = " ".join(parts)
        return f"({text})/{self.divisor}" if self.divisor != 1 else text


def at(*terms: Idx | Term | int) -> Affine:
    """An index map from indices, terms and an integer offset: `at(i, Term(u, 2), -1)`."""
    out, offset = [], 0
    for t in terms:
        if isinstance(t, int):
            offset += t
        elif isinstance(t, Idx):
            out.append(Term(t))
        else:
            out.append(t)
    return Affine(tuple(out), offset)


def number(value: float) -> str:
    """A number in a worked example: four significant digits, negatives in parentheses."""
    text = f"{float(value):.4g}"
    if text in ("inf", "-inf"):
        return r"-\infty" if text[0] == "-" else r"\infty"
    return f"({text})" if text.startswith("-") else text


@dataclass
class Context:
    """The arrays an equation reads: the layer's inputs (with batch), its weights, definitions."""

    inputs: Sequence[np.ndarray]
    weights: Mapping[str, np.ndarray]
    definitions: Mapping[str, Any] = field(default_factory=dict)

    def array(self, source: tuple[str, Any]) -> np.ndarray:
        kind, key = source
        if kind == "input":
            return self.inputs[key]
        if kind == "weight":
            if key not in self.weights:
                known = ", ".join(sorted(self.weights)) or "none"
                raise KeyError(f"the equation reads weight {key!r}; the layer has: {known}")
            return self.weights[key]
        if kind == "const":
            return np.asarray(key)
        raise KeyError(source)


class Expr:
    """A node of an equation's right-hand side.

    Every node prints itself in LaTeX (`latex()`), evaluates itself with NumPy at many output
    positions at once (`values(ctx, env)`: `env` maps an index name to an integer array, with one
    trailing axis per open reduction) and writes itself with the numbers put in at one position
    (`numbers(ctx, env)`).
    """

    def latex(self) -> str:
        raise NotImplementedError

    def values(self, ctx: Context, env: Mapping[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def numbers(self, ctx: Context, env: Mapping[str, np.ndarray]) -> str:
        return number(float(np.asarray(self.values(ctx, env)).reshape(-1)[0]))

    def volume(self) -> int:
        """How many terms one output element reads (for chunking a large evaluation)."""
        return 1

    def __add__(self, other: Expr) -> Expr:
        return Sum((self, other))

    def __mul__(self, other: Expr) -> Expr:
        return Prod((self, other))


@dataclass(frozen=True)
class Read(Expr):
    """`symbol_{maps}`: one entry of an input, a weight or a defined tensor, by index maps.

    `maps` follow the array's axes (without batch); `order` lists them in printed order
    (`W_{j,i}` reads `kernel[i, j]`); `outside` is the value read outside the array (zero padding,
    `-inf` for max pooling, `nan` for entries left out of a mean), `None` where that never happens.
    """

    symbol: str
    source: tuple[str, Any]
    maps: tuple[Affine, ...]
    batched: bool = True
    outside: float | None = None
    order: tuple[int, ...] | None = None

    def latex(self) -> str:
        order = self.order if self.order is not None else range(len(self.maps))
        subs = [self.maps[k].latex() for k in order if self.maps[k].shown]
        if not subs:
            return self.symbol
        if len(subs) == 1 and len(subs[0]) == 1:
            return f"{self.symbol}_{subs[0]}"
        sep = r",\, " if any(" " in s for s in subs) else ","
        return f"{self.symbol}_{{{sep.join(subs)}}}"

    def values(self, ctx: Context, env: Mapping[str, np.ndarray]) -> np.ndarray:
        index, exact = [], []
        for m in self.maps:
            value, ok = m.values(env)
            index.append(value)
            if ok is not None:
                exact.append(ok)
        if self.batched:
            index.insert(0, env[BATCH])
        if self.source[0] == "def":
            return ctx.definitions[self.source[1]].at(ctx, index, self.outside)
        array = ctx.array(self.source)
        index = list(np.broadcast_arrays(*index))
        inside = np.ones(index[0].shape, dtype=bool)
        for k, (n, ix) in enumerate(zip(array.shape, index, strict=True)):
            if ix.size and (ix.min() < 0 or ix.max() >= n):
                inside &= (ix >= 0) & (ix < n)
                index[k] = np.clip(ix, 0, n - 1)
        for ok in exact:
            inside &= ok
        found = array[tuple(index)]
        if inside.all():
            return found
        if self.outside is None:
            raise IndexError(f"{self.latex()} reads outside its array")
        return np.where(inside, found, self.outside)


@dataclass(frozen=True)
class Const(Expr):
    """A number (`\\epsilon`, `1/255`) with how it prints."""

    value: float
    text: str = ""

    def latex(self) -> str:
        return self.text or f"{self.value:g}"

    def values(self, ctx: Context, env: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self.value, dtype=float)


@dataclass(frozen=True)
class Sum(Expr):
    """`t_1 + t_2 + ...`; a term under `Neg` prints as `- t`."""

    terms: tuple[Expr, ...]

    def latex(self) -> str:
        out = self.terms[0].latex()
        for t in self.terms[1:]:
            text = t.arg.latex() if isinstance(t, Neg) else t.latex()
            if isinstance(t, Neg) or text.startswith("-"):
                out += f" - {text.removeprefix('-')}"
            else:
                out += f" + {text}"
        return out

    def values(self, ctx: Context, env: Mapping[str, np.ndarray]) -> np.ndarray:
        return sum((t.values(ctx, env) for t in self.terms[1:]), self.terms[0].values(ctx, env))

    def numbers(self, ctx: Context, env: Mapping[str, np.ndarray]) -> str:
        return leading(" + ".join(t.numbers(ctx, env) for t in self.terms))

    def volume(self) -> int:
        return max(t.volume() for t in self.terms)


@dataclass(frozen=True)
class Neg(Expr):
    arg: Expr

    def latex(self) -> str:
        return f"-{self.arg.latex()}"

    def values(self, ctx: Context, env: Mapping[str, np.ndarray]) -> np.ndarray:
        return -self.arg.values(ctx, env)

    def volume(self) -> int:
        return self.arg.volume()


@dataclass(frozen=True)
class Prod(Expr):
    """`f_1\\, f_2 ...`: a weight times an input, a scale times a standardized input."""

    factors: tuple[Expr, ...]

    def latex(self) -> str:
        return r"\, ".join(f.latex() for f in self.factors)

    def values(self, ctx: Context, env: Mapping[str, np.ndarray]) -> np.ndarray:
        out = self.factors[0].values(ctx, env)
        for f in self.factors[1:]:
            out = out * f.values(ctx, env)
        return out

    def numbers(self, ctx: Context, env: Mapping[str, np.ndarray]) -> str:
        return r" \cdot ".join(f.numbers(ctx, env) for f in self.factors)

    def volume(self) -> int:
        return max(f.volume() for f in self.factors)


@dataclass(frozen=True)
class Func(Expr):
    """A function of other nodes: `fn` on their values, `template` (`\\sqrt{{{0}}}`) in LaTeX."""

    fn: Callable[..., np.ndarray]
    args: tuple[Expr, ...]
    template: str

    def latex(self) -> str:
        return self.template.format(*(a.latex() for a in self.args))

    def values(self, ctx: Context, env: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.fn(*(a.values(ctx, env) for a in self.args))

    def numbers(self, ctx: Context, env: Mapping[str, np.ndarray]) -> str:
        text = self.template.format(*(a.numbers(ctx, env) for a in self.args))
        return EXPONENT_NEGATIVE.sub(r"^{\1}", text)  # e^{-0.5}, not e^{(-0.5)}

    def volume(self) -> int:
        return max(a.volume() for a in self.args)


_REDUCE = {"sum": np.sum, "max": np.max, "min": np.min, "mean": np.mean, "mean_inside": np.nanmean}


@dataclass(frozen=True)
class Reduce(Expr):
    """A sum, max or mean of `body` over window indices.

    `mean_inside` averages only the entries read inside the input (reads outside give `nan`):
    average pooling with `same` padding does not count the padding.
    """

    kind: str
    indices: tuple[Idx, ...]
    body: Expr
    style: str = "sigma"  # "sigma": one \sum per index; "limits": one operator with their ranges

    def latex(self) -> str:
        body = self.body.latex()
        if isinstance(self.body, Sum):
            body = rf"\left({body}\right)"
        limits = r",\, ".join(rf"0 \le {i.name} < {i.bound}" for i in self.indices)
        if self.kind == "sum" and self.style == "sigma":
            sums = " ".join(rf"\sum_{{{i.name}=0}}^{{{i.last}}}" for i in self.indices)
            return f"{sums} {body}"
        if self.kind == "sum":
            return rf"\sum_{{{limits}}} {body}"
        if self.kind in ("max", "min"):
            return rf"\{self.kind}_{{{limits}}} {body}"
        known = all(i.size is not None for i in self.indices)
        n = (
            math.prod(i.size for i in self.indices)
            if known
            else " ".join(i.bound for i in self.indices)
        )
        if self.kind == "mean":
            return rf"\frac{{1}}{{{n}}} \sum_{{{limits}}} {body}"
        names = ",".join(i.name for i in self.indices)
        return rf"\frac{{1}}{{|N|}} \sum_{{{names} \in N}} {body}"

    def _body(self, ctx: Context, env: Mapping[str, np.ndarray]) -> np.ndarray:
        """The body at every combination of the window indices, on trailing axes."""
        indices = self._resolved(ctx)
        k = len(indices)
        inner = {name: np.asarray(v)[(..., *([None] * k))] for name, v in env.items()}
        depth = next(iter(inner.values())).ndim - k if inner else 0
        for pos, idx in enumerate(indices):
            shape = [1] * (depth + k)
            shape[depth + pos] = idx.size
            inner[idx.name] = np.arange(idx.size).reshape(shape)
        body = self.body.values(ctx, inner)
        full = np.broadcast_shapes(*(v.shape for v in inner.values()), np.shape(body))
        return np.broadcast_to(body, full)

    def _resolved(self, ctx: Context) -> tuple[Idx, ...]:
        indices = tuple(i.resolved(ctx) for i in self.indices)
        unknown = [i.name for i in indices if i.size is None]
        if unknown:
            raise ValueError(f"the range of {', '.join(unknown)} is unknown (an axis of size None)")
        return indices

    def values(self, ctx: Context, env: Mapping[str, np.ndarray]) -> np.ndarray:
        axes = tuple(range(-len(self.indices), 0))
        return _REDUCE[self.kind](self._body(ctx, env), axis=axes)

    def numbers(self, ctx: Context, env: Mapping[str, np.ndarray]) -> str:
        scalar = {name: np.asarray(v).reshape(-1)[:1] for name, v in env.items()}
        indices = self._resolved(ctx)
        count = math.prod(i.size for i in indices)
        if self.kind != "sum":  # what lies outside (nan, -inf: padding) is not a term
            count = int(np.count_nonzero(np.isfinite(self._body(ctx, scalar))))
        terms = []
        for combo in itertools.product(*(range(i.size) for i in indices)):
            inner = dict(scalar)
            inner.update({i.name: np.asarray([v]) for i, v in zip(indices, combo, strict=True)})
            if self.kind != "sum" and not np.isfinite(self.body.values(ctx, inner)).all():
                continue
            terms.append(self.body.numbers(ctx, inner))
            if len(terms) == SHOWN_TERMS + 1:
                break
        more = count - SHOWN_TERMS
        shown = terms[:SHOWN_TERMS] if more > 1 else terms
        if more > 1:
            shown.append(rf"\text{{{more} more terms}}")
        if self.kind in ("max", "min"):
            return rf"\{self.kind}\left({', '.join(shown)}\right)"
        text = leading(" + ".join(shown))
        if self.kind == "sum":
            return rf"\left({text}\right)"
        return rf"\frac{{1}}{{{count}}}\left({text}\right)"

    def volume(self) -> int:
        # An unknown length counts as one: the volume only sizes chunks of an evaluation.
        return math.prod(i.size or 1 for i in self.indices) * self.body.volume()
