"""PyTorch translations of Dot, Attention, AdditiveAttention and MultiHeadAttention."""

from __future__ import annotations

import numpy as np

from generator.torch.registry import CL, LayerContext, Result, translation

ATTENTION = '''\
class KerasAttention(nn.Module):
    """Keras's Attention (Luong) and AdditiveAttention (Bahdanau) layers: scores between every
    query and key, softmax over the keys, then the weighted sum of the values."""

    def __init__(self, score="dot", scale_shape=None, concat_weight=False):
        super().__init__()
        self.score = score
        self.scale = None if scale_shape is None else nn.Parameter(torch.ones(scale_shape))
        self.concat_weight = nn.Parameter(torch.ones(())) if concat_weight else None

    def forward(self, query, value, key=None):
        key = value if key is None else key
        if self.score == "dot":
            scores = query @ key.transpose(1, 2)
            if self.scale is not None:
                scores = scores * self.scale
        else:  # "concat": sum over features of tanh(scale * (q + k))
            pairs = query.unsqueeze(2) + key.unsqueeze(1)
            if self.scale is not None and self.score == "concat":
                pairs = self.scale * pairs
            tanh = torch.tanh(pairs)
            if self.score == "additive" and self.scale is not None:
                tanh = self.scale * tanh
            scores = tanh.sum(dim=-1)
            if self.concat_weight is not None:
                scores = self.concat_weight * scores
        return scores.softmax(dim=-1) @ value
'''

MULTI_HEAD_ATTENTION = '''\
class KerasMultiHeadAttention(nn.Module):
    """Keras's MultiHeadAttention with its weights in Keras's shapes: per-head projections
    (features, heads, key_dim) and an output projection (heads, value_dim, features).
    nn.MultiheadAttention covers only heads * key_dim == features."""

    def __init__(self, query_size, key_size, value_size, heads, key_dim, value_dim, bias=True):
        super().__init__()
        def weight(*shape):
            return nn.Parameter(torch.zeros(shape))
        self.query_kernel = weight(query_size, heads, key_dim)
        self.key_kernel = weight(key_size, heads, key_dim)
        self.value_kernel = weight(value_size, heads, value_dim)
        self.output_kernel = weight(heads, value_dim, query_size)
        self.query_bias = weight(heads, key_dim) if bias else None
        self.key_bias = weight(heads, key_dim) if bias else None
        self.value_bias = weight(heads, value_dim) if bias else None
        self.output_bias = weight(query_size) if bias else None

    def forward(self, query, value, key=None, attention_mask=None):
        key = value if key is None else key
        q = torch.einsum("btf,fhk->bthk", query, self.query_kernel)
        k = torch.einsum("bsf,fhk->bshk", key, self.key_kernel)
        v = torch.einsum("bsf,fhv->bshv", value, self.value_kernel)
        if self.query_bias is not None:
            q, k, v = q + self.query_bias, k + self.key_bias, v + self.value_bias
        scores = torch.einsum("bthk,bshk->bhts", q, k) / q.shape[-1] ** 0.5
        if attention_mask is None:
            weights = scores.softmax(dim=-1)
        else:  # Keras's masked softmax: a masked score is -1e9, its weight 0
            keep = attention_mask > 0.5
            keep = (keep[None] if keep.dim() == 2 else keep).unsqueeze(1)  # (batch, 1, t, s)
            weights = scores.masked_fill(~keep, -1e9).softmax(dim=-1).masked_fill(~keep, 0.0)
        context = torch.einsum("bhts,bshv->bthv", weights, v)
        out = torch.einsum("bthv,hvf->btf", context, self.output_kernel)
        return out if self.output_bias is None else out + self.output_bias
'''


@translation("Dot", wants=CL)
def dot(ctx: LayerContext) -> Result:
    a, b = ctx.value(0), ctx.value(1)
    axes = ctx.attrs.get("axes", -1)
    axes = [axes, axes] if isinstance(axes, int) else list(axes)
    axes = [int(axis) % v.rank for axis, v in zip(axes, (a, b), strict=True)]
    x, y = ctx.input(0, CL), ctx.input(1, CL)
    if ctx.attrs.get("normalize"):
        x, y = (f"F.normalize({x}, dim={axes[0]})", f"F.normalize({y}, dim={axes[1]})")
    if a.rank == 2 and b.rank == 2:
        return Result(f"({x} * {y}).sum(dim=1, keepdim=True)", CL)
    if a.rank == 3 and b.rank == 3:
        # A batched matrix product whose contracted axes are a's last and b's middle one.
        left = x if axes[0] == 2 else f"{x}.transpose(1, 2)"
        right = y if axes[1] == 1 else f"{y}.transpose(1, 2)"
        return Result(f"torch.bmm({left}, {right})", CL)
    raise ctx.error("takes a dot product of tensors other than two vectors or two sequences")


def _attention_inputs(ctx: LayerContext) -> str:
    return ", ".join(ctx.input(i, CL) for i in range(len(ctx.inputs)))


@translation("Attention", wants=CL)
def attention(ctx: LayerContext) -> Result:
    ctx.use_helper(ATTENTION)
    mode = ctx.attrs.get("score_mode", "dot")
    state = {}
    args = [f'score="{mode}"']
    if ctx.attrs.get("use_scale"):
        args.append("scale_shape=()")
        state["scale"] = ctx.weight("scale").reshape(())
    if mode == "concat":
        args.append("concat_weight=True")
        state["concat_weight"] = ctx.weight("concat_score_weight").reshape(())
    layer = ctx.module(f"KerasAttention({', '.join(args)})", **state)
    return Result(f"{layer}({_attention_inputs(ctx)})", CL)


@translation("AdditiveAttention", wants=CL)
def additive_attention(ctx: LayerContext) -> Result:
    ctx.use_helper(ATTENTION)
    state = {}
    args = ['score="additive"']
    if ctx.attrs.get("use_scale", True):
        scale = ctx.weight("scale")
        args.append(f"scale_shape={tuple(scale.shape)}")
        state["scale"] = scale
    layer = ctx.module(f"KerasAttention({', '.join(args)})", **state)
    return Result(f"{layer}({_attention_inputs(ctx)})", CL)


@translation("MultiHeadAttention", "CachedMultiHeadAttention", wants=CL)
def multi_head_attention(ctx: LayerContext) -> Result:
    attrs = ctx.attrs
    if attrs.get("use_gate") or attrs.get("output_shape") is not None:
        raise ctx.error("uses a gate or a custom output shape")
    if any(v.rank != 3 for v in ctx.inputs) or attrs.get("attention_axes") not in (None, [1]):
        raise ctx.error(
            "attends over axes other than the sequence of a (batch, time, features) tensor"
        )
    if attrs.get("sliding_window"):
        raise ctx.error("attends within a sliding window")
    heads, key_dim = int(attrs["num_heads"]), int(attrs["key_dim"])
    value_dim = int(attrs.get("value_dim") or key_dim)
    roles = list(attrs.get("input_roles") or ())
    if set(roles) - {"query", "value", "key", "attention_mask"}:
        raise ctx.error("is called with masks other than an attention mask")
    mask = ctx.input(roles.index("attention_mask"), CL) if "attention_mask" in roles else None
    constant = ctx.attrs.get("constants", {}).get("attention_mask")
    if mask is None and constant is not None:  # a traced call's causal mask: inline
        mask = f"torch.tensor({np.asarray(constant, dtype=np.float32).tolist()!r})"
    tensors = [
        i for i, r in enumerate(roles or ["query"] * len(ctx.inputs)) if r != "attention_mask"
    ]
    sizes = [int(ctx.inputs[i].shape[-1]) for i in tensors]
    query_size, value_size = sizes[0], sizes[1]
    key_size = sizes[2] if len(sizes) > 2 else value_size
    bias = bool(attrs.get("use_bias", True))
    names = ("query", "key", "value", "attention_output")
    kernels = [ctx.weight("kernel", name) for name in names]
    biases = [ctx.weight("bias", name) for name in names] if bias else []
    x = ", ".join(ctx.input(i, CL) for i in tensors)
    if mask is not None:
        x += f", attention_mask={mask}"
    native = (
        mask is None
        and bias
        and len(set(sizes)) == 1
        and heads * key_dim == query_size
        and value_dim == key_dim
    )
    if native:
        # nn.MultiheadAttention stacks the three projections, each as (heads * dim, features).
        e = query_size
        in_proj = np.concatenate([k.reshape(e, e).T for k in kernels[:3]])
        layer = ctx.module(
            f"nn.MultiheadAttention(embed_dim={e}, num_heads={heads}, batch_first=True)",
            in_proj_weight=in_proj,
            in_proj_bias=np.concatenate([b.reshape(e) for b in biases[:3]]),
            **{
                "out_proj.weight": np.ascontiguousarray(kernels[3].reshape(e, e).T),
                "out_proj.bias": biases[3],
            },
        )
        query, value, *rest = [ctx.input(i, CL) for i in range(len(ctx.inputs))]
        key = rest[0] if rest else value
        ctx.line(f"{ctx.out}, _ = {layer}({query}, {key}, {value}, need_weights=False)")
        return Result(ctx.out, CL)
    ctx.use_helper(MULTI_HEAD_ATTENTION)
    state = {
        f"{n}_kernel": k for n, k in zip(("query", "key", "value", "output"), kernels, strict=True)
    }
    state.update(
        {f"{n}_bias": b for n, b in zip(("query", "key", "value", "output"), biases, strict=True)}
    )
    layer = ctx.module(
        f"KerasMultiHeadAttention(query_size={query_size}, key_size={key_size}, "
        f"value_size={value_size}, heads={heads}, key_dim={key_dim}, value_dim={value_dim}"
        + ("" if bias else ", bias=False")
        + ")",
        **state,
    )
    return Result(f"{layer}({x})", CL)
