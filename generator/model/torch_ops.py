"""Tensor operations written in `forward()` (`torch.flatten(x, 1)`, `x + y`, `torch.cat`).

Each keeps the batch axis first; one that moves it (a reshape across the batch) is left opaque.
Operations with constants follow the Keras frontend's op records: type `ops.<function>` with
`attrs["operands"]`, each input tensor as `None` and each constant as its value. A parameter
that belongs to no module, added to a tensor (a learned position embedding), is a
`ParameterAdd` with one weight of role `parameter`.
"""

from __future__ import annotations

from typing import Any

from generator.model.torch_attrs import Translation, Weight, arguments, op_name, shape_of

_MERGES = {"add": "Add", "sub": "Subtract", "mul": "Multiply"}
_OPS = {"add": "ops.add", "sub": "ops.subtract", "mul": "ops.multiply", "div": "ops.divide"}
_SIGNS = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_RESHAPES = ("view", "reshape", "_unsafe_view", "unflatten", "squeeze", "unsqueeze", "flatten")


def functional(view: Any) -> Translation | None:
    """The functional call `view.main` in the IR's vocabulary, `None` when nothing fits."""
    node = view.main
    name = op_name(node)
    if not hasattr(node.target, "_schema"):
        return None
    args = arguments(node)
    x = node.args[0] if node.args else None
    in_shape = shape_of(x) if hasattr(x, "op") else ()
    out_shape = shape_of(node)
    if name == "flatten" and in_shape:
        start, end = int(args["start_dim"]) % len(in_shape), int(args["end_dim"]) % len(in_shape)
        if start == 1 and end == len(in_shape) - 1:
            code = "nn.Flatten()" if view.call.module else "torch.flatten(x, 1)"
            return Translation("Flatten", {"layout": "channels_last"}, code, inputs=[x])
    if name in _RESHAPES and in_shape and out_shape and in_shape[0] == out_shape[0]:
        target = tuple(out_shape[1:])
        code = f"x.reshape(x.shape[0], {', '.join(map(str, target))})"
        attrs = {"target_shape": target, "layout": "channels_last"}
        return Translation("Reshape", attrs, code, inputs=[x])
    if name == "permute":
        dims = [int(d) % len(in_shape) for d in args["dims"]]
        if dims[0] == 0:
            return _permute(tuple(dims[1:]), f"x.permute({', '.join(map(str, dims))})", x)
    if name == "transpose":
        a, b = int(args["dim0"]) % len(in_shape), int(args["dim1"]) % len(in_shape)
        if 0 not in (a, b):
            dims = list(range(len(in_shape)))
            dims[a], dims[b] = dims[b], dims[a]
            return _permute(tuple(dims[1:]), f"x.transpose({a}, {b})", x)
    if name == "mean" and args.get("dim") is not None:
        axes = sorted(int(d) % len(in_shape) for d in args["dim"])
        keep = bool(args["keepdim"])
        attrs = {"operands": [None], "axis": axes, "keepdims": keep, "layout": "channels_last"}
        shown = axes[0] if len(axes) == 1 else tuple(axes)
        return Translation("ops.mean", attrs, f"x.mean(dim={shown}, keepdim={keep})", inputs=[x])
    if name in _OPS:
        return _arithmetic(view, name, args)
    if name == "cat":
        tensors = list(args["tensors"])
        axis = int(args["dim"]) % len(out_shape)
        attrs = {"axis": axis, "layout": "channels_last"}
        return Translation("Concatenate", attrs, f"torch.cat([...], dim={axis})", inputs=tensors)
    return None


def _permute(dims: tuple[int, ...], code: str, x: Any) -> Translation:
    """Keras's `Permute(dims)`: 1-based axes after the batch, as PyTorch's indices already are."""
    return Translation("Permute", {"dims": dims, "layout": "channels_last"}, code, inputs=[x])


def _arithmetic(view: Any, name: str, args: dict[str, Any]) -> Translation | None:
    """`x + y` (a merge), `x + 1.0` or `x * c` (an op with a constant), `x + self.pos`."""
    node = view.main
    if args.get("alpha", 1) != 1 or args.get("rounding_mode") is not None:
        return None
    operands = [node.args[0], args.get("other")]
    program = view.program
    tensors = [a for a in operands if hasattr(a, "op") and not program.is_state(a)]
    state = [a for a in operands if hasattr(a, "op") and program.is_state(a)]
    if len(tensors) == 2 and name in _MERGES:
        return Translation(_MERGES[name], {"layout": "channels_last"}, f"x {_SIGNS[name]} y")
    if len(tensors) != 1:
        return None
    if state and name == "add" and state[0].name in program.parameters:
        fqn = program.parameters[state[0].name]
        weight = view.weight(fqn, state[0])
        weight = Weight(fqn, weight.array, weight.shape, weight.trainable, role="parameter")
        attrs = {"parameter": fqn, "layout": "channels_last"}
        return Translation("ParameterAdd", attrs, f"x + self.{fqn}", [weight], inputs=tensors)
    values = []
    for a in operands:
        if a is tensors[0]:
            values.append(None)
        elif hasattr(a, "op"):  # a buffer or constant tensor: its value, broadcast
            values.append(program.tensor(a).detach().double().numpy().tolist())
        else:
            values.append(a)
    shown = f" {_SIGNS[name]} ".join("x" if v is None else repr(v) for v in values)
    attrs = {"operands": values, "layout": "channels_last"}
    return Translation(_OPS[name], attrs, shown if len(shown) < 80 else "x (op) c", inputs=tensors)
