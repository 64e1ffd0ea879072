"""PyTorch translation of ConvLSTM2D: an LSTM whose matrix products are convolutions."""

from __future__ import annotations

import numpy as np

from generator.model.activations import activation_name
from generator.torch.registry import CF, CL, LayerContext, Result, int_arg, translation

CONV_LSTM_2D = '''\
class ConvLSTM2d(nn.Module):
    """Keras's ConvLSTM2D: gates i, f, c, o from a convolution of the input frame plus a
    "same" convolution of the state; x is (N, T, C, H, W), the state starts at zero."""

    def __init__(self, in_channels, filters, kernel_size, padding, dilation=1, bias=True):
        super().__init__()
        self.input_conv = nn.Conv2d(
            in_channels, 4 * filters, kernel_size, padding=padding, dilation=dilation, bias=bias
        )
        self.state_conv = nn.Conv2d(filters, 4 * filters, kernel_size, padding="same", bias=False)

    def forward(self, x):
        gates_x = [self.input_conv(x[:, t]) for t in range(x.shape[1])]
        h = c = gates_x[0].new_zeros(gates_x[0].shape).chunk(4, dim=1)[0]
        outputs = []
        for gates in gates_x:
            i, f, g, o = (gates + self.state_conv(h)).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h, c
'''


def _torch_kernel(kernel: np.ndarray) -> np.ndarray:
    """Keras's (kh, kw, in, out) kernel as PyTorch's (out, in, kh, kw)."""
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))


@translation("ConvLSTM2D", wants=CL)
def conv_lstm_2d(ctx: LayerContext) -> Result:
    attrs = ctx.attrs
    if activation_name(attrs.get("activation")) != "tanh":
        raise ctx.error("uses an activation other than tanh")
    if activation_name(attrs.get("recurrent_activation")) != "sigmoid":
        raise ctx.error("uses a recurrent activation other than sigmoid")
    if attrs.get("stateful") or len(ctx.inputs) > 1:
        raise ctx.error("is stateful or given an initial state, which has no translation here")
    if attrs["layout"] != "channels_last":
        raise ctx.error("reads channels-first data; only channels_last translates")
    if any(s != 1 for s in attrs["strides"]):
        raise ctx.error("moves its kernel with strides other than 1")
    filters, cin = int(attrs["filters"]), int(ctx.value().shape[-1])
    kernel = [int(k) for k in attrs["kernel_size"]]
    dilation = list(attrs["dilation_rate"])
    padding = attrs.get("padding", "valid")
    use_bias = attrs.get("use_bias", True)
    state = {
        "input_conv.weight": _torch_kernel(ctx.weight("kernel")),
        "state_conv.weight": _torch_kernel(ctx.weight("recurrent_kernel")),
    }
    if use_bias:
        state["input_conv.bias"] = ctx.weight("bias")
    ctx.use_helper(CONV_LSTM_2D)
    options = "" if dilation == [1, 1] else f", dilation={int_arg(dilation)}"
    options += "" if use_bias else ", bias=False"
    layer = ctx.module(
        f'ConvLSTM2d({cin}, {filters}, {int_arg(kernel)}, padding="{padding}"{options})', **state
    )
    x = f"{ctx.input(0, CL)}.permute(0, 1, 4, 2, 3)"  # (N, T, H, W, C) -> (N, T, C, H, W)
    if attrs.get("go_backwards"):
        x = f"{x}.flip(1)"
    ctx.line(f"{ctx.out}, h, c = {layer}({x})")
    if len(ctx.record.output_shapes) > 1:  # return_state: every output channels last
        output = ctx.out if attrs.get("return_sequences") else "h"
        last = "permute(0, 1, 3, 4, 2)" if attrs.get("return_sequences") else "permute(0, 2, 3, 1)"
        return Result(f"{output}.{last}, h.permute(0, 2, 3, 1), c.permute(0, 2, 3, 1)", CL)
    if attrs.get("return_sequences"):
        return Result(f"{ctx.out}.permute(0, 1, 3, 4, 2)", CL)
    return Result("h", CF)
