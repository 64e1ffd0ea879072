"""Recurrent layers: SimpleRNN, GRU and LSTM, as the step equations Keras runs at each time step.

Keras keeps one input kernel (`d x g u`), one recurrent kernel (`u x g u`) and a bias for `g`
gates side by side. The equations use column vectors, like every page: a gate's pre-activation is
`W_z x_t + U_z h_{t-1} + b_z`, where `W_z` (`u x d`) is the transpose of the gate's block of kernel
columns and `U_z` (`u x u`) that of the recurrent kernel's, in Keras's gate order.
"""

from __future__ import annotations

from dataclasses import replace

from generator.layers.common import (
    AXIS_NAMES,
    aligned,
    as_tuple,
    axis_sym,
    channel_axis,
    spatial_axes,
    steps_for,
    window_output,
    with_dims,
)
from generator.layers.formula import Formula, Mul, Num, Sym, product
from generator.layers.latex_text import index_range
from generator.layers.recurrent_system import (
    GATE_SYMBOLS,
    GATES,
    RecurrentSystem,
    UncheckedEquation,
    gate_sub,
)
from generator.layers.registry import (
    LayerHandler,
    MultiShapeMath,
    ParamMath,
    ParamPart,
    ShapeMath,
    params_from_parts,
    register,
)
from generator.model.activations import activation_latex, activation_name
from generator.model.graph import LayerRecord, Shape

#: How many state tensors `return_state=True` adds to the outputs.
STATES = {"SimpleRNN": 1, "GRU": 1, "LSTM": 2}


def rnn_shapes(layer: LayerRecord, units: int, n_states: int) -> tuple[Shape, ...]:
    """The outputs of a recurrent layer: the sequence (or last step), then its states."""
    batch, steps = layer.input_shape[0], layer.input_shape[1]
    out = (batch, steps, units) if layer.attrs.get("return_sequences") else (batch, units)
    if not layer.attrs.get("return_state"):
        return (out,)
    return (out,) + ((batch, units),) * n_states


def _shape_math(shapes: tuple[Shape, ...]) -> ShapeMath:
    if len(shapes) == 1:
        return ShapeMath(shape=shapes[0])
    return MultiShapeMath(shape=shapes[0], all_shapes=shapes, note="the output, then the states")


#: The gates' printed symbols, `\\Gamma^{\\mathrm{i}}` and so on.
GI, GF, GO, GZ, GR = (GATE_SYMBOLS[g] for g in "ifozr")


def _act(value: object, inner: str) -> str:
    """`f(inner)`, or `inner` alone for a linear activation."""
    if activation_name(value) == "linear":
        return inner
    return rf"{activation_latex(value)}\!\left({inner}\right)"


def _time_range(layer: LayerRecord) -> str:
    steps = layer.input_shape[1]
    if steps is not None and steps <= 2:
        return (
            index_range("t", 0, steps - 1)
            if layer.attrs.get("go_backwards")
            else (index_range("t", steps - 1))
        )
    last = "T - 1" if steps is None else str(steps - 1)
    if layer.attrs.get("go_backwards"):
        return rf"t = {last}, \dots, 0"
    return rf"t = 0, \dots, {last}"


def _initial(layer: LayerRecord, *states: str) -> str:
    """`h_{-1} = 0`, or the states the call was given (`LSTM(...)(x, initial_state=[h, c])`)."""
    units = layer.attrs.get("units", layer.attrs.get("filters"))
    rank = len(layer.input_shape) - 1
    given = [
        ref
        for ref, s in zip(layer.inbound[1:], layer.input_shapes[1:], strict=False)
        if len(s) == rank and s[-1] == units
    ]
    if given:
        calls = {ref.rsplit(":", 1)[0] for ref in given}
        names = ", ".join(ref.replace("_", r"\_") for ref in given)
        if len(calls) == 1 and all(":" in ref for ref in given):
            call = next(iter(calls)).replace("_", r"\_")
            outputs = ", ".join(ref.rsplit(":", 1)[1] for ref in given)
            names = f"outputs {outputs} of {call}"
        return ", ".join(states) + rf" = \text{{the initial states given to the call ({names})}}"
    return " = ".join(states) + " = 0"


def _output_line(layer: LayerRecord, states: str) -> str:
    """What the layer returns: every `h_t` or the last one, and the states if asked."""
    steps = layer.input_shape[1]
    last_t = 0 if layer.attrs.get("go_backwards") else ("T - 1" if steps is None else steps - 1)
    if layer.attrs.get("return_sequences"):
        line = r"a_t &= h_t \quad \text{(every step)}"
    else:
        line = rf"a &= h_{{{last_t}}} \quad \text{{(last step)}}"
    if layer.attrs.get("return_state"):
        line += rf", \quad \text{{states }} {states} \text{{ at }} t = {last_t}"
    return line


class _Recurrent(LayerHandler):
    """Shared count, shape and equation object for layers with `g` gates of `units` each."""

    def equation(self, layer: LayerRecord) -> RecurrentSystem:
        return RecurrentSystem(layer.type, layer.attrs, self.latex(layer))

    def latex(self, layer: LayerRecord) -> str:
        raise NotImplementedError

    def gates(self, layer: LayerRecord) -> int:
        return len(GATES[layer.type])

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        return _shape_math(rnn_shapes(layer, layer.attrs["units"], STATES[layer.type]))

    def bias_vectors(self, layer: LayerRecord) -> int:
        """Bias vectors per gate: one, or two for PyTorch's `b_ih` and `b_hh` (counted both;
        the equation adds their sum, which the frontend keeps as `bias`)."""
        return 2 if layer.attrs.get("recurrent_bias") else 1

    def params(self, layer: LayerRecord) -> ParamMath:
        g = self.gates(layer)
        u = Sym(r"n_{out}", layer.attrs["units"])
        d = Sym(r"n_{in}", layer.input_shape[-1])
        gu: Formula = Mul((Num(g), u)) if g > 1 else u
        kernel = ParamPart("W", Mul((d, gu)))
        recurrent = ParamPart("U", Mul((u, gu)))
        weights = Mul((u, u + d))
        if not layer.attrs.get("use_bias", True):
            formula = Mul((Num(g), weights)) if g > 1 else weights
            return params_from_parts(kernel, recurrent, formula=formula)
        nb = self.bias_vectors(layer)
        bias_term: Formula = Mul((Num(nb), u)) if nb > 1 else u
        bias = ParamPart("b", Mul((Num(nb), gu)) if nb > 1 else gu)
        per_gate = weights + bias_term
        formula = Mul((Num(g), per_gate)) if g > 1 else per_gate
        return params_from_parts(kernel, recurrent, bias, formula=formula)

    def pre(self, layer: LayerRecord, gate: str, state: str = "h_{t-1}") -> str:
        """One gate's pre-activation: `W x_t + U h_{t-1} + b`, each with the gate's label."""
        g = gate_sub(gate)
        bias = f" + b{g}" if layer.attrs.get("use_bias", True) else ""
        return f"W{g} x_t + U{g} {state}{bias}"


@register("SimpleRNN")
class SimpleRNNHandler(_Recurrent):
    summary = "simple recurrent layer: h_t = f(W x_t + U h_{t-1} + b)"

    def latex(self, layer: LayerRecord) -> str:
        bias = " + b" if layer.attrs.get("use_bias", True) else ""
        act = layer.attrs.get("activation", "tanh")
        return aligned(
            [
                rf"h_t &= {_act(act, f'W x_t + U h_{{t-1}}{bias}')}, \quad {_time_range(layer)},"
                rf" \quad {_initial(layer, 'h_{-1}')}",
                _output_line(layer, "h"),
            ]
        )


@register("GRU")
class GRUHandler(_Recurrent):
    summary = "gated recurrent unit: update gate z, reset gate r, candidate state"

    def bias_vectors(self, layer: LayerRecord) -> int:
        return 2 if layer.attrs.get("reset_after", True) else 1

    def latex(self, layer: LayerRecord) -> str:
        gate = layer.attrs.get("recurrent_activation", "sigmoid")
        act = layer.attrs.get("activation", "tanh")
        bias = layer.attrs.get("use_bias", True)
        if layer.attrs.get("reset_after", True):
            # Two bias vectors: b^x on the input side, b^h inside the reset product.
            bx = (lambda g: f" + b^{{x}}{gate_sub(g)}") if bias else (lambda g: "")
            bh = (lambda g: f" + b^{{h}}{gate_sub(g)}") if bias else (lambda g: "")
            z = f"W{gate_sub('z')} x_t{bx('z')} + U{gate_sub('z')} h_{{t-1}}{bh('z')}"
            r = f"W{gate_sub('r')} x_t{bx('r')} + U{gate_sub('r')} h_{{t-1}}{bh('r')}"
            cand = (
                rf"W{gate_sub('h')} x_t{bx('h')} + {GR}_t \odot "
                rf"\left(U{gate_sub('h')} h_{{t-1}}{bh('h')}\right)"
            )
        else:
            z, r = self.pre(layer, "z"), self.pre(layer, "r")
            b = f" + b{gate_sub('h')}" if bias else ""
            cand = (
                rf"W{gate_sub('h')} x_t + U{gate_sub('h')} \left({GR}_t \odot h_{{t-1}}\right){b}"
            )
        return aligned(
            [
                rf"{GZ}_t &= {_act(gate, z)}, \quad {_time_range(layer)}, "
                rf"\quad {_initial(layer, 'h_{-1}')}",
                rf"{GR}_t &= {_act(gate, r)}",
                rf"\tilde{{h}}_t &= {_act(act, cand)}",
                rf"h_t &= {GZ}_t \odot h_{{t-1}} + \left(1 - {GZ}_t\right) \odot \tilde{{h}}_t",
                _output_line(layer, "h"),
            ]
        )


@register("LSTM")
class LSTMHandler(_Recurrent):
    summary = "long short-term memory: input, forget and output gates around a cell state"

    def latex(self, layer: LayerRecord) -> str:
        gate = layer.attrs.get("recurrent_activation", "sigmoid")
        act = layer.attrs.get("activation", "tanh")
        return aligned(
            [
                rf"{GI}_t &= {_act(gate, self.pre(layer, 'i'))}, \quad {_time_range(layer)},"
                rf" \quad {_initial(layer, 'h_{-1}', 'C_{-1}')}",
                rf"{GF}_t &= {_act(gate, self.pre(layer, 'f'))}",
                rf"\tilde{{C}}_t &= {_act(act, self.pre(layer, 'c'))}",
                rf"C_t &= {GF}_t \odot C_{{t-1}} + {GI}_t \odot \tilde{{C}}_t",
                rf"{GO}_t &= {_act(gate, self.pre(layer, 'o'))}",
                rf"h_t &= {GO}_t \odot {_act(act, 'C_t')}",
                _output_line(layer, "h, C"),
            ]
        )


@register("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")
class ConvLSTMHandler(LayerHandler):
    summary = "convolutional LSTM: the LSTM gates with convolutions in place of products"

    def rank(self, layer: LayerRecord) -> int:
        return int(layer.type[-2])

    def step_shape(self, layer: LayerRecord) -> Shape:
        """The shape of one time step's input, `x_t`."""
        return (layer.input_shape[0], *layer.input_shape[2:])

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        rank = self.rank(layer)
        step = self.step_shape(layer)
        kernel = as_tuple(layer.attrs["kernel_size"], rank)
        strides = as_tuple(layer.attrs.get("strides", 1), rank)
        dilations = as_tuple(layer.attrs.get("dilation_rate", 1), rank)
        padding = layer.attrs.get("padding", "valid")
        axes = spatial_axes(layer, rank)
        dims, formulas = [], []
        for axis, name, k, s, d in zip(
            axes, AXIS_NAMES[rank], kernel, strides, dilations, strict=True
        ):
            dim, formula = window_output(step[axis], k, s, d, padding, name)
            dims.append(dim)
            formulas.append(formula)
        state = with_dims(step, axes, dims, layer.attrs["filters"], layer)
        batch, steps = layer.input_shape[0], layer.input_shape[1]
        out = (batch, steps, *state[1:]) if layer.attrs.get("return_sequences") else state
        shapes = (out, state, state) if layer.attrs.get("return_state") else (out,)
        math = _shape_math(shapes)
        return replace(math, steps=steps_for(AXIS_NAMES[rank], formulas))

    def params(self, layer: LayerRecord) -> ParamMath:
        rank = self.rank(layer)
        names = AXIS_NAMES[rank]
        kernel = as_tuple(layer.attrs["kernel_size"], rank)
        window = product([Sym(axis_sym("k", a), k) for a, k in zip(names, kernel, strict=True)])
        c_in = Sym(r"c_{in}", self.step_shape(layer)[channel_axis(layer)])
        f = Sym(r"c_{out}", layer.attrs["filters"])
        parts = [
            ParamPart("W", Mul((Num(4), window, c_in, f))),
            ParamPart("U", Mul((Num(4), window, f, f))),
        ]
        per_gate: Formula = Mul((window, c_in + f, f))
        if layer.attrs.get("use_bias", True):
            parts.append(ParamPart("b", Mul((Num(4), f))))
            per_gate = per_gate + f
        return params_from_parts(*parts, formula=Mul((Num(4), per_gate)))

    def equation(self, layer: LayerRecord) -> UncheckedEquation:
        gate = layer.attrs.get("recurrent_activation", "sigmoid")
        act = layer.attrs.get("activation", "tanh")
        bias = layer.attrs.get("use_bias", True)

        def pre(g: str) -> str:
            s = gate_sub(g)
            return rf"W{s} \star x_t + U{s} \star h_{{t-1}}" + (f" + b{s}" if bias else "")

        return UncheckedEquation(
            aligned(
                [
                    rf"{GI}_t &= {_act(gate, pre('i'))}, \quad {_time_range(layer)},"
                    rf" \quad {_initial(layer, 'h_{-1}', 'C_{-1}')}",
                    rf"{GF}_t &= {_act(gate, pre('f'))}",
                    rf"\tilde{{C}}_t &= {_act(act, pre('c'))}",
                    rf"C_t &= {GF}_t \odot C_{{t-1}} + {GI}_t \odot \tilde{{C}}_t",
                    rf"{GO}_t &= {_act(gate, pre('o'))}",
                    rf"h_t &= {GO}_t \odot {_act(act, 'C_t')}",
                    r"&\star: \text{multi-channel convolution, summing over the window and every "
                    r"input channel; } U \star \text{ with stride 1 and same padding}",
                    _output_line(layer, "h, C"),
                ]
            )
        )
