"""Attention: multi-head scaled dot-product attention, and the dot and additive attention layers.

`MultiHeadAttention` is called as `(query, value)` or `(query, value, key)`; without a key the
value serves as key. Keras projects each input with an `EinsumDense` per role (query, key, value,
an optional sigmoid gate), attends per head and projects the heads back with `attention_output`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from generator.layers.common import aligned
from generator.layers.formula import Formula, Mul, Num, Sym, product, total
from generator.layers.latex_text import index_range
from generator.layers.recurrent_system import (
    dot_latex,
    factor,
    num,
    numpy_activation,
)
from generator.layers.registry import (
    LayerHandler,
    MultiShapeMath,
    ParamMath,
    ParamPart,
    SampledPositions,
    ShapeMath,
    WorkedExample,
    at_positions,
    params_from_parts,
    register,
)
from generator.model.graph import LayerRecord, Shape


def _roles(layer: LayerRecord) -> tuple[Shape, Shape, Shape]:
    """The query, key and value shapes of an attention call."""
    shapes = layer.input_shapes
    roles = layer.attrs.get("input_roles")
    if roles:  # passed by keyword (`query=x, value=x, attention_mask=m`): a mask is no key
        named = dict(zip(roles, shapes, strict=True))
        query = named["query"]
        value = named.get("value", query)
        return query, named.get("key", value), value
    query, value = shapes[0], shapes[1] if len(shapes) > 1 else shapes[0]
    key = shapes[2] if len(shapes) > 2 else value
    return query, key, value


def _out_dims(layer: LayerRecord) -> tuple[int, ...]:
    """The output projection's trailing dimensions: `output_shape`, or the query's features."""
    wanted = layer.attrs.get("output_shape")
    if wanted:
        return (wanted,) if isinstance(wanted, int) else tuple(wanted)
    return (_roles(layer)[0][-1],)


def _with_scores(layer: LayerRecord, out: Shape, scores: Shape, note: str = "") -> ShapeMath:
    # The scores are a call argument (`return_attention_scores=True`), not configuration:
    # the record's second output says the call asked for them.
    if len(layer.output_shapes) < 2:
        return ShapeMath(shape=out)
    return MultiShapeMath(
        shape=out, all_shapes=(out, scores), note=note or "the output, then the scores"
    )


@register("MultiHeadAttention")
class MultiHeadAttentionHandler(LayerHandler):
    summary = "multi-head attention: softmax(Q K^T / sqrt(n_key)) V per head, then a projection"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        query, key, _ = _roles(layer)
        out = (*query[:-1], *_out_dims(layer))
        heads = layer.attrs["num_heads"]
        scores = (query[0], heads, *query[1:-1], *key[1:-1])
        note = ""
        if query[1:-1] != key[1:-1]:
            # Keras's symbolic shape for the scores repeats the query length; running the layer
            # gives one score per query and key position, as here.
            note = "the output, then the scores (one per query and key position)"
        return _with_scores(layer, out, scores, note)

    def params(self, layer: LayerRecord) -> ParamMath:
        query, key, value = _roles(layer)
        attrs = layer.attrs
        h = Sym("H", attrs["num_heads"])
        d_k = Sym(r"n_{\text{key}}", attrs["key_dim"])
        d_v = Sym(r"n_{\text{value}}", attrs.get("value_dim") or attrs["key_dim"])
        n_q, n_k, n_v = (
            Sym(rf"n^{role}_{{in}}", shape[-1])
            for role, shape in zip("QKV", (query, key, value), strict=True)
        )
        dims = _out_dims(layer)
        d_o = Sym("n_{out}", dims[0]) if len(dims) == 1 else product([Num(d) for d in dims])
        bias = attrs.get("use_bias", True)
        roles: list[tuple[str, Formula, Formula]] = [("Q", n_q, d_k), ("K", n_k, d_k)]
        if attrs.get("use_gate"):
            roles.append(("G", n_q, d_v))
        roles.append(("V", n_v, d_v))
        parts, terms = [], []
        for role, n_in, width in roles:
            parts.append(ParamPart(f"W^{role}", Mul((n_in, h, width))))
            if bias:
                parts.append(ParamPart(f"b^{role}", Mul((h, width))))
                terms.append(Mul((n_in + 1, h, width)))
            else:
                terms.append(Mul((n_in, h, width)))
        parts.append(ParamPart("W^O", Mul((h, d_v, d_o))))
        if bias:
            parts.append(ParamPart("b^O", d_o))
            terms.append(Mul((Mul((h, d_v)) + 1, d_o)))
        else:
            terms.append(Mul((h, d_v, d_o)))
        return params_from_parts(*parts, formula=total(terms))

    def equation(self, layer: LayerRecord) -> MultiHeadEquation:
        roles = tuple(layer.attrs.get("input_roles", ()))
        mask = layer.attrs.get("constants", {}).get("attention_mask")
        return MultiHeadEquation(self.latex(layer), layer.attrs["key_dim"], roles, mask)

    def latex(self, layer: LayerRecord) -> str:
        attrs = layer.attrs
        heads = attrs["num_heads"]
        self_attention = len(set(layer.inbound)) == 1 and len(layer.inbound) >= 1
        x_q, x_k, x_v = (
            ("x_t", r"x_\tau", r"x_\tau")
            if self_attention
            else ("x^{Q}_t", r"x^{K}_\tau", r"x^{V}_\tau")
        )
        if len(layer.input_shapes) == 2 and not self_attention:
            x_k = x_v
        # Column vectors per position t (query) and tau (key, value); W^Q_m is the transpose of
        # Keras's kernel[:, m, :], W^O_m that of the output kernel[m].
        b = (lambda r: f" + b^{{{r}}}_m") if attrs.get("use_bias", True) else (lambda r: "")
        q, k, v, a = (rf"\mathbf{{{s}}}" for s in "qkva")
        lines = [
            rf"{q}_{{t,m}} &= W^{{Q}}_m {x_q}{b('Q')}, "
            rf"\quad {k}_{{\tau,m}} = W^{{K}}_m {x_k}{b('K')}, "
            rf"\quad {v}_{{\tau,m}} = W^{{V}}_m {x_v}{b('V')}, \quad {index_range('m', heads - 1)}",
            r"A_m &= \mathrm{softmax}\!\left(\frac{Q_m K_m^{\top}}{\sqrt{n_{\text{key}}}}\right)"
            rf" V_m, \quad n_{{\text{{key}}}} = {attrs['key_dim']}, "
            r"\quad \text{rows of } Q_m, K_m, V_m, A_m"
            rf"\text{{: }} {q}_{{t,m}}^{{\top}}, {k}_{{\tau,m}}^{{\top}}, {v}_{{\tau,m}}^{{\top}}, "
            rf"{a}_{{t,m}}^{{\top}}",
        ]
        if attrs.get("use_gate"):
            gate = rf"W^{{G}}_m {x_q}{b('G')}"
            lines.append(rf"{a}_{{t,m}} &\leftarrow {a}_{{t,m}} \odot \sigma\!\left({gate}\right)")
        out_bias = " + b^{O}" if attrs.get("use_bias", True) else ""
        if heads == 1:
            lines.append(rf"a_t &= W^{{O}}_0 {a}_{{t,0}}{out_bias}")
        else:
            lines.append(
                rf"a_t &= \sum_{{m=0}}^{{{heads - 1}}} W^{{O}}_m {a}_{{t,m}}{out_bias}"
                rf" = W^{{O}} \left[{a}_{{t,0}}; \dots; {a}_{{t,{heads - 1}}}\right]{out_bias}"
            )
        return aligned(lines)


@register("Attention", "AdditiveAttention")
class DotAttentionHandler(LayerHandler):
    summary = "attention without projections: scores from query and key weight the values"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        query, key, value = _roles(layer)
        out = (*query[:-1], value[-1])
        return _with_scores(layer, out, (*query[:-1], key[-2]))

    def params(self, layer: LayerRecord) -> ParamMath:
        attrs = layer.attrs
        parts = []
        if attrs.get("use_scale", layer.type == "AdditiveAttention"):
            dim = _roles(layer)[0][-1]
            parts.append(
                ParamPart(
                    r"\lambda",
                    Sym("n_{in}", dim) if layer.type == "AdditiveAttention" else Num(1),
                )
            )
        if layer.type == "Attention" and attrs.get("score_mode", "dot") == "concat":
            parts.append(ParamPart(r"\kappa", Num(1)))
        return params_from_parts(*parts)

    def equation(self, layer: LayerRecord) -> ScoreAttentionEquation:
        kind = layer.attrs.get("score_mode", "dot")
        kind = "additive" if layer.type == "AdditiveAttention" else kind
        return ScoreAttentionEquation(self.latex(layer), kind)

    def latex(self, layer: LayerRecord) -> str:
        attrs = layer.attrs
        scaled = attrs.get("use_scale", layer.type == "AdditiveAttention")
        if layer.type == "AdditiveAttention":
            s = r"\lambda_j\, " if scaled else ""
            score = rf"z_{{t,\tau}} &= \sum_j {s}\tanh\!\left(q_{{t,j}} + k_{{\tau,j}}\right)"
        elif attrs.get("score_mode", "dot") == "concat":
            s = r"\lambda\," if scaled else ""
            score = (
                rf"z_{{t,\tau}} &= \kappa \sum_j \tanh\!\left({s}(q_{{t,j}} + k_{{\tau,j}})\right)"
            )
        else:
            s = r"\lambda\, " if scaled else ""
            score = rf"z_{{t,\tau}} &= {s}\sum_j q_{{t,j}}\, k_{{\tau,j}}"
        return aligned(
            [
                score,
                r"a_t &= \sum_\tau \mathrm{softmax}_\tau\!\left(z_{t,\tau}\right) \mathbf{v}_\tau",
            ]
        )


# ---- the equation objects: the printed lines, evaluated with NumPy ----


def _weight(weights: Mapping[str, np.ndarray], name: str) -> np.ndarray | None:
    """The weight whose name ends with `name` (`query/kernel`), in float64, or `None`."""
    for key, value in weights.items():
        if key == name or key.endswith("/" + name):
            return np.asarray(value, dtype=np.float64)
    return None


def _arrays(inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The call's tensors in float64; a mask among them is not part of the printed equation."""
    if any(np.asarray(a).dtype == bool for a in inputs[1:]):
        raise NotImplementedError("masked attention is not evaluated")
    return [np.asarray(a, dtype=np.float64) for a in inputs]


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _vector(values: np.ndarray, shown: int = 4) -> str:
    """`(0.12, -0.3, 0.5, 0.1, \\dots)`: the first numbers of a vector."""
    items = [num(v) for v in np.ravel(values)[:shown]]
    if np.size(values) > shown:
        items.append(r"\dots")
    return r"\left(" + r",\ ".join(items) + r"\right)"


class _AttentionEquation(SampledPositions):
    """What the attention equations share: the printed text, positions, the index picked."""

    text: str

    def latex(self) -> str:
        return self.text

    def evaluate(
        self,
        inputs: Sequence[np.ndarray],
        weights: Mapping[str, np.ndarray],
        positions: np.ndarray | None = None,
    ) -> np.ndarray:
        out = self.parts(inputs, weights)["y"]
        return at_positions(out, positions)

    def parts(self, inputs: Sequence[np.ndarray], weights: Mapping[str, np.ndarray]) -> dict:
        raise NotImplementedError


@dataclass(frozen=True)
class MultiHeadEquation(_AttentionEquation):
    """Projections per head, `softmax(Q_n K_n^T / sqrt(d_k)) V_n`, the gate, the output map."""

    text: str
    key_dim: int
    roles: tuple[str, ...] = ()  # the call's keywords per input, when it passed them so
    constant_mask: object = None  # a mask the call was given as a constant (a causal mask)

    def parts(self, inputs: Sequence[np.ndarray], weights: Mapping[str, np.ndarray]) -> dict:
        mask = self.constant_mask
        if self.roles:
            named = dict(zip(self.roles, inputs, strict=True))
            mask = named.pop("attention_mask", mask)
            if set(named) - {"query", "value", "key"}:
                raise NotImplementedError("masked attention is not evaluated")
            inputs = [named[r] for r in ("query", "value", "key") if r in named]
        arrays = _arrays(inputs)
        x_q, x_v = arrays[0], arrays[1] if len(arrays) > 1 else arrays[0]
        x_k = arrays[2] if len(arrays) > 2 else x_v
        if x_q.ndim != 3:
            raise NotImplementedError("attention over more than one axis is not evaluated")

        def project(role: str, x: np.ndarray) -> np.ndarray:
            kernel, bias = _weight(weights, f"{role}/kernel"), _weight(weights, f"{role}/bias")
            out = np.einsum("bti,inh->btnh", x, kernel)
            return out if bias is None else out + bias

        q, k, v = project("query", x_q), project("key", x_k), project("value", x_v)
        scores = np.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(self.key_dim)
        keep = None
        if mask is not None:  # (batch, query, key), or one (query, key) mask for every item
            keep = np.asarray(mask, dtype=np.float64) > 0.5
            keep = (keep[None] if keep.ndim == 2 else keep)[:, None]
        if keep is not None:  # Keras's masked softmax: a masked score is -1e9, its weight 0
            scores = np.where(keep, scores, -1e9)
        probs = _softmax(scores) if keep is None else np.where(keep, _softmax(scores), 0.0)
        a = np.einsum("bnts,bsnh->btnh", probs, v)
        if _weight(weights, "gate/kernel") is not None:
            a = a * numpy_activation("sigmoid")(project("gate", x_q))
        kernel = _weight(weights, "attention_output/kernel")
        heads, d_v = kernel.shape[:2]
        out_dims = kernel.shape[2:]
        y = np.einsum("btnh,nho->bto", a, kernel.reshape(heads, d_v, -1))
        bias = _weight(weights, "attention_output/bias")
        if bias is not None:
            y = y + bias.reshape(-1)
        y = y.reshape(*y.shape[:2], *out_dims)
        return {"y": y, "scores": scores, "probs": probs, "a": a, "kernel": kernel, "bias": bias}

    def worked_example(
        self,
        inputs: Sequence[np.ndarray],
        weights: Mapping[str, np.ndarray],
        index: tuple[int, ...] | None = None,
    ) -> WorkedExample | None:
        """Query position `t`, output feature `j`: head 0's scores and softmax, then the sum
        over every head's attended vector."""
        parts = self.parts([a[:1] for a in inputs], weights)
        y = parts["y"][0]
        index = index or (0,) * y.ndim
        t = index[0]
        a_t = parts["a"][0, t]  # (heads, d_v)
        w_o = parts["kernel"].reshape(*a_t.shape, -1)[
            ..., int(np.ravel_multi_index(index[1:], y.shape[1:]))
        ]
        bias = parts["bias"]
        b = (
            0.0
            if bias is None
            else float(np.ravel(bias)[np.ravel_multi_index(index[1:], y.shape[1:])])
        )
        value = float(y[index])
        q, k, v, a = (rf"\mathbf{{{s}}}" for s in "qkva")
        out = ",".join(str(int(i)) for i in index)
        rest = ",".join(str(int(i)) for i in index[1:])
        lines = [
            rf"&\text{{query position }} t = {t}, \text{{ output entry }} a_{{{out}}}:",
            rf"\frac{{{q}_{{t,0}}^{{\top}} {k}_{{\tau,0}}}}{{\sqrt{{{self.key_dim}}}}} &= "
            rf"{_vector(parts['scores'][0, 0, t])} \quad (\tau = 0, 1, \dots)",
            rf"\mathrm{{softmax}}_\tau &= {_vector(parts['probs'][0, 0, t])}",
            rf"{a}_{{t,0}} &= \sum_\tau \mathrm{{softmax}}_\tau\, {v}_{{\tau,0}} = "
            rf"{_vector(a_t[0])}",
            rf"a_{{{out}}} &= \sum_m \left(W^{{O}}_m {a}_{{t,m}}\right)_{{{rest}}} "
            rf"+ b^{{O}}_{{{rest}}} = "
            rf"{dot_latex(w_o, a_t)} + {factor(b)} = {num(value)}",
        ]
        return WorkedExample(tuple(int(i) for i in index), value, aligned(lines))


@dataclass(frozen=True)
class ScoreAttentionEquation(_AttentionEquation):
    """`Attention` (dot or concat scores) and `AdditiveAttention`, softmax, weighted sum."""

    text: str
    kind: str  # "dot", "concat" or "additive"

    def parts(self, inputs: Sequence[np.ndarray], weights: Mapping[str, np.ndarray]) -> dict:
        arrays = _arrays(inputs)
        q, v = arrays[0], arrays[1]
        k = arrays[2] if len(arrays) > 2 else v
        scale = _weight(weights, "scale")
        if self.kind == "dot":
            scores = np.einsum("btj,buj->btu", q, k) * (1.0 if scale is None else scale)
        else:
            s = 1.0 if scale is None else scale
            summed = q[:, :, None, :] + k[:, None, :, :]
            if self.kind == "concat":
                c = _weight(weights, "concat_score_weight")
                scores = c * np.tanh(s * summed).sum(axis=-1)
            else:
                scores = (s * np.tanh(summed)).sum(axis=-1)
        probs = _softmax(scores)
        return {"y": np.einsum("btu,buj->btj", probs, v), "scores": scores, "probs": probs, "v": v}

    def worked_example(
        self,
        inputs: Sequence[np.ndarray],
        weights: Mapping[str, np.ndarray],
        index: tuple[int, ...] | None = None,
    ) -> WorkedExample | None:
        """Query position `t`, feature `j`: the scores `z_{t,tau}`, their softmax, the sum."""
        parts = self.parts([a[:1] for a in inputs], weights)
        index = index or (0, 0)
        t, j = index
        value = float(parts["y"][0, t, j])
        lines = [
            rf"z_{{{t},\tau}} &= {_vector(parts['scores'][0, t])} \quad (\tau = 0, 1, \dots)",
            rf"\mathrm{{softmax}}_\tau\!\left(z_{{{t},\tau}}\right) &= "
            rf"{_vector(parts['probs'][0, t])}",
            rf"a_{{{t},{j}}} &= \sum_\tau \mathrm{{softmax}}_\tau\, v_{{\tau,{j}}} = "
            rf"{dot_latex(parts['probs'][0, t], parts['v'][0, :, j])}",
        ]
        return WorkedExample((int(t), int(j)), value, aligned(lines))
