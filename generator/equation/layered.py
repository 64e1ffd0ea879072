r"""The layered form `f = f_L \circ \dots \circ f_1`, and how big the expansion would be."""

from __future__ import annotations

from math import prod

from generator.layers.derive import DerivedModel
from generator.model.graph import ModelGraph

POOLING = ("MaxPooling", "AveragePooling")
RECURRENT = ("RNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed")


def _text(name: str) -> str:
    return name.replace("_", r"\_")


def layered_latex(math: DerivedModel) -> str:
    """The composition, then each `f_l` as its layer's equation from the engine."""
    n = len(math.layers)
    if n <= 4:
        chain = r" \circ ".join(f"f_{{{i}}}" for i in range(n, 0, -1))
    else:
        chain = rf"f_{{{n}}} \circ f_{{{n - 1}}} \circ \dots \circ f_{{1}}"
    lines = [rf"f &= {chain}" if n else "f &= \\mathrm{id}"]
    for i, layer in enumerate(math.layers, start=1):
        record = layer.record
        body = layer.equation_latex or rf"\text{{(no equation known for {_text(record.type)})}}"
        # The layer's name sits under its f_l, so the row is no wider than its equation.
        lines.append(rf"\underset{{\text{{{_text(record.name)}}}}}{{f_{{{i}}}}} &: \quad {body}")
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


def rough_ops(graph: ModelGraph) -> int | None:
    """About how many operations one output's expression would have, written out.

    Each unit of a layer with a kernel sums `fan_in` products of its inputs' expressions; a
    pooling window combines `prod(pool_size)` of them. `None` for recurrent layers, whose
    expansion grows with every time step.
    """
    ops: dict[str, int] = {t.name: 0 for t in graph.inputs}
    last = 0
    for layer in graph.layers:
        if any(word in layer.type for word in RECURRENT) or layer.children is not None:
            return None
        inbound = [ops.get(name, 0) for name in layer.inbound] or [0]
        x = max(inbound)
        kernel = next(
            (w for w in layer.weights if w.name.split("/")[-1] in ("kernel", "depthwise_kernel")),
            None,
        )
        if len(inbound) > 1:
            out = sum(inbound) + len(inbound) - 1
        elif kernel is not None:
            fan_in = prod(kernel.shape[:-1])
            if kernel.name.endswith("depthwise_kernel"):
                fan_in = prod(kernel.shape[:-2])
            out = fan_in * (x + 2) + 1
        elif layer.type.startswith(POOLING):
            window = layer.config.get("pool_size") or [2]
            fan = prod(window) if isinstance(window, list) else window
            out = fan * (x + 1)
        elif layer.type.startswith("Global"):
            fan = prod(d for d in layer.input_shape[1:-1] if d)
            out = fan * (x + 1)
        else:
            out = x + 1
        ops[layer.name] = out
        last = out
    outputs = [ops.get(name, last) for name in graph.output_layers] or [last]
    return sum(outputs)


def count_text(n: int | None) -> str:
    """`5,430`, or `about 10^{42}` (in `$...$`) for counts too big to read digit by digit."""
    if n is None:
        return "an unbounded number of"
    if n < 10**7:
        return f"{n:,}"
    return f"about $10^{{{len(str(n)) - 1}}}$"
