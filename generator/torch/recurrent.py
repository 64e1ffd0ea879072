"""PyTorch translations of SimpleRNN, GRU, LSTM and Bidirectional (batch-first sequences)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from generator.model.activations import layer_activation
from generator.model.graph import LayerRecord
from generator.torch.registry import CL, LayerContext, Result, translation

GRU_RESET_BEFORE = '''\
class GRUResetBefore(nn.Module):
    """Keras's GRU with reset_after=False: the reset gate scales the state *before* the recurrent
    weights act on it (nn.GRU applies it after). Gates in PyTorch's order: r, z, n."""

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.zeros(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.zeros(3 * hidden_size, hidden_size))
        self.bias = nn.Parameter(torch.zeros(3 * hidden_size)) if bias else None

    def forward(self, x):
        w_hr, w_hz, w_hn = self.weight_hh.chunk(3)
        gates_x = F.linear(x, self.weight_ih, self.bias)  # the input's part, every step at once
        h = x.new_zeros(x.shape[0], self.hidden_size)
        outputs = []
        for t in range(x.shape[1]):
            x_r, x_z, x_n = gates_x[:, t].chunk(3, dim=1)
            r = torch.sigmoid(x_r + h @ w_hr.T)
            z = torch.sigmoid(x_z + h @ w_hz.T)
            n = torch.tanh(x_n + (r * h) @ w_hn.T)
            h = (1 - z) * n + z * h
            outputs.append(h)
        return torch.stack(outputs, dim=1), h.unsqueeze(0)
'''


def _gates(array: np.ndarray, units: int, order: tuple[int, ...]) -> np.ndarray:
    """Reorder gate blocks along the last axis: Keras's GRU z, r, h is PyTorch's r, z, n."""
    blocks = [array[..., i * units : (i + 1) * units] for i in range(len(order))]
    return np.concatenate([blocks[i] for i in order], axis=-1)


def _check(ctx: LayerContext, layer: LayerRecord) -> str:
    """Refuse what PyTorch's recurrent modules cannot do; the activation's name otherwise."""
    kind, attrs = layer.type, layer.attrs
    if attrs.get("stateful"):
        raise ctx.error("is built with stateful=True, which has no translation here")
    activation = layer_activation(layer).name
    allowed = ("tanh", "relu") if kind == "SimpleRNN" else ("tanh",)
    if activation not in allowed:
        raise ctx.error(f"uses activation {activation!r}; PyTorch's {kind} has {allowed}")
    if kind != "SimpleRNN" and layer_activation(layer, "recurrent_activation").name != "sigmoid":
        raise ctx.error("uses a recurrent activation other than sigmoid")
    return activation


def _state(
    ctx: LayerContext, kind: str, attrs: dict, prefix: str, suffix: str, reset_before: bool = False
) -> dict[str, np.ndarray]:
    units = int(attrs["units"])
    kernel = ctx.weight("kernel", prefix)
    recurrent = ctx.weight("recurrent_kernel", prefix)
    bias = ctx.weight("bias", prefix) if attrs.get("use_bias", True) else None
    gates = {"GRU": 3, "LSTM": 4}.get(kind, 1)
    if kind == "GRU":
        order = (1, 0, 2)
        kernel, recurrent = _gates(kernel, units, order), _gates(recurrent, units, order)
        if bias is not None:
            bias = _gates(bias, units, order)
    if reset_before:
        state = {"weight_ih": kernel.T, "weight_hh": recurrent.T}
        if bias is not None:
            state["bias"] = bias
        return {k: np.ascontiguousarray(v) for k, v in state.items()}
    state = {f"weight_ih_l0{suffix}": kernel.T, f"weight_hh_l0{suffix}": recurrent.T}
    if bias is not None:
        if bias.ndim == 2:  # GRU reset_after: an input bias and a recurrent bias, as in PyTorch
            input_bias, recurrent_bias = bias[0], bias[1]
        else:  # Keras has one bias; PyTorch adds two, so the second is zero
            input_bias, recurrent_bias = bias, np.zeros(gates * units, dtype=np.float32)
        state[f"bias_ih_l0{suffix}"] = input_bias
        state[f"bias_hh_l0{suffix}"] = recurrent_bias
    return {k: np.ascontiguousarray(v) for k, v in state.items()}


def _constructor(
    kind: str, attrs: dict, input_size: int, bidirectional: bool, activation: str
) -> str:
    units = int(attrs["units"])
    options = ""
    if kind == "SimpleRNN" and activation == "relu":
        options += ', nonlinearity="relu"'
    if not attrs.get("use_bias", True):
        options += ", bias=False"
    options += ", batch_first=True"
    if bidirectional:
        options += ", bidirectional=True"
    name = {"SimpleRNN": "RNN"}.get(kind, kind)
    return f"nn.{name}(input_size={input_size}, hidden_size={units}{options})"


@translation("SimpleRNN", "GRU", "LSTM", wants=CL)
def recurrent(ctx: LayerContext) -> Result:
    kind, attrs = ctx.record.type, ctx.attrs
    activation = _check(ctx, ctx.record)
    input_size = int(ctx.value().shape[-1])
    x = ctx.input(0, CL)
    if attrs.get("go_backwards"):
        x = f"{x}.flip(1)"  # Keras reads the sequence backwards and returns outputs in that order
    if kind == "GRU" and not attrs.get("reset_after", True):
        ctx.use_helper(GRU_RESET_BEFORE)
        bias = "" if attrs.get("use_bias", True) else ", bias=False"
        layer = ctx.module(
            f"GRUResetBefore(input_size={input_size}, hidden_size={attrs['units']}{bias})",
            **_state(ctx, kind, attrs, "", "", reset_before=True),
        )
    else:
        layer = ctx.module(
            _constructor(kind, attrs, input_size, False, activation),
            **_state(ctx, kind, attrs, "", ""),
        )
    states = _initial_state(ctx, kind, ctx.inputs[1:])
    if states and kind == "GRU" and not attrs.get("reset_after", True):
        raise ctx.error("is a GRU with reset_after=False started from a given state")
    state_target = "(h, c)" if kind == "LSTM" else "h"
    ctx.line(f"{ctx.out}, {state_target} = {layer}({x}{states})")
    output = ctx.out if attrs.get("return_sequences") else f"{ctx.out}[:, -1]"
    if len(ctx.record.output_shapes) > 1:  # return_state: the output, then h (and c)
        finals = ["h[0]", "c[0]"] if kind == "LSTM" else ["h[0]"]
        return Result(f"{output}, {', '.join(finals)}", CL)
    return Result(output, CL)


def _initial_state(ctx: LayerContext, kind: str, states: list, directions: int = 1) -> str:
    """`, (h0, c0)` for the call's `initial_state` tensors (Keras: h then c, per direction)."""
    if not states:
        return ""
    exprs = [ctx.input(i + 1) for i in range(len(states))]
    per = 2 if kind == "LSTM" else 1
    if len(exprs) != per * directions:
        raise ctx.error(f"is given {len(exprs)} initial states; {per * directions} translate")
    # PyTorch stacks the states of the directions on a first axis.
    stacked = [
        f"torch.stack([{', '.join(exprs[d * per + k] for d in range(directions))}])"
        for k in range(per)
    ]
    return f", ({stacked[0]}, {stacked[1]})" if per == 2 else f", {stacked[0]}"


_MERGE = {
    "concat": "torch.cat([{a}, {b}], dim=-1)",
    "sum": "{a} + {b}",
    "mul": "{a} * {b}",
    "ave": "({a} + {b}) / 2",
}


@translation("Bidirectional", wants=CL)
def bidirectional(ctx: LayerContext) -> Result:
    inner = ctx.attrs["layer"]
    kind, attrs = inner.type, inner.attrs
    if kind not in ("SimpleRNN", "GRU", "LSTM"):
        raise ctx.error(f"wraps a {kind}; only SimpleRNN, GRU and LSTM translate")
    if kind == "GRU" and not attrs.get("reset_after", True):
        raise ctx.error("wraps a GRU with reset_after=False, which has no bidirectional module")
    merge = ctx.attrs.get("merge_mode", "concat")
    if merge not in _MERGE:
        raise ctx.error(f"merges with {merge!r}; concat, sum, mul and ave translate")
    activation = _check(ctx, replace(ctx.record, type=kind, attrs=attrs))
    if attrs.get("go_backwards"):
        raise ctx.error("wraps a layer that already goes backwards")
    state = _state(ctx, kind, attrs, "forward_", "")
    state.update(_state(ctx, kind, attrs, "backward_", "_reverse"))
    input_size = int(ctx.value().shape[-1])
    layer = ctx.module(_constructor(kind, attrs, input_size, True, activation), **state)
    x, out, units = ctx.input(0, CL), ctx.out, int(attrs["units"])
    states = _initial_state(ctx, kind, ctx.inputs[1:], directions=2)
    state_target = "(h, c)" if kind == "LSTM" else "h"
    # PyTorch returns the backward outputs in forward time order, as Keras does; the backward
    # direction's last output is its final state, h[1], not out[:, -1].
    ctx.line(f"{out}, {state_target} = {layer}({x}{states})")
    if attrs.get("return_sequences"):
        halves = {"a": f"{out}[..., :{units}]", "b": f"{out}[..., {units}:]"}
        output = out if merge == "concat" else _MERGE[merge].format(**halves)
    else:
        output = _MERGE[merge].format(a="h[0]", b="h[1]")
    if len(ctx.record.output_shapes) > 1:  # return_state: forward h (c), then backward h (c)
        per = ["h[{d}]", "c[{d}]"] if kind == "LSTM" else ["h[{d}]"]
        finals = [p.format(d=d) for d in (0, 1) for p in per]
        return Result(f"{output}, {', '.join(finals)}", CL)
    return Result(output, CL)
