"""PyTorch's recurrent layers and multi-head attention as IR records, weights in Keras's layout.

- `nn.LSTM`: Keras's kernel `(n_in, 4u)` has the gates in PyTorch's order (i, f, c, o), so it is
  `weight_ih_l0.T`; the recurrent kernel is `weight_hh_l0.T`. PyTorch keeps two bias vectors
  (`b_ih`, `b_hh`) where Keras keeps one: the weight `bias` is their sum (what the equation adds)
  and `attrs["recurrent_bias"]` says the count has both (`framework_params` is PyTorch's).
- `nn.GRU`: PyTorch stacks the gates r, z, n; Keras z, r, h (with `reset_after=True`, PyTorch's
  form). The blocks are reordered; the bias is `(2, 3u)`: the input bias, then the recurrent one.
- `nn.RNN`: like the LSTM with one gate, activation `tanh` or `relu`.
- A bidirectional layer is a `Bidirectional` record with inner records `forward_<name>` and
  `backward_<name>` (`go_backwards=True`), merge mode `concat`, weights `forward_<name>/kernel`.
- `nn.MultiheadAttention(E, H, batch_first=True)`: `query/kernel` `(E, H, E/H)` is the first
  third of `in_proj_weight`, transposed and split by head; `attention_output/kernel` `(H, E/H, E)`
  is `out_proj.weight.T` split the same way.
Several stacked layers (`num_layers > 1`) are not read yet: the call stays opaque.
"""

from __future__ import annotations

from typing import Any

from generator.model.activations import LayerActivation
from generator.model.graph import LayerRecord
from generator.model.torch_attrs import Translation, Weight, arguments, op_name, shape_of

#: PyTorch's gate order -> Keras's, as block indices into PyTorch's stacked weights.
_GATES = {"LSTM": (0, 1, 2, 3), "GRU": (1, 0, 2), "SimpleRNN": (0,)}


def _blocks(tensor: Any, order: tuple[int, ...]) -> Any:
    """The gate blocks of a stacked PyTorch weight (first axis), in Keras's order."""
    import torch

    parts = torch.chunk(tensor, len(order), dim=0)
    return torch.cat([parts[i] for i in order], dim=0)


def recurrent(view: Any) -> Translation | None:
    """`aten.lstm.input`, `aten.gru.input`, `aten.rnn_tanh.input` or `aten.rnn_relu.input`."""
    node = view.first("lstm", "gru", "rnn_tanh", "rnn_relu")
    if node is None:
        return None
    args = arguments(node)
    kind = {"lstm": "LSTM", "gru": "GRU"}.get(op_name(node), "SimpleRNN")
    if int(args["num_layers"]) != 1:
        return None
    directions = 2 if args["bidirectional"] else 1
    params = list(args["params"])
    per = len(params) // directions
    biased = bool(args["has_biases"])
    time_major = not bool(args["batch_first"])
    x = args["input"]
    name = view.call.module.rsplit(".", 1)[-1] or "rnn"
    inner, weights = [], []
    for d in range(directions):
        prefix = "" if directions == 1 else f"{('forward', 'backward')[d]}_{name}/"
        w_ih, w_hh, *biases = (view.tensor(p).detach() for p in params[d * per : (d + 1) * per])
        units = int(w_hh.shape[1])
        attrs = _rnn_attrs(kind, units, biased, time_major, op_name(node), backwards=d == 1)
        inner.append(attrs)
        weights += _rnn_weights(kind, prefix, w_ih, w_hh, biases if biased else [])
    n_in = shape_of(x)[-1]
    code = f"nn.{'RNN' if kind == 'SimpleRNN' else kind}({n_in}, {units}, batch_first=True"
    code = code.replace(", batch_first=True", "") if time_major else code
    code += ", bidirectional=True)" if directions == 2 else ")"
    code = code if biased else code[:-1] + ", bias=False)"
    if directions == 1:
        outputs = _output_names(kind, len(view.call.outputs))
        return Translation(kind, inner[0], code, weights, inputs=[x], output_names=outputs)
    in_shape = shape_of(x)
    batched = tuple(None if i == (1 if time_major else 0) else d for i, d in enumerate(in_shape))
    records = [
        LayerRecord(
            name=f"{direction}_{name}",
            type=kind,
            attrs=attrs,
            input_shapes=(batched,),
            output_shapes=(),
            inbound=(),
            weights=(),
            framework_params=0,
            framework_trainable=0,
            framework_type=f"nn.{kind}",
        )
        for direction, attrs in zip(("forward", "backward"), inner, strict=True)
    ]
    attrs = {
        "layer": records[0],
        "backward_layer": records[1],
        "merge_mode": "concat",
        "layout": "channels_last",
        "time_major": time_major,
    }
    return Translation("Bidirectional", attrs, code, weights, inputs=[x])


def _rnn_attrs(
    kind: str, units: int, biased: bool, time_major: bool, op: str, backwards: bool
) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "units": units,
        "activation": LayerActivation("relu" if op == "rnn_relu" else "tanh"),
        "use_bias": biased,
        "return_sequences": True,
        "return_state": False,
        "go_backwards": backwards,
        "stateful": False,
        "time_major": time_major,
        "layout": "channels_last",
    }
    if kind != "SimpleRNN":
        attrs["recurrent_activation"] = LayerActivation("sigmoid")
    if kind == "GRU":
        attrs["reset_after"] = True
    elif biased:
        attrs["recurrent_bias"] = True  # PyTorch's b_hh beside b_ih: counted, summed in `bias`
    return attrs


def _rnn_weights(kind: str, prefix: str, w_ih, w_hh, biases: list) -> list[Weight]:
    order = _GATES[kind]
    kernel, recurrent_kernel = _blocks(w_ih, order).T, _blocks(w_hh, order).T
    weights = [
        _fixed(prefix + "kernel", kernel),
        _fixed(prefix + "recurrent_kernel", recurrent_kernel),
    ]
    if biases:
        b_ih, b_hh = _blocks(biases[0], order), _blocks(biases[1], order)
        import torch

        bias = torch.stack([b_ih, b_hh]) if kind == "GRU" else b_ih + b_hh
        weights.append(_fixed(prefix + "bias", bias))
    return weights


def _fixed(name: str, value: Any, trainable: bool = True) -> Weight:
    return Weight(name, lambda: value, tuple(int(d) for d in value.shape), trainable)


def _output_names(kind: str, outputs: int) -> tuple[str, ...]:
    if outputs <= 1:
        return ()
    names = ("output", "state h", "state c") if kind == "LSTM" else ("output", "state h")
    return (
        names[:outputs] if outputs <= len(names) else tuple(f"output {k}" for k in range(outputs))
    )


def multi_head_attention(view: Any) -> Translation | None:
    """`nn.MultiheadAttention(E, H, batch_first=True)` as Keras's `MultiHeadAttention`."""
    tensors = dict(view.program.module_tensors(view.call.module))
    prefix = view.call.module + "."
    get = lambda key: tensors.get(prefix + key)  # noqa: E731
    out_w, out_b = get("out_proj.weight"), get("out_proj.bias")
    if out_w is None:
        return None
    embed = int(out_w.shape[0])
    if get("in_proj_weight") is not None:
        w_q, w_k, w_v = get("in_proj_weight").detach().chunk(3, dim=0)
    else:
        w_q, w_k, w_v = (get(f"{r}_proj_weight").detach() for r in "qkv")
    heads = _heads(view, embed)
    if heads is None:
        return None
    d = embed // heads
    bias = get("in_proj_bias")
    weights = []
    for role, w, k in (("query", w_q, 0), ("key", w_k, 1), ("value", w_v, 2)):
        weights.append(_fixed(f"{role}/kernel", w.T.reshape(w.shape[1], heads, d)))
        if bias is not None:
            weights.append(
                _fixed(f"{role}/bias", bias.detach()[k * embed : (k + 1) * embed].reshape(heads, d))
            )
    weights.append(_fixed("attention_output/kernel", out_w.detach().T.reshape(heads, d, embed)))
    if out_b is not None:
        weights.append(_fixed("attention_output/bias", out_b.detach()))
    inputs = list(view.call.inputs)
    query = inputs[0]
    inbound = [query, query] if len(inputs) == 1 else [inputs[0], inputs[-1], *inputs[1:-1]]
    attrs = {
        "num_heads": heads,
        "key_dim": d,
        "value_dim": d,
        "use_bias": bias is not None,
        "output_shape": None,
        "dropout": 0.0,
        "layout": "channels_last",
    }
    outputs = view.call.outputs
    view.call.outputs = sorted(outputs, key=lambda n: shape_of(n) != shape_of(query))
    code = f"nn.MultiheadAttention({embed}, {heads}, batch_first=True)"
    names = ("output", "attention weights (mean over heads)") if len(outputs) == 2 else ()
    return Translation("MultiHeadAttention", attrs, code, weights, inbound, output_names=names)


def _heads(view: Any, embed: int) -> int | None:
    """The number of heads, from the `(batch * heads, T, E / heads)` tensors the call makes."""
    for node in view.nodes:
        shape = shape_of(node)
        if op_name(node) in ("view", "reshape", "_unsafe_view") and len(shape) == 3:
            if shape[-1] < embed and embed % shape[-1] == 0:
                return embed // shape[-1]
    return None


MODULE_TRANSLATORS = {
    "LSTM": recurrent,
    "GRU": recurrent,
    "RNN": recurrent,
    "MultiheadAttention": multi_head_attention,
}
