"""A Keras layer call's input tensors, in the order of the layer's `call` signature.

Keras keeps a call's tensors flattened with keyword arguments sorted by name, so
`attention(query=x, value=x, attention_mask=m)` lists the mask first. The IR names a call's
inputs positional first, then keywords in the order `call` declares them (`query, value, key,
..., attention_mask`); the frontend, the probe and the tracer all read them through here,
and the sizes the probe gives the axes a model leaves open.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from typing import Any

#: Length given to a dimension the model leaves open (a variable-length sequence).
OPEN_LENGTH = 5
#: Height and width given to an image the model leaves open (`(None, None, 3)`): enough for
#: five stride-2 stages, which a classifier built for 224 x 224 takes down to 1 x 1.
OPEN_IMAGE = 32


def open_shape(shape: Sequence[int | None]) -> list[int]:
    """An input's shape without the batch, its open lengths given one (an image's larger): the
    sizes the probe runs a model at, and a shape-dependent call is traced at."""
    dims = list(shape[1:])
    length = OPEN_IMAGE if sum(d is None for d in dims) >= 2 and len(dims) >= 3 else OPEN_LENGTH
    return [length if d is None else int(d) for d in dims]


def call_tensors(node: Any) -> list[Any]:
    """The node's input tensors: positional arguments, then keywords in signature order."""
    arguments = getattr(node, "arguments", None)
    if arguments is None or not arguments.kwargs:
        return list(node.input_tensors)
    order = _parameter_order(type(node.operation))
    keys = sorted(arguments.kwargs, key=lambda k: (order.get(k, len(order)), k))
    tensors = [
        tensor
        for value in [*arguments.args, *(arguments.kwargs[k] for k in keys)]
        for tensor in _flat_tensors(value)
    ]
    if sorted(map(id, tensors)) != sorted(map(id, node.input_tensors)):
        return list(node.input_tensors)  # a structure read otherwise: keep Keras's order
    return tensors


def _flat_tensors(value: Any) -> list[Any]:
    if hasattr(value, "_keras_history"):
        return [value]
    if isinstance(value, dict):
        return [t for k in sorted(value) for t in _flat_tensors(value[k])]
    if isinstance(value, list | tuple):
        return [t for item in value for t in _flat_tensors(item)]
    return []


@functools.cache
def _parameter_order(cls: type) -> dict[str, int]:
    try:
        names = list(inspect.signature(cls.call).parameters)
    except (TypeError, ValueError, AttributeError):
        return {}
    return {name: i for i, name in enumerate(n for n in names if n != "self")}


def call_roles(node: Any) -> tuple[str, ...]:
    """The `call` parameter each input tensor was passed as (`query`, `attention_mask`), in
    `call_tensors` order; `()` when the call passed its tensors by position only."""
    arguments = getattr(node, "arguments", None)
    if arguments is None or not arguments.kwargs:
        return ()
    order = _parameter_order(type(node.operation))
    positional = [n for n, _ in sorted(order.items(), key=lambda item: item[1])]
    roles: list[str] = []
    for k, value in enumerate(arguments.args):
        name = positional[k] if k < len(positional) else f"arg{k}"
        roles += [name] * len(_flat_tensors(value))
    for key in sorted(arguments.kwargs, key=lambda k: (order.get(k, len(order)), k)):
        roles += [key] * len(_flat_tensors(arguments.kwargs[key]))
    return tuple(roles) if len(roles) == len(call_tensors(node)) else ()
