"""From a `ModelGraph` to PyTorch source: one `nn.Module` class per (nested) model, its state."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generator.model.graph import LayerRecord, ModelGraph, Shape, reference
from generator.torch.registry import (
    CF,
    CL,
    LayerContext,
    Layout,
    Registered,
    Result,
    TranslationError,
    Value,
    convert,
    translated_layers,
    translation_for,
)

# Names a generated attribute or variable must not take (nn.Module's own, the imports').
_RESERVED = set(keyword.kwlist) | {
    "self",
    "torch",
    "nn",
    "F",
    "np",
    "h",
    "forward",
    "training",
    "train",
    "eval",
    "to",
    "cpu",
    "cuda",
    "type",
    "float",
    "double",
    "half",
    "apply",
    "parameters",
    "buffers",
    "children",
    "modules",
    "state_dict",
    "load_state_dict",
    "zero_grad",
    "register_buffer",
    "add_module",
    "extra_repr",
    "named_modules",
    "requires_grad_",
    "bfloat16",
    "load",
    "dump_patches",
}


@dataclass(frozen=True)
class LayerCount:
    """One layer's parameter counts: Keras's, and PyTorch's parameters and buffers."""

    name: str
    type: str
    keras: int
    torch_params: int
    torch_buffers: int


@dataclass(frozen=True)
class TorchClass:
    """A generated `nn.Module` class: its source and the state dict that carries the weights."""

    name: str
    source: str
    state: dict[str, Any]
    buffers: frozenset[str]
    input_layouts: tuple[Layout, ...]
    output_layouts: tuple[Layout, ...]
    input_shapes: tuple[Shape, ...]
    output_shapes: tuple[Shape, ...]
    counts: tuple[LayerCount, ...]

    @property
    def params(self) -> int:
        return sum(int(np.prod(a.shape)) for k, a in self.state.items() if k not in self.buffers)


@dataclass
class _Program:
    """What the translation of a whole model collects: nested classes and helpers, in order."""

    classes: dict[str, TorchClass] = field(default_factory=dict)
    helpers: dict[str, None] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)


def identifier(name: str) -> str:
    """A layer name as a Python identifier that clashes with nothing `nn.Module` has."""
    text = re.sub(r"\W", "_", name)
    if not text or text[0].isdigit():
        text = "_" + text
    return text + "_" if text in _RESERVED else text


def class_name(name: str) -> str:
    """`simple_cnn` -> `SimpleCnn`; a name Keras uses for its own classes gets `Net` appended."""
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", name) if p]
    text = "".join(p[:1].upper() + p[1:] for p in parts) or "Net"
    if text[0].isdigit():
        text = "Net" + text
    if text in ("Sequential", "Functional", "Model", "Module") or keyword.iskeyword(text):
        text += "Net"
    return text


def torch_shape(shape: Shape, layout: Layout) -> str:
    """A Keras shape in PyTorch's order, batch as N: `(N, 3, 32, 32)`."""
    dims = ["N" if d is None else str(d) for d in shape]
    if layout.kind == "cf" and len(dims) > 2:
        dims = [dims[0], dims[-1], *dims[1:-1]]
    return f"({', '.join(dims)})"


def _output_layout(value: Value) -> Layout:
    """Model outputs: channels first from rank 4 on, vectors plain, sequences as they are."""
    if value.rank >= 4:
        return CF
    if value.rank <= 2:
        return CL
    return Layout(value.layout.kind)


def _wrap(statement: str, width: int = 92) -> str:
    """A long one-line constructor call with its arguments on a line of their own."""
    if "\n" in statement or len(statement) <= width or not statement.endswith(")"):
        return statement
    head, _, args = statement.partition("(")
    return f"{head}(\n    {args[:-1]}\n)"


def translate_graph(graph: ModelGraph, program: _Program | None = None) -> TorchClass:
    """Translate one (possibly nested) model into a class; nested ones land in `program`."""
    program = program if program is not None else _Program()
    return _GraphTranslator(graph, program).run()


class _GraphTranslator:
    def __init__(self, graph: ModelGraph, program: _Program) -> None:
        self.graph, self.program = graph, program
        self.chain = graph.is_chain
        self.names: set[str] = set()
        self.env: dict[str, Value] = {}
        self.init: list[str] = []
        self.forward: list[str] = []
        self.state: dict[str, Any] = {}
        self.buffers: set[str] = set()
        self.attrs: set[str] = set()
        self.counts: dict[str, LayerCount] = {}
        self.nested_classes: dict[str, TorchClass] = {}

    def variable(self, name: str) -> str:
        if self.chain:
            return "x"
        text, n = identifier(name), 1
        while text in self.names:
            n += 1
            text = f"{identifier(name)}_{n}"
        self.names.add(text)
        return text

    def run(self) -> TorchClass:
        graph = self.graph
        for tensor in graph.inputs:
            layout = self.input_layout(tensor.name, tensor.shape)
            self.env[tensor.name] = Value(self.variable(tensor.name), tensor.shape, layout)
        for record in graph.layers:
            self.layer(record)
        outputs = [self.env[t.name] for t in graph.outputs]
        out_layouts = tuple(_output_layout(v) for v in outputs)
        returned = ", ".join(convert(v, lay) for v, lay in zip(outputs, out_layouts, strict=True))
        inputs = [self.env[t.name] for t in graph.inputs]
        name = self.class_name()
        source = self.source(name, inputs, outputs, out_layouts, returned)
        torch_class = TorchClass(
            name=name,
            source=source,
            state=self.state,
            buffers=frozenset(self.buffers),
            input_layouts=tuple(v.layout for v in inputs),
            output_layouts=out_layouts,
            input_shapes=tuple(v.shape for v in inputs),
            output_shapes=tuple(v.shape for v in outputs),
            counts=tuple(self.counts.values()),
        )
        self.program.classes[name] = torch_class
        return torch_class

    def class_name(self) -> str:
        name, n = class_name(self.graph.name), 1
        base = name
        while name in self.program.names:
            n += 1
            name = f"{base}{n}"
        self.program.names.add(name)
        return name

    def input_layout(self, name: str, shape: Shape) -> Layout:
        """Images and volumes come channels first (unless every reader wants Keras's order, as
        TimeDistributed does); a sequence comes channels first if a convolution reads it."""
        if len(shape) <= 2:
            return CL
        wants = []
        for record in self.graph.layers:
            if name in record.inbound_calls and record.children is None:
                entry = translation_for(record.type)
                wants.append(entry.wants if entry is not None else None)
        if len(shape) >= 4:
            return CL if wants and all(w == CL for w in wants) else CF
        return CF if CF in wants else CL

    def layer(self, record: LayerRecord) -> None:
        inputs = [self.env[name] for name in record.inbound]
        out = self.variable(record.name)
        # A shared layer's calls use one module, named after the layer.
        attr = identifier(record.layer_name)
        ctx = LayerContext(record, inputs, attr, out, self.graph.weight_values)
        if record.children is not None:
            result = self.nested(ctx)
        else:
            entry = translation_for(record.type)
            if entry is None:
                raise TranslationError(
                    f"layer {record.name!r} ({record.type}) has no PyTorch translation; "
                    f"translated types: {', '.join(translated_layers())}"
                )
            result = entry.function(ctx)
        self.program.helpers.update(ctx.helpers)
        self.register(record, ctx.modules)
        self.forward.extend(ctx.lines)
        if len(record.output_shapes) > 1:
            self.outputs(record, out, result)
            return
        if result.expr != out and (ctx.lines or result.expr not in {v.expr for v in inputs}):
            self.forward.append(f"{out} = {result.expr}")
        elif result.expr != out:
            out = result.expr  # the identity at inference: the output is the input
        self.env[record.name] = Value(out, record.output_shape, result.layout)

    def outputs(self, record: LayerRecord, out: str, result: Result) -> None:
        """A call with several outputs: its translation returns them as a tuple, unpacked here."""
        names = [out if k == 0 else f"{out}_{k}" for k in range(len(record.output_shapes))]
        self.names.update(names)
        self.forward.append(f"{', '.join(names)} = {result.expr}")
        for k, (name, shape) in enumerate(zip(names, record.output_shapes, strict=True)):
            self.env[reference(record.name, k, len(names))] = Value(name, shape, result.layout)

    def nested(self, ctx: LayerContext) -> Result:
        child = self.nested_classes.get(ctx.record.layer_name)  # a shared nested model
        if child is None:
            child = translate_graph(ctx.record.children, self.program)
            self.nested_classes[ctx.record.layer_name] = child
        args = ", ".join(ctx.input(i, lay) for i, lay in enumerate(child.input_layouts))
        state = {k: v for k, v in child.state.items()}
        ctx.modules.append(
            Registered(ctx.record.name, ctx.attr, f"{child.name}()", state, child.buffers)
        )
        return Result(f"self.{ctx.attr}({args})", child.output_layouts[0])

    def register(self, record: LayerRecord, modules: list[Registered]) -> None:
        params = buffers = 0
        for module in modules:
            params += module.params
            buffers += module.buffer_values
            if module.attr in self.attrs:
                continue  # a shared layer: one module, called again
            self.attrs.add(module.attr)
            if record.children is not None:
                self.init.append(f"# Keras: the nested model {record.name!r}")
            else:
                self.init.append(f"# Keras: {record.code}" if record.code else f"# {record.type}")
            self.init.append(_wrap(f"self.{module.attr} = {module.constructor}"))
            for key, value in module.state.items():
                self.state[f"{module.attr}.{key}"] = value
            self.buffers.update(f"{module.attr}.{key}" for key in module.buffers)
        if record.layer_name not in self.counts:
            self.counts[record.layer_name] = LayerCount(
                record.name, record.type, record.framework_params, params, buffers
            )

    def source(
        self,
        name: str,
        inputs: list[Value],
        outputs: list[Value],
        out_layouts: tuple[Layout, ...],
        returned: str,
    ) -> str:
        shapes_in = ", ".join(torch_shape(v.shape, v.layout) for v in inputs)
        shapes_out = ", ".join(
            torch_shape(v.shape, lay) for v, lay in zip(outputs, out_layouts, strict=True)
        )
        lines = [
            f"class {name}(nn.Module):",
            f'    """Keras model {self.graph.name!r} in PyTorch: {shapes_in} -> {shapes_out}."""',
            "",
            "    def __init__(self):",
            "        super().__init__()",
            *(f"        {line}" for text in self.init for line in text.split("\n")),
            "",
            f"    def forward(self, {', '.join(v.expr for v in inputs)}):",
            *(f"        {line}" for line in self.forward),
            f"        return {returned}",
        ]
        return "\n".join(lines) + "\n"
