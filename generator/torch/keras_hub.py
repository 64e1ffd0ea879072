"""PyTorch translations of keras-hub's embeddings: reversible token tables, learned positions.

keras-hub's transformer blocks and `TokenAndPositionEmbedding` need none: the frontend traces
them into nested graphs of Keras layers and operations, translated like nested models.
"""

from __future__ import annotations

import numpy as np

from generator.torch.core import embedding
from generator.torch.registry import CF, CL, LayerContext, Result, activate, translation

POSITION_EMBEDDING = '''\
class PositionEmbedding(nn.Module):
    """keras-hub's PositionEmbedding: row t of a learned (max length, features) table for each
    position t of the input, the same for every item (the input's values are not read)."""

    def __init__(self, length, features):
        super().__init__()
        self.embeddings = nn.Parameter(torch.zeros(length, features))

    def forward(self, x):
        return self.embeddings[: x.shape[-2]].expand(x.shape)
'''


@translation("ReversibleEmbedding", wants=CL)
def reversible_embedding(ctx: LayerContext) -> Result:
    """The forward direction (token ids to rows), Keras's `Embedding`; `reverse=True` calls are
    other layers' nodes."""
    if ctx.value().rank != 2:
        raise ctx.error("reads ids of other than (batch, time)")
    return embedding(ctx)


@translation("PositionEmbedding", wants=CL)
def position_embedding(ctx: LayerContext) -> Result:
    table = np.ascontiguousarray(ctx.weight("embeddings"))
    ctx.use_helper(POSITION_EMBEDDING)
    layer = ctx.module(f"PositionEmbedding({table.shape[0]}, {table.shape[1]})", embeddings=table)
    return Result(f"{layer}({ctx.input(0, CL)})", CL)


VIT_PATCHING = '''\
class ViTPatchingAndEmbedding(nn.Module):
    """keras-hub's ViT patching: each patch through a strided convolution, flattened row by row
    into tokens, a learned class token first, then learned positions added."""

    def __init__(self, channels, features, patch, positions, class_token=True, bias=True):
        super().__init__()
        self.patch_embedding = nn.Conv2d(channels, features, patch, stride=patch, bias=bias)
        self.class_token = nn.Parameter(torch.zeros(1, 1, features)) if class_token else None
        self.position_embedding = nn.Parameter(torch.zeros(positions, features))

    def forward(self, x):
        tokens = self.patch_embedding(x).flatten(2).transpose(1, 2)
        if self.class_token is not None:
            token = self.class_token.expand(tokens.shape[0], -1, -1)
            tokens = torch.cat([token, tokens], dim=1)
        return tokens + self.position_embedding
'''


@translation("ViTPatchingAndEmbedding", wants=CF)
def vit_patching(ctx: LayerContext) -> Result:
    attrs = ctx.attrs
    if attrs.get("layout") == "channels_first":
        raise ctx.error("reads channels-first images")
    kernel = ctx.weight("kernel")  # (p_h, p_w, c_in, d) -> PyTorch's (d, c_in, p_h, p_w)
    bias = ctx.has_weight("bias")
    class_token = bool(attrs.get("use_class_token", True))
    state = {"patch_embedding.weight": np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))}
    if bias:
        state["patch_embedding.bias"] = ctx.weight("bias")
    if class_token:
        state["class_token"] = ctx.weight("class_token")
    state["position_embedding"] = np.ascontiguousarray(ctx.weight("embeddings"))
    ctx.use_helper(VIT_PATCHING)
    patch = tuple(int(p) for p in attrs["patch_size"])
    layer = ctx.module(
        f"ViTPatchingAndEmbedding({kernel.shape[2]}, {kernel.shape[3]}, {patch}, "
        f"{state['position_embedding'].shape[0]}, class_token={class_token}, bias={bias})",
        **state,
    )
    return Result(f"{layer}({ctx.input(0, CF)})", CL)


ROTARY_EMBEDDING = '''\
class RotaryEmbedding(nn.Module):
    """keras-hub's rotary embedding: feature j at position t turned by t * theta_(j mod d/2),
    with theta_k = wavelength^(-2k/d) / scale, read with the half-rotated input (-x2, x1)."""

    def __init__(self, wavelength=10000.0, scale=1.0, sequence_axis=1, feature_axis=-1):
        super().__init__()
        self.wavelength, self.scale = wavelength, scale
        self.axes = (feature_axis, sequence_axis)

    def forward(self, x):
        x = torch.movedim(x, self.axes, (-1, 1))
        dim, length = x.shape[-1], x.shape[1]
        steps = torch.arange(0, dim, 2, dtype=torch.float32) / dim
        inverse = self.wavelength ** -steps / self.scale
        angles = torch.outer(torch.arange(length, dtype=torch.float32), inverse).repeat(1, 2)
        angles = angles.reshape((1, length) + (1,) * (x.dim() - 3) + (dim,))
        half = torch.cat([-x[..., dim // 2 :], x[..., : dim // 2]], dim=-1)
        out = x * torch.cos(angles) + half * torch.sin(angles)
        return torch.movedim(out, (-1, 1), self.axes)
'''

EINSUM_DENSE = '''\
class EinsumDense(nn.Module):
    """Keras's EinsumDense: the input contracted with a learned kernel as the subscripts say,
    plus a bias over the output axes it names."""

    def __init__(self, equation, kernel_shape, bias_shape=None):
        super().__init__()
        self.equation = equation
        self.kernel = nn.Parameter(torch.zeros(kernel_shape))
        self.bias = nn.Parameter(torch.zeros(bias_shape)) if bias_shape else None

    def forward(self, x):
        out = torch.einsum(self.equation, x, self.kernel)
        return out if self.bias is None else out + self.bias
'''


@translation("RotaryEmbedding", wants=CL)
def rotary_embedding(ctx: LayerContext) -> Result:
    attrs = ctx.attrs
    if attrs.get("rope_type", "linear") != "linear" or attrs.get("denominator_dim"):
        raise ctx.error("is a rotary embedding other than keras-hub's linear one")
    ctx.use_helper(ROTARY_EMBEDDING)
    layer = ctx.module(
        f"RotaryEmbedding({float(attrs.get('max_wavelength', 10000))!r}, "
        f"{float(attrs.get('scaling_factor', 1.0))!r}, {int(attrs.get('sequence_axis', 1))}, "
        f"{int(attrs.get('feature_axis', -1))})"
    )
    return Result(f"{layer}({ctx.input(0, CL)})", CL)


@translation("EinsumDense", wants=CL)
def einsum_dense(ctx: LayerContext) -> Result:
    attrs = ctx.attrs
    equation = attrs["equation"]
    out = equation.split("->")[1]
    bias_axes = attrs.get("bias_axes") or ""
    kernel = np.ascontiguousarray(ctx.weight("kernel"))
    state = {"kernel": kernel}
    bias_shape = None
    if bias_axes and ctx.has_weight("bias"):
        bias = ctx.weight("bias")
        # Keras broadcasts the bias over the output axes it does not name.
        first = min(out.index(c) for c in bias_axes)
        bias_shape = tuple(
            int(bias.shape[bias_axes.index(c)]) if c in bias_axes else 1 for c in out[first:]
        )
        state["bias"] = np.ascontiguousarray(bias.reshape(bias_shape))
    ctx.use_helper(EINSUM_DENSE)
    layer = ctx.module(
        f'EinsumDense("{equation}", {tuple(kernel.shape)}'
        + (f", {bias_shape})" if bias_shape else ")"),
        **state,
    )
    expr = f"{layer}({ctx.input(0, CL)})"
    return Result(activate(ctx, expr, ctx.value().rank, CL), CL)
