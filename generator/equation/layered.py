r"""The layered form: each layer call as a step `a^{(l)} = f_l(\dots)` naming its inputs.

A chain (one input, each call reading the one before) is written `f = f_L \circ \dots \circ
f_1`; a model with branches, shared layers, states or several inputs is written step by step,
`a^{(16)} = f_{16}(a^{(9)})`, `a^{(20)} = a^{(19)} + a^{(12)}`, never as one chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from generator.layers.common import aligned
from generator.layers.derive import DerivedLayer, DerivedModel
from generator.layers.nested import text_name
from generator.model.graph import LayerRecord, ModelGraph, as_ref

POOLING = ("MaxPooling", "AveragePooling")
RECURRENT = ("RNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed")

#: Calls written as an operation on their inputs, not as `f_l(...)`: LaTeX joining the operands.
_INFIX = {
    "Add": " + ",
    "ops.add": " + ",
    "Subtract": " - ",
    "ops.subtract": " - ",
    "Multiply": r" \odot ",
    "ops.multiply": r" \odot ",
}


@dataclass(frozen=True)
class Step:
    """One call in the layered form: its name, its inputs (references) and its LaTeX line."""

    layer: str
    inputs: tuple[str, ...]
    latex: str

    def to_json(self) -> dict:
        return {"layer": self.layer, "inputs": list(self.inputs), "latex": self.latex}


class _Names:
    """The LaTeX symbol of each tensor: `x` (or `x_{\text{name}}`), `a^{(l)}`, and
    `a^{(l)}_{\text{state h}}` for a further output of a call."""

    def __init__(self, graph: ModelGraph) -> None:
        self.symbols: dict[str, str] = {}
        for tensor in graph.inputs:
            single = len(graph.inputs) == 1
            name = text_name(tensor.name)
            self.symbols[tensor.name] = "x" if single else rf"x_{{\text{{{name}}}}}"
        self.records = {layer.name: (i, layer) for i, layer in enumerate(graph.layers, start=1)}

    def __call__(self, ref: str) -> str:
        if ref in self.symbols:
            return self.symbols[ref]
        ref = as_ref(ref)
        call, k = ref.call, ref.output
        if call not in self.records:
            return rf"\text{{{text_name(ref)}}}"
        index, record = self.records[call]
        if ref == call or k == 0:
            return f"a^{{({index})}}"
        label = record.output_names[k] if k < len(record.output_names) else str(k)
        return rf"a^{{({index})}}_{{\text{{{label}}}}}"

    def outputs(self, index: int, record: LayerRecord) -> str:
        n = len(record.output_shapes)
        if n == 1:
            return f"a^{{({index})}}"
        refs = [f"{record.name}:{k}" for k in range(n)]
        return r"\left(" + ", ".join(self(r) for r in refs) + r"\right)"


def layered_steps(math: DerivedModel) -> tuple[Step, ...]:
    """Each call as `a^{(l)} = f_l(inputs)` (or `a + b` for an addition), inputs by name."""
    graph = math.graph
    names = _Names(graph)
    steps = []
    for i, layer in enumerate(math.layers, start=1):
        record = layer.record
        args = [names(ref) for ref in record.inbound]
        # A shared layer's later call is the same function as its first: `f_5` again.
        f = names.records[record.shares][0] if record.shares in names.records else i
        operator = _INFIX.get(record.type)
        if operator and len(args) > 1 and all(a is None for a in record.attrs.get("operands", [])):
            body = operator.join(args)
        else:
            body = f"f_{{{f}}}({', '.join(args)})"
        steps.append(Step(record.name, record.inbound, f"{names.outputs(i, record)} = {body}"))
    return tuple(steps)


def _model_line(graph: ModelGraph, names: _Names) -> str:
    args = ", ".join(names(t.name) for t in graph.inputs)
    outs = [names(t.name) for t in graph.outputs]
    value = outs[0] if len(outs) == 1 else r"\left(" + ", ".join(outs) + r"\right)"
    return f"f({args}) &= {value}"


def layered_latex(math: DerivedModel) -> str:
    """The composition (a chain) or the steps (any other graph), then each `f_l` as its layer's
    equation from the engine."""
    n = len(math.layers)
    graph = math.graph
    if graph.is_chain or not n:
        if n <= 4:
            chain = r" \circ ".join(f"f_{{{i}}}" for i in range(n, 0, -1))
        else:
            chain = rf"f_{{{n}}} \circ f_{{{n - 1}}} \circ \dots \circ f_{{1}}"
        lines = [rf"f &= {chain}" if n else "f &= \\mathrm{id}"]
    else:
        lines = [step.latex.replace(" = ", " &= ", 1) for step in layered_steps(math)]
        lines.append(_model_line(graph, _Names(graph)))
    for i, layer in enumerate(math.layers, start=1):
        if not layer.record.shares:  # a shared layer's later call: the function defined first
            lines.append(definition_line(i, layer))
    return aligned(lines, "\n")


def definition_line(index: int, layer: DerivedLayer) -> str:
    """The row defining `f_l` by its layer's equation, the layer's name under `f_l`."""
    record = layer.record
    body = layer.equation_latex or rf"\text{{(no equation known for {text_name(record.type)})}}"
    # The layer's name sits under its f_l, so the row is no wider than its equation.
    return rf"\underset{{\text{{{text_name(record.name)}}}}}{{f_{{{index}}}}} &: \quad {body}"


def rough_ops(graph: ModelGraph) -> int | None:
    """About how many operations one output's expression would have, written out.

    Each unit of a layer with a kernel sums `fan_in` products of its inputs' expressions; a
    pooling window combines `prod(pool_size)` of them; a recurrent layer repeats its step once
    per time step. `None` when a sequence has no fixed length: the expansion is unbounded.
    """
    ops: dict[str, int] = {t.name: 0 for t in graph.inputs}
    last = 0
    for layer in graph.layers:
        inbound = [ops.get(name, 0) for name in layer.inbound_calls] or [0]
        x = max(inbound)
        if layer.children is not None:
            inner = rough_ops(layer.children)
            if inner is None:
                return None
            ops[layer.name] = last = x + inner
            continue
        if any(word in layer.type for word in RECURRENT):
            steps = _recurrent_ops(layer, x)
            if steps is None:
                return None
            ops[layer.name] = last = steps
            continue
        kernel = next(
            (w for w in layer.weights if w.role in ("kernel", "depthwise_kernel")),
            None,
        )
        if len(inbound) > 1:
            out = sum(inbound) + len(inbound) - 1
        elif kernel is not None:
            fan_in = prod(kernel.shape[:-1])
            if kernel.role == "depthwise_kernel":
                fan_in = prod(kernel.shape[:-2])
            out = fan_in * (x + 2) + 1
        elif layer.type.startswith(POOLING):
            out = prod(layer.attrs["pool_size"]) * (x + 1)
        elif layer.type.startswith("Global"):
            fan = prod(d for d in layer.input_shape[1:-1] if d)
            out = fan * (x + 1)
        else:
            out = x + 1
        ops[layer.name] = out
        last = out
    outputs = [ops.get(as_ref(name).call, last) for name in graph.output_layers] or [last]
    return sum(outputs)


def _recurrent_ops(layer: LayerRecord, x: int) -> int | None:
    """A recurrent layer's expansion: each step reads the input and the previous state."""
    steps = layer.input_shape[1] if len(layer.input_shape) > 2 else None
    kernel, recurrent = layer.weight_by_role("kernel"), layer.weight_by_role("recurrent_kernel")
    if steps is None or kernel is None or recurrent is None:
        return None
    # A kernel's last axis holds every gate's units; a ConvLSTM's kernels are windows.
    fan_in, fan_state = prod(kernel.shape[:-1]), prod(recurrent.shape[:-1])
    gates = max(1, kernel.shape[-1] // max(recurrent.shape[-2], 1))
    state = 0
    for _ in range(steps):
        state = gates * (fan_in * (x + 2) + fan_state * (state + 2) + 1)
    return state


def count_text(n: int | None) -> str:
    """`5,430`, or `about 10^{42}` (in `$...$`) for counts too big to read digit by digit."""
    if n is None:
        return "an unbounded number of"
    if n < 10**7:
        return f"{n:,}"
    return f"about $10^{{{len(str(n)) - 1}}}$"
