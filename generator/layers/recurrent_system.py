"""The recurrent layers' step equations as an object: printed as today, run as a loop over time.

`RecurrentSystem` is the `LayerEquation` of SimpleRNN, GRU and LSTM. It evaluates the gate
equations exactly as printed (column vectors, `W_z` the transpose of the gate's kernel block) on
Keras's kernels, over `t = 0 ... T-1` (or backwards), from zero states or the states the call was
given, skipping masked steps as Keras does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from generator.layers.registry import SampledPositions, WorkedExample, at_positions
from generator.model.activations import (
    ELEMENTWISE,
    activation_latex,
    activation_name,
    numpy_function,
)

#: Gate names in the order Keras stacks their columns in the kernels.
GATES = {"SimpleRNN": ("h",), "GRU": ("z", "r", "h"), "LSTM": ("i", "f", "c", "o")}
#: The printed symbol of each gate's output (the candidate states keep their tilde).
GATE_SYMBOLS = {
    "i": r"\Gamma^{\mathrm{i}}",
    "f": r"\Gamma^{\mathrm{f}}",
    "o": r"\Gamma^{\mathrm{o}}",
    "z": r"\Gamma^{\mathrm{z}}",
    "r": r"\Gamma^{\mathrm{r}}",
    "c": r"\tilde{C}",
    "h": r"\tilde{h}",
}


def gate_sub(gate: str) -> str:
    """`_{\\mathrm{i}}`: a gate's label as an upright subscript (`W_{\\mathrm{i}}`)."""
    return rf"_{{\mathrm{{{gate}}}}}"


#: Terms of a long sum shown in a worked example before `+ n more terms`.
SHOWN_TERMS = 3


def numpy_activation(value: object) -> Callable[[np.ndarray], np.ndarray]:
    """An activation of the table (by attrs value) as a NumPy function, with Keras's defaults."""
    if activation_name(value) not in ELEMENTWISE:
        raise NotImplementedError(f"no NumPy form for the activation {activation_name(value)!r}")
    return numpy_function(activation_name(value))


def num(value: float) -> str:
    """A number as a worked example prints it: four significant digits."""
    text = f"{float(value):.4g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = rf"{mantissa} \cdot 10^{{{int(exponent)}}}"
    return text


def factor(value: float) -> str:
    """A number as a factor of a product: negative ones in parentheses."""
    return rf"\left({num(value)}\right)" if value < 0 else num(value)


def dot_latex(weights: np.ndarray, values: np.ndarray, shown: int = SHOWN_TERMS) -> str:
    """`w_0 x_0 + w_1 x_1 + w_2 x_2 + 23 more terms = s`: a dot product with its numbers."""
    weights, values = np.ravel(weights), np.ravel(values)
    terms = [rf"{factor(w)} \cdot {factor(v)}" for w, v in zip(weights, values, strict=True)]
    text = " + ".join(terms[:shown]) or "0"
    if len(terms) > shown:
        more = len(terms) - shown
        text += rf" + \text{{{more} more term{'s' * (more > 1)}}}"
    return rf"{text} = {num(float(weights @ values))}"


def split_inputs(inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray], Any]:
    """The sequence, the initial states the call gave (if any), and the mask (boolean input)."""
    x, rest = np.asarray(inputs[0], dtype=np.float64), list(inputs[1:])
    masks = [np.asarray(a) for a in rest if np.asarray(a).dtype == bool]
    states = [np.asarray(a, dtype=np.float64) for a in rest if np.asarray(a).dtype != bool]
    return x, states, masks[0] if masks else None


@dataclass(frozen=True)
class UncheckedEquation(SampledPositions):
    """An equation the page prints but nothing evaluates yet: the check reports it as not
    compared (its `evaluate` raises `NotImplementedError`)."""

    text: str

    def latex(self) -> str:
        return self.text

    def evaluate(self, inputs, weights, positions=None) -> np.ndarray:
        raise NotImplementedError("this equation is printed, not evaluated")

    def worked_example(self, inputs, weights, index=None) -> WorkedExample | None:
        return None


@dataclass(frozen=True)
class Trace:
    """One step of the loop kept for a worked example: the step's input, previous states,
    and every gate's pre-activation and value."""

    t: int
    x: np.ndarray
    h_prev: np.ndarray
    c_prev: np.ndarray | None
    gates: dict[str, np.ndarray] = field(default_factory=dict)
    h: np.ndarray | None = None
    c: np.ndarray | None = None


@dataclass(frozen=True)
class RecurrentSystem(SampledPositions):
    """SimpleRNN, GRU or LSTM as its system of step equations (see the module docstring)."""

    kind: str
    attrs: Mapping[str, Any]
    text: str

    def latex(self) -> str:
        return self.text

    # ---- weights, in the printed notation ----

    def blocks(self, weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """`W_z`, `U_z`, `b_z` (and GRU's `bh_z`) per gate, from Keras's stacked kernels."""
        found = {key.rsplit("/", 1)[-1]: np.asarray(v, np.float64) for key, v in weights.items()}
        gates = GATES[self.kind]
        n = len(gates)
        out: dict[str, np.ndarray] = {}
        for g, w, u in zip(
            gates,
            np.split(found["kernel"], n, axis=-1),
            np.split(found["recurrent_kernel"], n, axis=-1),
            strict=True,
        ):
            out[f"W_{g}"], out[f"U_{g}"] = w.T, u.T
            units = w.shape[1]
            out[f"b_{g}"] = out[f"bh_{g}"] = np.zeros(units)
        bias = found.get("bias")
        if bias is not None:
            if bias.ndim == 2:  # GRU with reset_after: input-side and recurrent-side biases
                for g, bx, bh in zip(
                    gates, np.split(bias[0], n), np.split(bias[1], n), strict=True
                ):
                    out[f"b_{g}"], out[f"bh_{g}"] = bx, bh
            else:
                for g, b in zip(gates, np.split(bias, n), strict=True):
                    out[f"b_{g}"] = b
        return out

    # ---- one step, exactly as printed ----

    def step(self, w: dict[str, np.ndarray], trace: Trace) -> tuple[np.ndarray, np.ndarray | None]:
        """`h_t` (and `c_t`) from `x_t` and the previous states; fills `trace.gates`."""
        f = numpy_activation(self.attrs.get("activation", "tanh"))
        g = numpy_activation(self.attrs.get("recurrent_activation", "sigmoid"))
        x, h, gates = trace.x, trace.h_prev, trace.gates

        def pre(z: str, state: np.ndarray) -> np.ndarray:
            return x @ w[f"W_{z}"].T + state @ w[f"U_{z}"].T + w[f"b_{z}"]

        if self.kind == "SimpleRNN":
            gates["h"] = pre("h", h)
            return f(gates["h"]), None
        if self.kind == "GRU":
            if self.attrs.get("reset_after", True):
                gates["z"] = x @ w["W_z"].T + w["b_z"] + h @ w["U_z"].T + w["bh_z"]
                gates["r"] = x @ w["W_r"].T + w["b_r"] + h @ w["U_r"].T + w["bh_r"]
                r = g(gates["r"])
                gates["h"] = x @ w["W_h"].T + w["b_h"] + r * (h @ w["U_h"].T + w["bh_h"])
            else:
                gates["z"], gates["r"] = pre("z", h), pre("r", h)
                gates["h"] = pre("h", g(gates["r"]) * h)
            z = g(gates["z"])
            return z * h + (1 - z) * f(gates["h"]), None
        for z in ("i", "f", "c", "o"):
            gates[z] = pre(z, h)
        c = g(gates["f"]) * trace.c_prev + g(gates["i"]) * f(gates["c"])
        return g(gates["o"]) * f(c), c

    def run(
        self, inputs: Sequence[np.ndarray], weights: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, list[Trace]]:
        """The first output (every `h_t` in the order computed, or the last) and each step."""
        x, states, mask = split_inputs(inputs)
        w = self.blocks(weights)
        batch, steps = x.shape[0], x.shape[1]
        units = w[f"U_{GATES[self.kind][0]}"].shape[0]
        h = states[0] if states else np.zeros((batch, units))
        c = None
        if self.kind == "LSTM":
            c = states[1] if len(states) > 1 else np.zeros((batch, units))
        order = range(steps - 1, -1, -1) if self.attrs.get("go_backwards") else range(steps)
        zero_masked = self.attrs.get("zero_output_for_mask", False)
        outputs, traces, y_prev = [], [], np.zeros((batch, units))
        for t in order:
            trace = Trace(t=t, x=x[:, t], h_prev=h, c_prev=c)
            h_new, c_new = self.step(w, trace)
            if mask is not None:
                keep = mask[:, t][:, None]
                y = np.where(keep, h_new, 0.0 if zero_masked else y_prev)
                h_new = np.where(keep, h_new, h)
                c_new = None if c is None else np.where(keep, c_new, c)
            else:
                y = h_new
            traces.append(replace(trace, h=h_new, c=c_new))
            outputs.append(y)
            h, c, y_prev = h_new, c_new, y
        if self.attrs.get("return_sequences"):
            return np.stack(outputs, axis=1), traces
        return outputs[-1], traces

    # ---- the contract ----

    def evaluate(
        self,
        inputs: Sequence[np.ndarray],
        weights: Mapping[str, np.ndarray],
        positions: np.ndarray | None = None,
    ) -> np.ndarray:
        out, _ = self.run(inputs, weights)
        return at_positions(out, positions)

    def worked_example(
        self,
        inputs: Sequence[np.ndarray],
        weights: Mapping[str, np.ndarray],
        index: tuple[int, ...] | None = None,
    ) -> WorkedExample | None:
        """Unit `j` at one step: every gate of that unit with its numbers, then `h_{t,j}`.

        The default is unit 0 at the second step computed (the first has `h_{t-1} = 0`, so its
        recurrent sums would show only zeros), or at the last step without `return_sequences`.
        """
        out, traces = self.run([a[:1] for a in inputs], weights)
        sequences = self.attrs.get("return_sequences")
        if index is None:
            index = (min(1, len(traces) - 1), 0) if sequences else (0,)
        j = index[-1]
        trace = traces[index[0]] if sequences else traces[-1]
        value = float(out[(0, *index)])
        lines = [rf"&\text{{unit }} j = {j} \text{{ at step }} t = {trace.t}:"]
        lines += self._gate_lines(trace, self.blocks(weights), j)
        return WorkedExample(index=tuple(int(i) for i in index), value=value, latex=_aligned(lines))

    def _gate_lines(self, trace: Trace, w: dict[str, np.ndarray], j: int) -> list[str]:
        """Per gate: its two sums with their numbers, then the gate's value at unit `j`."""
        act = self.attrs.get("activation", "tanh")
        gate_act = self.attrs.get("recurrent_activation", "sigmoid")
        g = numpy_activation(gate_act)
        x, h = trace.x[0], trace.h_prev[0]
        reset_after = self.attrs.get("reset_after", True)
        lines = []
        for z in GATES[self.kind]:
            sub = "" if self.kind == "SimpleRNN" else gate_sub(z)
            name = GATE_SYMBOLS[z] if sub else "h"
            fn = act if (not sub or z in ("h", "c")) else gate_act
            state, state_tex = h, "h_{t-1}"
            if self.kind == "GRU" and z == "h" and not reset_after:
                state, state_tex = (
                    g(trace.gates["r"][0]) * h,
                    r"(\Gamma^{\mathrm{r}}_t \odot h_{t-1})",
                )
            a = float(w[f"W_{z}"][j] @ x)
            b = float(w[f"U_{z}"][j] @ state)
            pre = float(trace.gates[z][0, j])
            lines.append(rf"(W{sub} x_t)_{{{j}}} &= {dot_latex(w[f'W_{z}'][j], x)}")
            lines.append(rf"(U{sub} {state_tex})_{{{j}}} &= {dot_latex(w[f'U_{z}'][j], state)}")
            if self.kind == "GRU" and z == "h" and reset_after:
                r = float(g(trace.gates["r"][0, j]))
                inner = (
                    rf"{num(a)} + {factor(w['b_h'][j])} + {factor(r)} \cdot "
                    rf"\left({num(b)} + {factor(w['bh_h'][j])}\right)"
                )
            else:
                bias = w[f"b_{z}"][j] + (w[f"bh_{z}"][j] if self.kind == "GRU" else 0.0)
                inner = rf"{num(a)} + {factor(b)} + {factor(bias)}"
            value = numpy_activation(fn)(np.array(pre))
            lines.append(
                rf"{name}_{{t,{j}}} &= {activation_latex(fn)}\!\left({inner}\right)"
                rf" = {activation_latex(fn)}\!\left({num(pre)}\right) = {num(float(value))}"
            )
        h_new = num(float(trace.h[0, j]))
        if self.kind == "LSTM":
            c_prev, c = float(trace.c_prev[0, j]), float(trace.c[0, j])
            lines.append(
                rf"C_{{t,{j}}} &= \Gamma^{{\mathrm{{f}}}}_{{t,{j}}}\, C_{{t-1,{j}}} + "
                rf"\Gamma^{{\mathrm{{i}}}}_{{t,{j}}}\, \tilde{{C}}_{{t,{j}}}"
                rf" = {num(c)} \quad \left(C_{{t-1,{j}}} = {num(c_prev)}\right)"
            )
            f = activation_latex(act)
            lines.append(
                rf"h_{{t,{j}}} &= \Gamma^{{\mathrm{{o}}}}_{{t,{j}}}\, {f}\!\left(C_{{t,{j}}}\right)"
                rf" = {h_new}"
            )
        elif self.kind == "GRU":
            lines.append(
                rf"h_{{t,{j}}} &= \Gamma^{{\mathrm{{z}}}}_{{t,{j}}}\, h_{{t-1,{j}}} + "
                rf"(1 - \Gamma^{{\mathrm{{z}}}}_{{t,{j}}})\, "
                rf"\tilde{{h}}_{{t,{j}}} = {h_new} \quad \left(h_{{t-1,{j}}} = "
                rf"{num(float(h[j]))}\right)"
            )
        return lines


def _aligned(lines: list[str]) -> str:
    return r"\begin{aligned} " + r" \\ ".join(lines) + r" \end{aligned}"
