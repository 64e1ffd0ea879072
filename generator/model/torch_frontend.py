"""The PyTorch frontend: a `torch.export` program becomes a `ModelGraph` of layer records.

The exported graph is a list of ATen calls; each node's `meta["nn_module_stack"]` says which
module calls it ran inside. The ATen nodes of one call of a known leaf module (`nn.Conv2d`, and
`nn.LSTM` or `nn.MultiheadAttention` with everything they decompose into) become one record named
after the module (`layer1.0.conv1`; its second call `layer1.0.conv1@1`, sharing the first's
weights). Every other node is a functional call (`F.relu`, `x + y`, `torch.cat`), a record of its
own named after the node. A node nothing here knows stays an opaque record of type `aten.<op>`
(or `nn.<Module>` for an unknown leaf module) with its shapes and no handler; `unsupported_calls`
lists them with their ATen targets.

Shapes are PyTorch's own (channels first) with the batch axis (dim 0) as `None`. Counts:
`framework_params` is the `numel()` of the module's parameters and buffers, except BatchNorm's
`num_batches_tracked` (Keras counts the moving mean and variance, as non-trainable weights, and
has no step counter); `framework_trainable` counts the parameters that require a gradient.
torch is imported lazily: only `load_exported` and the probe need it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from generator.model.graph import LayerRecord, ModelGraph, TensorRecord, TensorRef, WeightRecord
from generator.model.torch_archive import load_exported  # noqa: F401 - the frontend's entry
from generator.model.torch_attrs import (
    PASS_THROUGH,
    PLUMBING,
    TRANSLATORS,
    Translation,
    Weight,
    aten_target,
    op_name,
    shape_of,
)
from generator.model.torch_layers import MODULE_TRANSLATORS
from generator.model.torch_ops import functional

#: Modules read as one call each (by class name), whatever ATen ops they decompose into.
LEAF_MODULES = frozenset(
    {
        *(f"Conv{n}d" for n in (1, 2, 3)),
        *(f"ConvTranspose{n}d" for n in (1, 2, 3)),
        "Linear", "NonDynamicallyQuantizableLinear", "Bilinear",
        *(f"{k}Pool{n}d" for k in ("Max", "Avg", "AdaptiveAvg", "AdaptiveMax") for n in (1, 2, 3)),
        *(f"BatchNorm{n}d" for n in (1, 2, 3)),
        "LayerNorm", "RMSNorm", "GroupNorm", "Embedding",
        "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "Identity",
        "ReLU", "ReLU6", "LeakyReLU", "ELU", "GELU", "SiLU", "Sigmoid", "Tanh", "Hardswish",
        "Hardsigmoid", "Mish", "SELU", "Softplus", "Softmax", "LogSoftmax", "Hardtanh",
        "Flatten", "Unflatten",
        "RNN", "GRU", "LSTM", "MultiheadAttention",
    }
)  # fmt: skip
#: torch.nn classes that only hold other modules: their nodes are read one by one.
CONTAINERS = frozenset(
    {
        "Sequential", "ModuleList", "ModuleDict", "TransformerEncoderLayer", "TransformerEncoder",
        "TransformerDecoderLayer", "TransformerDecoder", "Transformer",
    }
)  # fmt: skip
NOT_COUNTED_BUFFERS = ("num_batches_tracked",)


@dataclass
class ExportedCall:
    """One call as the exported graph holds it: its name, module, ATen nodes and tensors."""

    name: str
    module: str  # the module's qualified name, "" for a functional call
    module_class: str
    nodes: list[Any]
    inputs: list[Any] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)

    @property
    def main(self) -> Any:
        """The node that does the call's work: its one op that is not plumbing."""
        working = [n for n in self.nodes if op_name(n) not in PLUMBING and "pad" not in op_name(n)]
        working = working or [n for n in self.nodes if op_name(n) not in PLUMBING]
        return working[0] if working else self.nodes[0]

    def first(self, *ops: str) -> Any | None:
        return next((n for n in self.nodes if op_name(n) in ops), None)


class _View:
    """What a translator reads of one call: its nodes and the program's tensors."""

    def __init__(self, call: ExportedCall, program: _Program):
        self.call, self.program = call, program
        self.nodes, self.main, self.first = call.nodes, call.main, call.first

    def tensor(self, node: Any) -> Any:
        return self.program.tensor(node)

    def weight(self, name: str, node: Any, transform=None, trainable: bool | None = None) -> Weight:
        tensor = self.program.tensor(node)
        value = transform(tensor.detach()) if transform else tensor.detach()
        trains = bool(getattr(tensor, "requires_grad", False)) if trainable is None else trainable
        return Weight(name, lambda: value, tuple(int(d) for d in value.shape), trains)


class _Program:
    """The exported program's placeholders sorted into user inputs and state."""

    def __init__(self, ep: Any):
        self.ep = ep
        signature = ep.graph_signature
        self.state = {
            **signature.inputs_to_parameters,
            **signature.inputs_to_buffers,
            **signature.inputs_to_lifted_tensor_constants,
        }
        self.parameters = dict(signature.inputs_to_parameters)
        nodes = list(ep.graph_module.graph.nodes)
        self.placeholders = [n for n in nodes if n.op == "placeholder"]
        self.user_inputs = [n for n in self.placeholders if n.name not in self.state]
        self.functions = [n for n in nodes if n.op == "call_function"]
        self.output = next(n for n in nodes if n.op == "output")

    def is_state(self, node: Any) -> bool:
        return getattr(node, "op", None) == "placeholder" and node.name in self.state

    def tensor(self, node: Any) -> Any:
        fqn = self.state[node.name]
        if fqn in self.ep.state_dict:
            return self.ep.state_dict[fqn]
        return self.ep.constants[fqn]

    def module_tensors(self, module: str) -> list[tuple[str, Any]]:
        """The module's parameters and buffers (qualified name, tensor), as `named_parameters`."""
        prefix = module + "."
        found = {**self.ep.state_dict, **self.ep.constants}
        return [(k, v) for k, v in found.items() if k.startswith(prefix) and hasattr(v, "numel")]


def _owner(node: Any) -> tuple[str, str, str] | None:
    """`(call key, module name, class)` of the leaf module call a node belongs to, if any."""
    stack = list((node.meta.get("nn_module_stack") or {}).items())[1:]  # [0] is the root
    for key, (path, cls) in stack:
        if cls.rsplit(".", 1)[-1] in LEAF_MODULES:
            return key, path, cls.rsplit(".", 1)[-1]
    if stack:
        key, (path, cls) = stack[-1]
        short = cls.rsplit(".", 1)[-1]
        if cls.startswith("torch.nn.") and short not in CONTAINERS:
            return key, path, short  # an unknown torch.nn leaf: one opaque call
    return None


def exported_calls(ep: Any) -> list[ExportedCall]:
    """The program's calls in graph order, each with the tensor nodes it reads and returns."""
    program = _Program(ep)
    calls: dict[str, ExportedCall] = {}
    counts: dict[str, int] = {}
    for node in program.functions:
        owner = _owner(node)
        if owner is None:
            calls[node.name] = ExportedCall(node.name, "", "", [node])
            continue
        key, path, cls = owner
        if key not in calls:
            index = counts.get(path, 0)
            counts[path] = index + 1
            calls[key] = ExportedCall(path if index == 0 else f"{path}@{index}", path, cls, [])
        calls[key].nodes.append(node)
    ordered = list(calls.values())
    for call in ordered:
        inside = {id(n) for n in call.nodes}
        for node in call.nodes:
            for arg in node.all_input_nodes:
                if id(arg) not in inside and not program.is_state(arg) and arg not in call.inputs:
                    call.inputs.append(arg)
        call.outputs = [
            n
            for n in call.nodes
            if any(id(u) not in inside for u in n.users) and not isinstance(_val(n), tuple)
        ]
    return ordered


def _val(node: Any) -> Any:
    return node.meta.get("val")


def _batched(shape: tuple[int, ...], time_major: bool = False) -> tuple:
    """PyTorch's shape with the batch axis (dim 0; dim 1 for a time-major RNN) as `None`."""
    if not shape:
        return shape
    axis = 1 if time_major and len(shape) > 1 else 0
    return tuple(None if i == axis else d for i, d in enumerate(shape))


def describe_exported(ep: Any, name: str = "", with_weights: bool = True) -> ModelGraph:
    """Describe a `torch.export.ExportedProgram` as the IR the layer handlers read.

    Args:
        ep: the program (`torch.export.export(model.eval(), (x,))`, or `load_exported(path)`).
        name: the model's name; the root module's class name when empty.
        with_weights: read every weight's values (in Keras's layout) into `weight_values`.
    """
    program = _Program(ep)
    refs: dict[int, TensorRef] = {id(n): TensorRef(n.name) for n in program.user_inputs}
    layers: list[LayerRecord] = []
    values: dict[tuple[str, str], Any] = {}
    first_call: dict[str, str] = {}
    for call in exported_calls(ep):
        if not call.module and op_name(call.main) in PASS_THROUGH and len(call.inputs) == 1:
            refs[id(call.main)] = refs[id(call.inputs[0])]  # `F.dropout` at inference, `.clone()`
            continue
        for record, inputs, outputs, weights in call_records(call, program):
            record = replace(
                record,
                inbound=tuple(refs[id(n)] for n in inputs),
                shares=first_call.get(call.module, "") if call.module else "",
            )
            for k, node in enumerate(outputs):
                refs[id(node)] = TensorRef(record.name, k, len(outputs))
            if with_weights:
                owner = record.shares or record.name
                for weight in weights:
                    if record.shares:
                        values[(record.name, weight.name)] = values[(owner, weight.name)]
                    else:
                        values[(record.name, weight.name)] = _numpy(weight.array())
            layers.append(record)
        if call.module:
            first_call.setdefault(call.module, call.name)
    outputs = tuple(
        TensorRecord(name=refs[id(n)], shape=_batched(shape_of(n)))
        for n in program.output.all_input_nodes
    )
    root = _root_class(program)
    return ModelGraph(
        name=name or root or "model",
        type=root or "nn.Module",
        inputs=tuple(TensorRecord(n.name, _batched(shape_of(n))) for n in program.user_inputs),
        outputs=outputs,
        layers=tuple(layers),
        output_layers=tuple(t.name for t in outputs),
        framework="torch",
        weight_values=values,
    )


def call_records(
    call: ExportedCall, program: _Program
) -> list[tuple[LayerRecord, list[Any], list[Any], list[Weight]]]:
    """The records of one call (a multi-layer LSTM makes several), each with the tensor nodes
    it reads and returns and its weights."""
    view = _View(call, program)
    translated = _translate(call, view)
    if isinstance(translated, list):  # a module made of several records (stacked RNN layers)
        return translated
    if translated is None:
        translated = _opaque(call, program)
    inputs = translated.inputs if translated.inputs is not None else call.inputs
    outputs = call.outputs
    time_major = bool(translated.attrs.get("time_major"))
    count, trainable = _counts(call, program, translated)
    record = LayerRecord(
        name=call.name,
        type=translated.type,
        attrs=translated.attrs,
        input_shapes=tuple(_batched(shape_of(n), time_major) for n in inputs),
        output_shapes=tuple(_batched(shape_of(n), time_major) for n in outputs),
        inbound=(),
        weights=tuple(
            WeightRecord(w.name, w.shape, w.trainable, w.role) for w in translated.weights
        ),
        framework_params=count,
        framework_trainable=trainable,
        code=translated.code,
        framework_type=f"nn.{call.module_class}" if call.module else aten_target(call.main),
        output_names=translated.output_names,
    )
    return [(record, inputs, outputs, translated.weights)]


def _translate(call: ExportedCall, view: _View) -> Translation | list | None:
    if call.module_class in MODULE_TRANSLATORS:
        return MODULE_TRANSLATORS[call.module_class](view)
    working = [n for n in call.nodes if op_name(n) not in PLUMBING]
    main = op_name(call.main)
    if call.module:
        if call.module_class == "Identity" or not working:
            return Translation("Identity", {"layout": "channels_last"}, "nn.Identity()")
        extra = [n for n in working if n is not call.main and "pad" not in op_name(n)]
        if extra and not main.startswith("conv"):
            return None
        if main in TRANSLATORS:
            return TRANSLATORS[main](view)
        return functional(view)  # nn.Flatten, nn.Unflatten
    if main in TRANSLATORS:
        return TRANSLATORS[main](view)
    return functional(view)


def _opaque(call: ExportedCall, program: _Program) -> Translation:
    """A call nothing here knows: its shapes, its ATen target named, no handler."""
    if call.module:
        targets = sorted({aten_target(n) for n in call.nodes if op_name(n) not in PLUMBING})
        weights = [
            Weight(k[len(call.module) + 1 :], lambda v=v: v.detach(), tuple(v.shape),
                   bool(getattr(v, "requires_grad", False)))
            for k, v in program.module_tensors(call.module)
            if not k.endswith(NOT_COUNTED_BUFFERS)
        ]  # fmt: skip
        attrs = {"aten_targets": targets, "layout": "channels_first"}
        code = f"nn.{call.module_class}(...)  # not supported: ATen {', '.join(targets)}"
        return Translation(f"nn.{call.module_class}", attrs, code, weights)
    target = aten_target(call.main)
    shown = ", ".join(_operand(a) for a in call.main.args)
    attrs = {"aten_targets": [target], "layout": "channels_first"}
    code = f"torch.ops.{target}({shown})  # not supported: ATen {target}"
    return Translation(f"aten.{op_name(call.main)}", attrs, code)


def _operand(value: Any) -> str:
    if hasattr(value, "op"):
        return value.name
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_operand(v) for v in value) + "]"
    return repr(value)


def _counts(call: ExportedCall, program: _Program, translated: Translation) -> tuple[int, int]:
    """PyTorch's own count: the module's tensors, or a functional call's parameters."""
    if call.module:
        tensors = [
            v for k, v in program.module_tensors(call.module) if not k.endswith(NOT_COUNTED_BUFFERS)
        ]
    else:
        tensors = [
            program.tensor(n)
            for n in call.main.all_input_nodes
            if program.is_state(n) and n.name in program.parameters
        ]
    count = sum(int(t.numel()) for t in tensors)
    trainable = sum(int(t.numel()) for t in tensors if getattr(t, "requires_grad", False))
    return count, trainable


def unsupported_calls(graph: ModelGraph) -> tuple[str, ...]:
    """One line per call kept opaque, naming its ATen targets: what no layer type covers."""
    return tuple(
        f"{record.name}: {record.framework_type} is not supported here "
        f"(ATen {', '.join(record.attrs['aten_targets'])}); shapes only, no formula or equation"
        for record in graph.layers
        if "aten_targets" in record.attrs
    )


def _root_class(program: _Program) -> str:
    for node in program.functions:
        stack = node.meta.get("nn_module_stack") or {}
        if stack:
            return next(iter(stack.values()))[1].rsplit(".", 1)[-1]
    return ""


def _numpy(tensor: Any) -> Any:
    return tensor.detach().cpu().contiguous().numpy()
