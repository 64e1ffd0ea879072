"""Attention: multi-head scaled dot-product attention, and the dot and additive attention layers.

`MultiHeadAttention` is called as `(query, value)` or `(query, value, key)`; without a key the
value serves as key. Keras projects each input with an `EinsumDense` per role (query, key, value,
an optional sigmoid gate), attends per head and projects the heads back with `attention_output`.
"""

from __future__ import annotations

from generator.layers.common import aligned
from generator.layers.formula import Formula, Mul, Num, Sym, product, total
from generator.layers.registry import (
    LayerHandler,
    MultiShapeMath,
    ParamMath,
    ParamPart,
    ShapeMath,
    params_from_parts,
    register,
)
from generator.model.graph import LayerRecord, Shape


def _roles(layer: LayerRecord) -> tuple[Shape, Shape, Shape]:
    """The query, key and value shapes of an attention call."""
    shapes = layer.input_shapes
    query, value = shapes[0], shapes[1] if len(shapes) > 1 else shapes[0]
    key = shapes[2] if len(shapes) > 2 else value
    return query, key, value


def _out_dims(layer: LayerRecord) -> tuple[int, ...]:
    """The output projection's trailing dimensions: `output_shape`, or the query's features."""
    wanted = layer.config.get("output_shape")
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
    summary = "multi-head attention: softmax(Q K^T / sqrt(d_k)) V per head, then a projection"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        query, key, _ = _roles(layer)
        out = (*query[:-1], *_out_dims(layer))
        heads = layer.config["num_heads"]
        scores = (query[0], heads, *query[1:-1], *key[1:-1])
        note = ""
        if query[1:-1] != key[1:-1]:
            # Keras's symbolic shape for the scores repeats the query length; running the layer
            # gives one score per query and key position, as here.
            note = "the output, then the scores (one per query and key position)"
        return _with_scores(layer, out, scores, note)

    def params(self, layer: LayerRecord) -> ParamMath:
        query, key, value = _roles(layer)
        cfg = layer.config
        h = Sym("h", cfg["num_heads"])
        d_k = Sym("d_k", cfg["key_dim"])
        d_v = Sym("d_v", cfg.get("value_dim") or cfg["key_dim"])
        n_q, n_k, n_v = Sym("n_q", query[-1]), Sym("n_k", key[-1]), Sym("n_v", value[-1])
        dims = _out_dims(layer)
        d_o = Sym("d_o", dims[0]) if len(dims) == 1 else product([Num(d) for d in dims])
        bias = cfg.get("use_bias", True)
        roles: list[tuple[str, Formula, Formula]] = [("Q", n_q, d_k), ("K", n_k, d_k)]
        if cfg.get("use_gate"):
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

    def equation(self, layer: LayerRecord) -> str:
        cfg = layer.config
        heads = cfg["num_heads"]
        self_attention = len(set(layer.inbound)) == 1 and len(layer.inbound) >= 1
        x_q, x_k, x_v = (
            ("x_t", "x_s", "x_s") if self_attention else ("x^{q}_t", "x^{k}_s", "x^{v}_s")
        )
        if len(layer.input_shapes) == 2 and not self_attention:
            x_k = x_v
        # Column vectors per position t (query) and s (key, value); W^Q_n is the transpose of
        # Keras's kernel[:, n, :], W^O_n that of the output kernel[n].
        b = (lambda r: f" + b^{{{r}}}_n") if cfg.get("use_bias", True) else (lambda r: "")
        lines = [
            rf"q_{{t,n}} &= W^{{Q}}_n {x_q}{b('Q')}, \quad k_{{s,n}} = W^{{K}}_n {x_k}{b('K')}, "
            rf"\quad v_{{s,n}} = W^{{V}}_n {x_v}{b('V')}, \quad n = 0, \dots, {heads - 1}",
            r"A_n &= \mathrm{softmax}\!\left(\frac{Q_n K_n^{\top}}{\sqrt{d_k}}\right) V_n"
            rf", \quad d_k = {cfg['key_dim']}, \quad \text{{rows of }} Q_n, K_n, V_n, A_n"
            r"\text{: } q_{t,n}^{\top}, k_{s,n}^{\top}, v_{s,n}^{\top}, a_{t,n}^{\top}",
        ]
        if cfg.get("use_gate"):
            gate = rf"W^{{G}}_n {x_q}{b('G')}"
            lines.append(rf"a_{{t,n}} &\leftarrow a_{{t,n}} \odot \sigma\!\left({gate}\right)")
        out_bias = " + b^{O}" if cfg.get("use_bias", True) else ""
        lines.append(
            rf"y_t &= \sum_{{n=0}}^{{{heads - 1}}} W^{{O}}_n a_{{t,n}}{out_bias}"
            rf" = W^{{O}} \left[a_{{t,0}}; \dots; a_{{t,{heads - 1}}}\right]{out_bias}"
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
        cfg = layer.config
        parts = []
        if cfg.get("use_scale", layer.type == "AdditiveAttention"):
            dim = _roles(layer)[0][-1]
            parts.append(
                ParamPart("s", Sym("d", dim) if layer.type == "AdditiveAttention" else Num(1))
            )
        if layer.type == "Attention" and cfg.get("score_mode", "dot") == "concat":
            parts.append(ParamPart("c", Num(1)))
        return params_from_parts(*parts)

    def equation(self, layer: LayerRecord) -> str:
        cfg = layer.config
        scaled = cfg.get("use_scale", layer.type == "AdditiveAttention")
        if layer.type == "AdditiveAttention":
            s = r"s_j\, " if scaled else ""
            score = rf"e_{{t,u}} &= \sum_j {s}\tanh\!\left(q_{{t,j}} + k_{{u,j}}\right)"
        elif cfg.get("score_mode", "dot") == "concat":
            s = r"s\," if scaled else ""
            score = rf"e_{{t,u}} &= c \sum_j \tanh\!\left({s}(q_{{t,j}} + k_{{u,j}})\right)"
        else:
            s = r"s\, " if scaled else ""
            score = rf"e_{{t,u}} &= {s}\sum_j q_{{t,j}}\, k_{{u,j}}"
        return aligned(
            [
                score,
                r"y_t &= \sum_u \mathrm{softmax}_u\!\left(e_{t,u}\right) v_u",
            ]
        )
