"""Keras code that rebuilds a model from the IR: `keras.Sequential([...])` for a chain made as
one, the functional API (`h = layers.Conv2D(...)(x)`, `keras.Model(inputs, outputs)`) otherwise.

Each call's constructor is the line the frontend kept (`LayerRecord.code`, Keras's config without
its defaults); this module adds the wiring: an `Input` per model input with its name, one line per
call naming the tensors it reads, a shared layer defined once and called on each of its inputs,
several outputs unpacked, a nested model built before the call that uses it. Initializers,
regularizers and constraints are not on the code lines, so the rebuilt model has Keras's defaults
for them; everything that decides shapes, counts and the computation is there.
"""

from __future__ import annotations

import json
import keyword
import re

from generator.model.graph import LayerRecord, ModelGraph, TensorRef

#: A class being constructed in a code line (`Conv2D(`, `LSTM(` inside `Bidirectional(...)`).
_CONSTRUCTOR = re.compile(r"(?<![\w.\"'])([A-Z]\w*)\(")
#: Names the generated code uses for itself, never given to a tensor.
_RESERVED = {"keras", "layers", "ops", "model", "inputs", "outputs"}
#: The IR's types of a nested model.
_MODELS = ("Sequential", "Functional", "Model")


def keras_code(graph: ModelGraph) -> str:
    """The Python source that rebuilds `graph` as a Keras model named `model`."""
    lines = _Writer().model(graph, "model")
    header = ["import keras", "from keras import layers"]
    if any(re.search(r"\bops\.", line) for line in lines):
        header.append("from keras import ops")
    return "\n".join([*header, "", *lines])


class _Writer:
    """Writes one model's lines; its variable names stay unique across nested models."""

    def __init__(self) -> None:
        self.taken: set[str] = set(_RESERVED)

    def variable(self, name: str) -> str:
        """A fresh Python name made from a layer or tensor name (`conv2d_1`, `dense_at_1`)."""
        base = re.sub(r"\W", "_", name.replace("@", "_at_")).strip("_") or "t"
        if base[0].isdigit() or keyword.iskeyword(base):
            base = f"t_{base}"
        candidate, k = base, 1
        while candidate in self.taken:
            candidate, k = f"{base}_{k}", k + 1
        self.taken.add(candidate)
        return candidate

    def model(self, graph: ModelGraph, target: str) -> list[str]:
        if graph.type == "Sequential" and graph.is_chain and not _nested(graph):
            return self.sequential(graph, target)
        return self.functional(graph, target)

    def sequential(self, graph: ModelGraph, target: str) -> list[str]:
        items = [_input_line(graph.inputs[0].shape)]
        items += [_constructor(record.code) for record in graph.layers]
        body = "".join(f"        {item},\n" for item in items)
        return [
            f"{target} = keras.Sequential(\n    [\n{body}    ],\n    name={_string(graph.name)},\n)"
        ]

    def functional(self, graph: ModelGraph, target: str) -> list[str]:
        lines: list[str] = []
        tensors: dict[str, str] = {}  # a tensor reference -> its variable
        for tensor in graph.inputs:
            var = tensors[tensor.name] = self.variable(tensor.name)
            lines.append(f"{var} = {_input_line(tensor.shape, tensor.name)}")
        sharers = {record.shares for record in graph.layers if record.shares}
        callables: dict[str, str] = {}  # a shared layer's (or nested model's) name -> variable
        for record in graph.layers:
            owner = record.layer_name
            if owner not in callables and (owner in sharers or _is_model(record)):
                var = callables[owner] = self.variable(f"{owner}_layer")
                if _is_model(record):
                    lines += self.model(record.children, var)
                else:
                    lines.append(f"{var} = {_named(record)}")
            outputs = [self.variable(_output_name(record, k)) for k in range(_n_out(record))]
            for k, var in enumerate(outputs):
                tensors[str(TensorRef(record.name, k, len(outputs)))] = var
            target_vars = ", ".join(outputs)
            if record.type.startswith("ops."):
                lines.append(f"{target_vars} = {_operation(record, tensors)}")
                continue
            made = callables.get(owner) or _named(record)
            lines.append(f"{target_vars} = {made}{_arguments(record, tensors)}")
        ins = [tensors[t.name] for t in graph.inputs]
        outs = [tensors[str(t.name)] for t in graph.outputs]
        lines.append(
            f"{target} = keras.Model({_one_or_list(ins)}, {_one_or_list(outs)}, "
            f"name={_string(graph.name)})"
        )
        return lines


def _nested(graph: ModelGraph) -> bool:
    return any(_is_model(record) or record.shares for record in graph.layers)


def _is_model(record: LayerRecord) -> bool:
    return record.children is not None and record.type in _MODELS


def _n_out(record: LayerRecord) -> int:
    return max(1, len(record.output_shapes))


def _output_name(record: LayerRecord, k: int) -> str:
    if k == 0:
        return record.name
    label = record.output_names[k] if k < len(record.output_names) else f"output {k}"
    return f"{record.name}_{label}"


def _input_line(shape: tuple, name: str = "") -> str:
    dims = tuple(shape[1:])
    text = f"keras.Input(shape={dims!r}" + (f", name={_string(name)}" if name else "")
    return text + ")"


def _constructor(code: str) -> str:
    """The code line with each layer class taken from `keras.layers`."""
    return _CONSTRUCTOR.sub(r"layers.\1(", code)


def _named(record: LayerRecord) -> str:
    """The layer's constructor with its name: `layers.Dense(8, name="dense")`."""
    code = _constructor(record.code or f"{record.type}()")
    name = f"name={_string(record.layer_name)}"
    if code.endswith("()"):
        return code[:-1] + name + ")"
    return code[:-1] + ", " + name + ")"


def _arguments(record: LayerRecord, tensors: dict[str, str]) -> str:
    """The call's parentheses: `(x)`, `([a, b])` for a merge, keywords where Keras had them."""
    names = [tensors[str(ref)] for ref in record.inbound]
    roles = record.attrs.get("input_roles") or ()
    if len(roles) == len(names) and roles:
        grouped: dict[str, list[str]] = {}
        for role, var in zip(roles, names, strict=True):
            grouped.setdefault(role, []).append(var)
        # The first group is the call's first parameter: positional, as Keras's examples write.
        args = [
            _one_or_list(vars_) if i == 0 else f"{role}={_one_or_list(vars_)}"
            for i, (role, vars_) in enumerate(grouped.items())
        ]
        return f"({', '.join(args)})"
    return f"({_one_or_list(names)})"


def _operation(record: LayerRecord, tensors: dict[str, str]) -> str:
    """A `keras.ops` call between tensors: `ops.add(conv2d, 3.0)`."""
    tensor_args = iter(tensors[str(ref)] for ref in record.inbound)
    operands = record.attrs.get("operands", [])
    args = [next(tensor_args, "None") if value is None else repr(value) for value in operands]
    args += [
        f"{key}={value!r}"
        for key, value in record.attrs.items()
        if key not in ("operands", "layout", "input_roles")
    ]
    return f"{record.type}({', '.join(args)})"


def _string(text: str) -> str:
    """A Python string literal in double quotes, as the code lines write theirs."""
    return json.dumps(text)


def _one_or_list(names: list[str]) -> str:
    return names[0] if len(names) == 1 else "[" + ", ".join(names) + "]"
