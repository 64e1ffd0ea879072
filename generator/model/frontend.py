"""The Keras frontend: a Keras model becomes a `ModelGraph` of layer records.

This module (with `generator.model.keras_attrs` for the configs, `generator.model.probe` for
the arrays and `generator.model.loading`) is all that touches Keras objects; it imports nothing
from Keras at module level.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from generator.exceptions import ModelError
from generator.model.graph import (
    LayerRecord,
    ModelGraph,
    Shape,
    TensorRecord,
    WeightRecord,
    reference,
)
from generator.model.keras_attrs import keras_attrs
from generator.model.keras_calls import call_roles, call_tensors
from generator.model.keras_trace import trace

# Arguments a reader needs to see even at their default: `MaxPooling2D((2, 2))`.
_ALWAYS_SHOWN = {"pool_size"}

#: A layer call's input and output shapes in one run, by call name.
RunShapes = Mapping[str, tuple[tuple[Shape, ...], tuple[Shape, ...]]]

# Config keys that never belong in a readable code line.
_NOT_SHOWN = {"name", "trainable", "dtype", "batch_input_shape", "batch_shape", "build_config"}


def describe_model(
    model: Any, with_weights: bool = False, run_shapes: RunShapes | None = None
) -> ModelGraph:
    """Describe a built Keras model (Sequential or functional, nesting allowed).

    Args:
        model: a built `keras.Model`.
        with_weights: also read every weight's values into `ModelGraph.weight_values`.
        run_shapes: the shapes each layer's first call had in one run (`call name -> (input
            shapes, output shapes)`), for a model that leaves lengths open (`(None, None, 3)`):
            the record is then the layer as it ran, its `same` padding in numbers.
    """
    if not model.built:
        raise ModelError(
            f"model {model.name!r} is not built: give it an `Input` or call `model.build(shape)`"
        )
    graph_model = getattr(model, "_functional", None) or model
    if not hasattr(graph_model, "_nodes_by_depth"):
        raise ModelError(
            f"model {model.name!r} is a subclassed model; only Sequential and "
            "functional models have a graph to read"
        )
    nodes = _nodes_in_order(graph_model)
    in_model = {id(node) for node in nodes}
    calls: dict[int, str] = {}  # id(node) -> the call's name
    layers: list[LayerRecord] = []
    values: dict[tuple[str, str], Any] = {}
    first: dict[int, LayerRecord] = {}
    for node in nodes:
        layer = node.operation
        if type(layer).__name__ == "InputLayer":
            calls[id(node)] = layer.name
            continue
        # Keras numbers a layer's calls within a model as its config's `inbound_nodes` does.
        own = [n for n in layer._inbound_nodes if id(n) in in_model]
        index = next(i for i, n in enumerate(own) if n is node)
        name = layer.name if index == 0 else f"{layer.name}@{index}"
        calls[id(node)] = name
        inbound = tuple(_reference(t, calls) for t in call_tensors(node))
        shapes = _call_shapes(node, (run_shapes or {}).get(name))
        if id(layer) not in first:
            first[id(layer)] = _layer_record(layer, node, with_weights, values, shapes)
        # A shared layer: each call is a record; the calls after Keras's first share its
        # weights (counted once), whichever call the graph order meets first.
        record = replace(
            first[id(layer)],
            name=name,
            shares=layer.name if index else "",
            input_shapes=shapes[0],
            output_shapes=shapes[1],
            inbound=inbound,
        )
        if index:
            for (owner, weight), value in list(values.items()):
                if owner == layer.name:
                    values[(name, weight)] = value
        layers.append(record)
    inputs = tuple(
        TensorRecord(name=t._keras_history.operation.name, shape=_shape(t.shape))
        for t in graph_model.inputs
    )
    outputs = tuple(
        TensorRecord(name=_reference(t, calls), shape=_shape(t.shape)) for t in graph_model.outputs
    )
    return ModelGraph(
        name=model.name,
        type=type(model).__name__,
        inputs=inputs,
        outputs=outputs,
        layers=tuple(layers),
        output_layers=tuple(t.name for t in outputs),
        weight_values=values,
    )


def _call_shapes(
    node: Any, ran: tuple[tuple[Shape, ...], tuple[Shape, ...]] | None
) -> tuple[tuple[Shape, ...], tuple[Shape, ...]]:
    """A call's input and output shapes: Keras's, or the lengths of a run where Keras's are
    open (the batch stays `None`)."""
    shapes = (
        tuple(_shape(t.shape) for t in call_tensors(node)),
        tuple(_shape(t.shape) for t in node.outputs),
    )
    if ran is None:
        return shapes
    return tuple(
        tuple(
            tuple(
                k if k is not None or i == 0 else r
                for i, (k, r) in enumerate(zip(a, b, strict=True))
            )
            if len(a) == len(b)
            else a
            for a, b in zip(keras, run, strict=False)
        )
        for keras, run in zip(shapes, ran, strict=True)
    )


def _reference(tensor: Any, calls: dict[int, str]) -> str:
    """The tensor as a call's input names it: `dense`, `lstm:1`, `layer_norm@1`, `inputs`."""
    history = tensor._keras_history
    node = history.operation._inbound_nodes[history.node_index]
    name = calls.get(id(node), history.operation.name)
    return reference(name, history.tensor_index, len(node.outputs))


#: What each output of a multi-output layer is, by class name (others: `output k`).
_OUTPUT_NAMES = {
    "LSTM": ("output", "state h", "state c"),
    "ConvLSTM1D": ("output", "state h", "state c"),
    "ConvLSTM2D": ("output", "state h", "state c"),
    "ConvLSTM3D": ("output", "state h", "state c"),
    "GRU": ("output", "state h"),
    "SimpleRNN": ("output", "state h"),
    "MultiHeadAttention": ("output", "attention scores"),
}


def output_names(layer: Any, outputs: int) -> tuple[str, ...]:
    """Names of a call's outputs when it has several: `("output", "state h", "state c")`."""
    if outputs <= 1:
        return ()
    kind = type(layer).__name__
    if kind == "Bidirectional":
        inner = _OUTPUT_NAMES.get(type(layer.forward_layer).__name__, ("output",))
        states = [f"{d} {s}" for d in ("forward", "backward") for s in inner[1:]]
        heads = ["output"] if outputs - len(states) == 1 else ["forward output", "backward output"]
        names = (*heads, *states)
    else:
        names = _OUTPUT_NAMES.get(kind, ())
    if len(names) != outputs:
        names = tuple(f"output {k}" for k in range(outputs))
    return tuple(names)


def _nodes_in_order(graph_model: Any) -> list[Any]:
    """The model's own nodes, every node after the nodes it reads; otherwise inputs first and,
    within a depth, in the order layers were added."""
    by_depth = graph_model._nodes_by_depth
    order = {id(layer): i for i, layer in enumerate(graph_model.layers)}
    nodes = []
    for depth in sorted(by_depth, reverse=True):
        nodes.extend(sorted(by_depth[depth], key=lambda n: order.get(id(n.operation), 0)))
    # Keras's depths can put a shared layer's later call before what it reads: repair that.
    in_model, placed, ordered = {id(n) for n in nodes}, set(), []
    waiting = list(nodes)
    while waiting:
        ready = next(
            (
                i
                for i, node in enumerate(waiting)
                if all(id(p) in placed for p in node.parent_nodes if id(p) in in_model)
            ),
            None,
        )
        if ready is None:
            return nodes  # a cycle cannot happen in a Keras graph; keep Keras's order if it does
        placed.add(id(waiting[ready]))
        ordered.append(waiting.pop(ready))
    return ordered


def _layer_record(
    layer: Any,
    node: Any,
    with_weights: bool,
    values: dict,
    shapes: tuple[tuple[Shape, ...], tuple[Shape, ...]],
) -> LayerRecord:
    if not hasattr(layer, "weights"):  # a `keras.ops` call such as `x + 3.0`, not a layer
        return _operation_record(layer, node)
    children = None
    if hasattr(layer, "_nodes_by_depth") or getattr(layer, "_functional", None) is not None:
        children = describe_model(layer, with_weights=with_weights)
        for key, value in children.weight_values.items():
            values[key] = value
    composite = trace(layer, node)  # a custom layer made of layers: the graph of their calls
    if composite is not None and composite.model is not None:
        children = describe_model(composite.model, with_weights=with_weights)
    names = [_weight_name(layer, w) for w in layer.weights]
    if len(set(names)) < len(names):  # a loaded wrapper's paths lack its name: keep them whole
        names = [getattr(w, "path", w.name) for w in layer.weights]
    weights = tuple(
        WeightRecord(
            name=name,
            shape=tuple(int(d) for d in w.shape),
            trainable=bool(w.trainable),
        )
        for name, w in zip(names, layer.weights, strict=True)
    )
    if with_weights and children is None:
        for record, array in zip(weights, layer.get_weights(), strict=True):
            values[(layer.name, record.name)] = array
    trainable = sum(int(_size(w.shape)) for w in layer.trainable_weights)
    try:
        config = layer.get_config()  # once: serializing a config is the costly part of describing
    except (AttributeError, NotImplementedError, TypeError):
        config = {"name": layer.name}  # a custom layer that cannot serialize itself (a sub-layer)
    plain = _plain(config)
    input_shapes, output_shapes = shapes
    inner_shape = input_shapes[0] if input_shapes else None
    if type(layer).__name__ == "TimeDistributed" and inner_shape:
        inner_shape = (inner_shape[0], *inner_shape[2:])
    attrs = keras_attrs(
        type(layer).__name__,
        plain,
        input_shapes[0] if input_shapes else None,
        output_shapes[0] if output_shapes else None,
        inner=lambda serialized: _inner_record(serialized, inner_shape),
    )
    roles = call_roles(node)
    if roles:  # tensors passed by keyword: which is the query, which the mask
        attrs["input_roles"] = roles
    arguments = getattr(node, "arguments", None)
    constants = {
        key: _plain(value)
        for key, value in (arguments.kwargs.items() if arguments is not None else ())
        if hasattr(value, "numpy") and not hasattr(value, "_keras_history")
    }
    if constants:  # a traced call's constant tensor (a causal mask of a known length)
        attrs["constants"] = constants
    if composite is not None and composite.model is None:
        attrs["sublayers"], attrs["untraced"] = composite.sublayers, composite.reason
    elif composite is not None and composite.length is not None:
        attrs["traced_length"] = composite.length  # its graph holds a mask of this length
    return LayerRecord(
        name=layer.name,
        type=type(layer).__name__,
        attrs=attrs,
        trainable=bool(plain.get("trainable", True)),
        framework_type=type(layer).__name__,
        input_shapes=input_shapes,
        output_shapes=output_shapes,
        inbound=tuple(p.operation.name for p in node.parent_nodes),
        weights=weights,
        framework_params=int(layer.count_params()),
        framework_trainable=trainable,
        code=code_line(layer, config),
        children=children,
        output_names=output_names(layer, len(node.outputs)),
    )


def _inner_record(serialized: dict, input_shape: Shape | None) -> LayerRecord:
    """A wrapper's inner layer (`Bidirectional(LSTM(8))`'s LSTM) as a record of its own, seeing
    `input_shape`; the wrapper's handler gives it its weights and output shapes."""
    config = serialized["config"]
    return LayerRecord(
        name=config["name"],
        type=serialized["class_name"],
        attrs=keras_attrs(serialized["class_name"], config, input_shape, None),
        trainable=bool(config.get("trainable", True)),
        framework_type=serialized["class_name"],
        input_shapes=(input_shape,) if input_shape is not None else (),
        output_shapes=(),
        inbound=(),
        weights=(),
        framework_params=0,
        framework_trainable=0,
        code=_nested_code(serialized),
    )


def _operation_record(op: Any, node: Any) -> LayerRecord:
    """A record for an operation between tensors in a functional model (`x + 3.0`).

    Its type is `ops.<function>` (`ops.add`), so it never meets a layer's handler (the `Add`
    layer is another thing); `config["operands"]` lists the call's arguments in order, each
    input tensor as `None` and each constant as its value.
    """
    name = "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in type(op).__name__)
    name = name.lstrip("_")
    operands = [None if hasattr(a, "_keras_history") else _plain(a) for a in node.arguments.args]
    keywords = {
        k: _plain(v) for k, v in node.arguments.kwargs.items() if not hasattr(v, "_keras_history")
    }
    keywords.update(_stored_arguments(op))
    shown = ", ".join(
        ["x" if a is None else repr(a) for a in operands]
        + [f"{k}={v!r}" for k, v in keywords.items()]
    )
    return LayerRecord(
        name=op.name,
        type=f"ops.{name}",
        attrs={"operands": operands, **keywords, "layout": "channels_last"},
        framework_type=f"keras.ops.{name}",
        input_shapes=tuple(_shape(t.shape) for t in call_tensors(node)),
        output_shapes=tuple(_shape(t.shape) for t in node.outputs),
        inbound=tuple(p.operation.name for p in node.parent_nodes),
        weights=(),
        framework_params=0,
        framework_trainable=0,
        code=f"keras.ops.{name}({shown})",
    )


def _stored_arguments(op: Any) -> dict[str, Any]:
    """What an operation was made with (`cumsum(x, axis=-1)` keeps `axis`), from its attributes."""
    try:
        names = list(_init_signature(type(op)).parameters)
    except (TypeError, ValueError):
        return {}
    stored = {}
    for name in names:
        if name in ("self", "name", "args", "kwargs") or not hasattr(op, name):
            continue
        value = getattr(op, name)
        if value is not None and not callable(value):
            stored[name] = _plain(value)
    return stored


def _weight_name(layer: Any, weight: Any) -> str:
    """The weight's path below its layer: `kernel`, or `forward_lstm/lstm_cell/kernel`.

    In memory a weight's path starts with its layer's path (`bi/forward_lstm/...`); a loaded
    model's Bidirectional names them from the wrapped layer on (`forward_lstm/...`), so a path
    that does not start with the layer's name is kept whole (both directions stay distinct).
    """
    path = getattr(weight, "path", weight.name)
    for prefix in (getattr(layer, "path", layer.name) + "/", layer.name + "/"):
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def _size(shape: Any) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _shape(shape: Any) -> Shape:
    return tuple(None if d is None else int(d) for d in shape)


def _plain(value: Any) -> Any:
    """A config with tuples as lists and nested objects as plain dicts (JSON-ready)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "numpy"):  # a constant tensor (a traced call's causal mask)
        return value.numpy().tolist()
    return repr(value)


@functools.cache
def _init_signature(cls: type) -> inspect.Signature:
    """The constructor's signature, looked up once per layer class."""
    return inspect.signature(cls.__init__)


def code_line(layer: Any, config: dict | None = None) -> str:
    """The Keras line that makes a layer, from its config: `Conv2D(32, (3, 3), activation="relu")`.

    Required constructor arguments come first, by position; then every keyword whose value differs
    from the constructor's default. Pass `config` (the layer's `get_config()`) if you have it.
    """
    cls = type(layer)
    if hasattr(layer, "_nodes_by_depth") or getattr(layer, "_functional", None) is not None:
        return f"{cls.__name__}(...)"  # a nested model: its own layers say what it is
    try:
        config = layer.get_config() if config is None else config
        signature = _init_signature(cls)
    except (NotImplementedError, TypeError, ValueError):
        return f"{cls.__name__}(...)"
    args: list[str] = []
    for name, param in signature.parameters.items():
        if name in ("self",) or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        if name in _NOT_SHOWN or name not in config:
            continue
        if name.endswith(("_initializer", "_regularizer", "_constraint")):
            continue
        value = config[name]
        if name == "axis" and isinstance(value, list | tuple) and not value:
            value = None  # `Normalization(axis=None)` is stored as an empty list of axes
        if name == "backward_layer" and _mirrors(value, config.get("layer")):
            continue  # Keras made it from `layer`; the code line never names it
        if isinstance(value, dict) and "class_name" in value:
            value = _nested_code(value)
            if param.default is inspect.Parameter.empty:
                args.append(value)
            else:
                args.append(f"{name}={value}")
            continue
        if param.default is inspect.Parameter.empty or name in _ALWAYS_SHOWN:
            args.append(_literal(value))
        elif name == "strides" and param.default is None and value == config.get("pool_size"):
            continue  # pooling's `strides=None` is stored as the pool size
        elif not _same(value, param.default):
            args.append(f"{name}={_literal(value)}")
    return f"{cls.__name__}({', '.join(args)})"


def _nested_code(serialized: dict) -> str:
    """A wrapped layer's code (`Bidirectional(LSTM(8))`) from its serialized config."""
    import keras

    try:
        inner = keras.layers.deserialize(serialized)
    except Exception:  # noqa: BLE001 - a readable fallback beats a crash here
        return f"{serialized.get('class_name', '?')}(...)"
    return code_line(inner)


def _mirrors(backward: Any, forward: Any) -> bool:
    """Whether a serialized backward layer is the forward one reversed, as Keras builds it."""
    if not isinstance(backward, dict) or not isinstance(forward, dict):
        return False
    ignore = {"name", "go_backwards"}
    strip = lambda c: {k: v for k, v in c.get("config", {}).items() if k not in ignore}  # noqa: E731
    return backward.get("class_name") == forward.get("class_name") and strip(backward) == strip(
        forward
    )


def _same(value: Any, default: Any) -> bool:
    if default is None and value in ("linear", "channels_last"):
        return True  # `activation=None` is stored as "linear", `data_format=None` resolved
    if isinstance(default, tuple) and isinstance(value, list | tuple):
        return tuple(value) == default
    if isinstance(default, int | float) and isinstance(value, list | tuple) and value:
        return all(v == default for v in value)
    return value == default


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        inner = ", ".join(_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)
