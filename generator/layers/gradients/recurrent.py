"""SimpleRNN backward: back-propagation through time, the recurrence unrolled and run from the
last step to the first.

The forward step is `h_t = f(z_t)`, `z_t = W x_t + U h_{t-1} + b`. Step `t`'s state reaches the
loss directly (when the layer returns its sequence) and through every later step, so going back
`\\delta_t = (\\partial L/\\partial h_t + U^\\top \\delta_{t+1}) \\odot f'(z_t)`; the weights are
shared by every step, so their gradients sum over the steps (and the batch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator.layers.gradients.activation import derivative, differentiable
from generator.layers.gradients.registry import INPUT, register_backward
from generator.model.activations import activation_latex, layer_activation, numpy_function
from generator.model.graph import LayerRecord


@dataclass(frozen=True)
class ThroughTime:
    """The backward pass of a SimpleRNN (see the module docstring).

    `names` maps `kernel`, `recurrent_kernel`, `bias` to the layer's `WeightRecord.name`s.
    """

    activation: str
    params: tuple
    sequences: bool
    names: dict[str, str]
    steps: int | None

    def latex(self) -> str:
        f = activation_latex(self.activation)
        up = r"\frac{\partial \mathcal L}{\partial h_t}"
        if not self.sequences:
            up += r"\,[t = T - 1]"
        last = "T" if self.steps is None else str(self.steps)
        lines = [
            rf"\delta_t = \left({up} + U^\top \delta_{{t+1}}\right) \odot {f}'(z_t), \quad "
            rf"t = T - 1, \dots, 0, \quad \delta_{{{last}}} = 0",
            r"\frac{\partial \mathcal L}{\partial x_t} = W^\top \delta_t",
            r"\frac{\partial \mathcal L}{\partial W} = \sum_n \sum_t \delta_t\, x_t^\top",
            r"\frac{\partial \mathcal L}{\partial U} = \sum_n \sum_t \delta_t\, h_{t-1}^\top"
            r" \quad (h_{-1} = 0)",
        ]
        if "bias" in self.names:
            lines.append(r"\frac{\partial \mathcal L}{\partial b} = \sum_n \sum_t \delta_t")
        note = (
            r" \quad (\text{back-propagation through time: } z_t = W x_t + U h_{t-1} + b"
            r"\text{ unrolled, run from the last step back})"
        )
        return r" \\ ".join(lines) + note

    def unrolled(self, steps: int) -> list[str]:
        """The recursion written out for `steps` time steps, the last first."""
        f = activation_latex(self.activation)
        out = []
        for t in range(steps - 1, -1, -1):
            direct = rf"\frac{{\partial \mathcal L}}{{\partial h_{{{t}}}}}"
            if not self.sequences and t != steps - 1:
                direct = ""
            carry = "" if t == steps - 1 else rf"U^\top \delta_{{{t + 1}}}"
            inner = " + ".join(p for p in (direct, carry) if p)
            out.append(rf"\delta_{{{t}}} = \left({inner}\right) \odot {f}'(z_{{{t}}})")
        return out

    def evaluate(self, inputs, weights, upstream) -> dict[str, np.ndarray]:
        x = np.asarray(inputs[0], dtype=np.float64)
        kernel = np.asarray(weights[self.names["kernel"]], dtype=np.float64)
        recurrent = np.asarray(weights[self.names["recurrent_kernel"]], dtype=np.float64)
        bias = (
            np.asarray(weights[self.names["bias"]], dtype=np.float64)
            if "bias" in self.names
            else np.zeros(kernel.shape[1])
        )
        f = numpy_function(self.activation)
        fprime, _ = derivative(self.activation, self.params)
        n, steps, _ = x.shape
        units = kernel.shape[1]
        h = np.zeros((n, steps + 1, units))  # h[:, t + 1] is h_t; h[:, 0] is h_{-1} = 0
        z = np.zeros((n, steps, units))
        for t in range(steps):
            z[:, t] = x[:, t] @ kernel + h[:, t] @ recurrent + bias
            h[:, t + 1] = f(z[:, t])
        g = np.asarray(upstream, dtype=np.float64)
        direct = np.zeros((n, steps, units))
        if self.sequences:
            direct[:] = g
        else:
            direct[:, -1] = g
        carry = np.zeros((n, units))
        dx = np.zeros_like(x)
        dk, dr, db = np.zeros_like(kernel), np.zeros_like(recurrent), np.zeros(units)
        for t in range(steps - 1, -1, -1):
            delta = (direct[:, t] + carry) * fprime(z[:, t])
            dx[:, t] = delta @ kernel.T
            dk += x[:, t].T @ delta
            dr += h[:, t].T @ delta
            db += delta.sum(axis=0)
            carry = delta @ recurrent.T
        out = {INPUT: dx, self.names["kernel"]: dk, self.names["recurrent_kernel"]: dr}
        if "bias" in self.names:
            out[self.names["bias"]] = db
        return out


@register_backward("SimpleRNN")
def simple_rnn_backward(layer: LayerRecord):
    attrs = layer.attrs
    if attrs.get("go_backwards") or attrs.get("return_state") or len(layer.inbound) != 1:
        return None
    act = layer_activation(layer)
    if act is None or not differentiable(act.name) or act.name in ("softmax", "log_softmax"):
        return None
    names = {w.role: w.name for w in layer.weights}
    if not {"kernel", "recurrent_kernel"} <= set(names):
        return None
    names = {k: v for k, v in names.items() if k in ("kernel", "recurrent_kernel", "bias")}
    return ThroughTime(
        act.name,
        tuple(act.params),
        bool(attrs.get("return_sequences")),
        names,
        layer.input_shape[1],
    )
