"""PyTorch translations of dense, embedding, activation, dropout-like and merging layers."""

from __future__ import annotations

import numpy as np

from generator.model.activations import layer_activation
from generator.torch.registry import (
    CL,
    LayerContext,
    Layout,
    Result,
    activate,
    torch_dim,
    translation,
)

#: Rows of a kernel copied at a time by `_transposed`.
_BAND = 32


def _transposed(kernel: np.ndarray) -> np.ndarray:
    """A 2-D kernel's transpose as a contiguous array, copied a band of rows at a time.

    Copying the transposed view at once writes each output row from a column of the kernel, a
    cache miss per number: on ConvNeXtXLarge's (2048, 8192) kernels that took 2.5-3x as long.
    """
    out = np.empty(kernel.shape[::-1], dtype=kernel.dtype)
    for start in range(0, kernel.shape[0], _BAND):
        out[:, start : start + _BAND] = kernel[start : start + _BAND].T
    return out


@translation("Dense", wants=CL)
def dense(ctx: LayerContext) -> Result:
    value = ctx.value()
    kernel = ctx.weight("kernel")
    units = int(ctx.attrs["units"])
    if value.layout.kind == "flat_cf":
        # The input was flattened channels first; reorder the kernel's rows to match, so that
        # `forward` can flatten the way PyTorch code does.
        dims = value.layout.dims
        n = len(dims)
        kernel = kernel.reshape(*dims, units).transpose(n - 1, *range(n - 1), n).reshape(-1, units)
        x = value.expr
    else:
        x = ctx.input(0, CL)
    dims = value.layout.dims or (value.shape[-1],)
    in_features = " * ".join(str(d) for d in dims)
    use_bias = ctx.attrs.get("use_bias", True)
    state = {"weight": _transposed(kernel)}
    bias = ""
    if use_bias:
        state["bias"] = ctx.weight("bias")
    else:
        bias = ", bias=False"
    layer = ctx.module(f"nn.Linear(in_features={in_features}, out_features={units}{bias})", **state)
    return Result(activate(ctx, f"{layer}({x})", value.rank, CL), CL)


@translation("Embedding", wants=CL)
def embedding(ctx: LayerContext) -> Result:
    if ctx.attrs.get("mask_zero"):
        raise ctx.error("masks zeros (mask_zero=True); masking has no PyTorch translation here")
    layer = ctx.module(
        f"nn.Embedding(num_embeddings={ctx.attrs['input_dim']}, "
        f"embedding_dim={ctx.attrs['output_dim']})",
        weight=ctx.weight("embeddings"),
    )
    # Keras casts the (often float) inputs to integers; PyTorch wants int64 indices.
    return Result(f"{layer}({ctx.input(0, CL)}.long())", CL)


# --- activations ---------------------------------------------------------------------------------


@translation("Activation", "LeakyReLU", "ELU")
def activation_function(ctx: LayerContext) -> Result:
    """A layer that is one row of the activation table, with its parameters."""
    value = ctx.value()
    return Result(activate(ctx, value.expr, value.rank, value.layout), value.layout)


@translation("ReLU")
def relu(ctx: LayerContext) -> Result:
    value = ctx.value()
    act = layer_activation(ctx.record)
    if act is not None:  # relu, relu6 or leaky_relu: a row of the table
        return Result(activate(ctx, value.expr, value.rank, value.layout), value.layout)
    x = value.expr
    top = ctx.attrs.get("max_value")
    slope = float(ctx.attrs.get("negative_slope") or 0.0)
    threshold = float(ctx.attrs.get("threshold") or 0.0)
    if threshold:
        expr = f"torch.where({x} >= {threshold!r}, {x}, {slope!r} * ({x} - {threshold!r}))"
    elif slope:
        expr = f"F.leaky_relu({x}, negative_slope={slope!r})"
    else:
        expr = f"F.relu({x})"
    if top is not None:
        expr = f"torch.clamp({expr}, max={float(top)!r})"
    return Result(expr, value.layout)


@translation("Softmax")
def softmax(ctx: LayerContext) -> Result:
    value = ctx.value()
    act = layer_activation(ctx.record)
    if act is None:
        raise ctx.error("takes the softmax over several axes")
    if len(ctx.inputs) > 1:  # Keras's masked softmax: masked entries read -1e9, then weigh 0
        x, keep = ctx.input(0, CL), f"({ctx.input(1, CL)} > 0.5)"
        dim = int(act.param("axis"))
        masked = f"torch.where({keep}, {x}, torch.tensor(-1e9))"
        return Result(f"torch.where({keep}, {masked}.softmax(dim={dim}), 0.0)", CL)
    return Result(
        activate(ctx, value.expr, value.rank, value.layout, act.param("axis")), value.layout
    )


# --- the identity at inference -------------------------------------------------------------------


@translation("Dropout")
def dropout(ctx: LayerContext) -> Result:
    layer = ctx.module(f"nn.Dropout(p={float(ctx.attrs['rate'])!r})")
    return Result(f"{layer}({ctx.input()})", ctx.value().layout)


@translation("SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", wants=Layout("cf"))
def spatial_dropout(ctx: LayerContext) -> Result:
    n = int(ctx.record.type[-2])
    layer = ctx.module(f"nn.Dropout{n}d(p={float(ctx.attrs['rate'])!r})")
    return Result(f"{layer}({ctx.input(0, Layout('cf'))})", Layout("cf"))


@translation(
    "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Identity"
)
def identity(ctx: LayerContext) -> Result:
    """Layers that only act in training (or not at all): the output is the input."""
    return Result(ctx.input(), ctx.value().layout)


@translation("Rescaling")
def rescaling(ctx: LayerContext) -> Result:
    value = ctx.value()

    def constant(number: object) -> str:
        if isinstance(number, int | float):
            return repr(float(number))
        # One factor per channel: channels sit on dimension 1 of a channels-first tensor.
        values = np.asarray(number, dtype=np.float32).reshape(-1).tolist()
        trailing = value.rank - 2 if value.layout.kind == "cf" else 0
        shape = f".reshape(-1{', 1' * trailing})" if trailing else ""
        return f"torch.tensor({values!r}){shape}"

    scale, offset = ctx.attrs.get("scale", 1.0), ctx.attrs.get("offset", 0.0)
    expr = f"{value.expr} * {constant(scale)}"
    if not isinstance(offset, int | float) or offset:
        expr += f" + {constant(offset)}"
    return Result(expr, value.layout)


# --- merging -------------------------------------------------------------------------------------

_OPERATORS = {"Add": " + ", "Subtract": " - ", "Multiply": " * "}


def _common_inputs(ctx: LayerContext) -> tuple[list[str], Layout]:
    """Every input in one layout: the first input's, or Keras's for flattened vectors."""
    layouts = [v.layout for v in ctx.inputs]
    layout = CL if any(lay.kind == "flat_cf" for lay in layouts) else layouts[0]
    layout = Layout(layout.kind)
    return [ctx.input(i, layout) for i in range(len(ctx.inputs))], layout


@translation("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
def merge(ctx: LayerContext) -> Result:
    xs, layout = _common_inputs(ctx)
    kind = ctx.record.type
    if kind in _OPERATORS:
        return Result(_OPERATORS[kind].join(xs), layout)
    if kind == "Average":
        return Result(f"({' + '.join(xs)}) / {len(xs)}", layout)
    function = "torch.maximum" if kind == "Maximum" else "torch.minimum"
    expr = xs[0]
    for x in xs[1:]:
        expr = f"{function}({expr}, {x})"
    return Result(expr, layout)


@translation("Concatenate")
def concatenate(ctx: LayerContext) -> Result:
    xs, layout = _common_inputs(ctx)
    # The channel axis moves: Keras's last axis is dimension 1 of a channels-first tensor.
    dim = torch_dim(int(ctx.attrs.get("axis", -1)), ctx.value().rank, layout)
    return Result(f"torch.cat([{', '.join(xs)}], dim={dim})", layout)


PRELU_PER_ENTRY = '''\
class PReLUPerEntry(nn.Module):
    """Keras's PReLU with a slope for every entry, not only every channel (as nn.PReLU has):
    x where x > 0, alpha * x elsewhere. Works on channels-last tensors, as Keras's does."""

    def __init__(self, shape):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(shape))

    def forward(self, x):
        return F.relu(x) - self.alpha * F.relu(-x)
'''


@translation("PReLU")
def prelu(ctx: LayerContext) -> Result:
    value = ctx.value()
    alpha = ctx.weight("alpha")
    channels = int(value.shape[-1])
    if alpha.size == 1:
        layer = ctx.module("nn.PReLU()", weight=alpha.reshape(1))
        return Result(f"{layer}({value.expr})", value.layout)
    if alpha.size == channels and alpha.shape[-1] == channels:
        # One slope per channel: nn.PReLU, which reads the channels from dimension 1.
        layout = Layout("cf") if value.rank > 2 else CL
        layer = ctx.module(f"nn.PReLU(num_parameters={channels})", weight=alpha.reshape(-1))
        return Result(f"{layer}({ctx.input(0, layout)})", layout)
    ctx.use_helper(PRELU_PER_ENTRY)
    layer = ctx.module(f"PReLUPerEntry({tuple(alpha.shape)})", alpha=np.ascontiguousarray(alpha))
    return Result(f"{layer}({ctx.input(0, CL)})", CL)


_OPS = {
    "ops.add": " + ",
    "ops.subtract": " - ",
    "ops.multiply": " * ",
    "ops.divide": " / ",
    "ops.true_divide": " / ",
}


@translation(*_OPS)
def operation(ctx: LayerContext) -> Result:
    """`x + 3.0` written between layers: the same arithmetic on PyTorch tensors."""
    operands = ctx.attrs.get("operands", [None] * len(ctx.inputs))
    arrays = [a for a in operands if a is not None and not isinstance(a, int | float)]
    if any(np.size(a) > 16 for a in arrays):
        raise ctx.error("computes with an array constant of more than 16 entries")
    if arrays:
        xs, layout = [ctx.input(i, CL) for i in range(len(ctx.inputs))], CL  # as Keras broadcasts
    elif len(ctx.inputs) == 1:
        xs, layout = [ctx.input()], ctx.value().layout  # scalars fit any order of the axes
    else:
        xs, layout = _common_inputs(ctx)
    tensors = iter(xs)
    terms = []
    for operand in operands:
        if operand is None:
            terms.append(next(tensors))
        elif isinstance(operand, int | float):
            terms.append(repr(operand))
        else:
            terms.append(f"torch.tensor({np.asarray(operand, dtype=np.float32).tolist()!r})")
    return Result(_OPS[ctx.record.type].join(terms), layout)
