"""The framework-neutral model description (the IR): a graph of layer calls.

The frontends build it: `generator.model.frontend` from a Keras model,
`generator.model.torch_frontend` from a `torch.export` archive. They are the only code that reads a
framework's config. Every other part of the generator reads these records, so none of it needs
TensorFlow or PyTorch.

A call's `attrs` are its normalised attributes, named as in the notation (`units`, `filters`,
`kernel_size`), whatever framework the layer came from:
- `layout`: `"channels_last"` or `"channels_first"` on every call;
- windows (`kernel_size`, `strides`, `dilation_rate`, `pool_size`) as tuples, one int per spatial
  axis; `pads` as one `(before, after)` pair of zeros per spatial axis (TensorFlow's `same` rule
  is applied once, in the Keras frontend); `padding` keeps the mode for the prose (`valid`, `same`,
  `causal`, or `explicit` for numbers a PyTorch module was given);
- `groups` and `use_bias` always present on convolutions and dense layers;
- `activation` (and `recurrent_activation`) split off once, as a `LayerActivation`;
- a wrapper's inner layers (`layer`, `backward_layer`) as `LayerRecord`s of their own.
Weights are in one canonical layout (Keras's: a dense kernel is `n_in x n_out`, a convolution's
`k_h x k_w x c_in x c_out`) and carry their role (`kernel`, `bias`, `gamma`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: How pages and checks name each frontend's framework (`ModelGraph.framework`).
FRAMEWORK_NAMES = {"keras": "Keras", "torch": "PyTorch"}

Shape = tuple  # of int | None; None stands for the batch (or any unknown) dimension


class TensorRef(str):
    """A reference to one tensor: output `output` of call `call` (or a model input).

    It is the string a call's inputs are named by (`lstm` for a single output, `lstm:1`
    otherwise), so it keys dictionaries of values, and it keeps its two parts typed.
    """

    call: str
    output: int

    def __new__(cls, call: str, output: int = 0, outputs: int = 1) -> TensorRef:
        ref = super().__new__(cls, call if outputs == 1 and output == 0 else f"{call}:{output}")
        ref.call, ref.output = call, output
        return ref

    def __reduce__(self):
        return (TensorRef, (self.call, self.output, 1 if str(self) == self.call else 2))


@dataclass(frozen=True)
class WeightRecord:
    """One weight variable of a layer: its path below the layer, shape, whether training changes
    it, and its role (`kernel`, `bias`, `gamma`, ...: the last part of the path by default; a
    frontend names it when the framework calls it otherwise)."""

    name: str
    shape: tuple[int, ...]
    trainable: bool
    role: str = ""

    def __post_init__(self) -> None:
        if not self.role:
            object.__setattr__(self, "role", self.name.rsplit("/", 1)[-1])

    @property
    def scope(self) -> str:
        """The path of the sub-layer that owns the weight (`forward_lstm/lstm_cell`), or ``."""
        return self.name[: -len(self.role)].rstrip("/") if self.name.endswith(self.role) else ""

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class TensorRecord:
    """A model input or output: its name and shape (batch dimension `None`)."""

    name: str
    shape: Shape


@dataclass(frozen=True)
class LayerRecord:
    """One call of a layer, as the generator sees it.

    `type` keys the layer handlers (Keras's class names are the vocabulary: a PyTorch `nn.Conv2d`
    is a `Conv2D` with `layout="channels_first"`); `attrs` are its normalised attributes (see the
    module's docstring) and `framework_type` what the framework called it (`nn.Conv2d`).
    `input_shapes`/`output_shapes` hold one shape per tensor of this call. `inbound` names the
    call's inputs in order (keyword tensors such as `initial_state` last), as `TensorRef`s.
    A layer called twice is two records; the second is named `name@1` and `shares` names the
    first, whose weights both use (they count once). `output_names` says what each output of a
    multi-output call is ("output", "state h", ...). `framework_params`/`framework_trainable` are
    the framework's own counts (Keras's `count_params()`, PyTorch's `numel()`), kept to check ours
    against and to report layers no handler knows. `children` is
    the inner graph of a nested model.
    """

    name: str
    type: str
    attrs: dict[str, Any]
    input_shapes: tuple[Shape, ...]
    output_shapes: tuple[Shape, ...]
    inbound: tuple[str, ...]
    weights: tuple[WeightRecord, ...]
    framework_params: int
    framework_trainable: int
    code: str = ""
    children: ModelGraph | None = None
    shares: str = ""
    output_names: tuple[str, ...] = ()
    trainable: bool = True
    framework_type: str = ""

    @property
    def input_shape(self) -> Shape:
        return self.input_shapes[0]

    @property
    def output_shape(self) -> Shape:
        return self.output_shapes[0]

    @property
    def layer_name(self) -> str:
        """The Keras layer this call belongs to (its weights are stored under this name)."""
        return self.shares or self.name

    @property
    def inbound_calls(self) -> tuple[str, ...]:
        """The calls (or model inputs) this one reads, without the `:k` output suffix."""
        return tuple(as_ref(ref).call for ref in self.inbound)

    @property
    def layout(self) -> str:
        return self.attrs.get("layout", "channels_last")

    @property
    def channels_first(self) -> bool:
        return self.layout == "channels_first"

    def weight(self, name: str) -> WeightRecord | None:
        return next((w for w in self.weights if w.name == name), None)

    def weight_by_role(self, role: str) -> WeightRecord | None:
        """The weight with this role (`kernel`, `bias`, ...), the first if several have it."""
        return next((w for w in self.weights if w.role == role), None)


def reference(call: str, output: int, outputs: int) -> TensorRef:
    """How a call's input names one tensor: `lstm` for a single output, `lstm:1` otherwise."""
    return TensorRef(call, output, outputs)


def as_ref(ref: str) -> TensorRef:
    """`ref` as a `TensorRef`; a plain string (written by hand, say) names output 0 or `:k`."""
    if isinstance(ref, TensorRef):
        return ref
    call, sep, index = ref.rpartition(":")
    if sep and index.isdigit():
        return TensorRef(call, int(index), 2)
    return TensorRef(ref)


@dataclass(frozen=True)
class ModelGraph:
    """A whole model: inputs, outputs and layer calls in an order where every call follows the
    calls it reads. `outputs` are named by reference (`lstm:0`, `dense@1`). `weight_values` maps
    `(call name, weight name)` to arrays when the frontend was asked to read them (the composed
    equation needs them; shapes do not); a shared layer's calls map to the same arrays."""

    name: str
    type: str
    inputs: tuple[TensorRecord, ...]
    outputs: tuple[TensorRecord, ...]
    layers: tuple[LayerRecord, ...]
    output_layers: tuple[str, ...] = ()
    framework: str = "keras"
    weight_values: dict[tuple[str, str], Any] = field(default_factory=dict, compare=False)

    @property
    def framework_name(self) -> str:
        """ "Keras" or "PyTorch", as checks and pages name the model's framework."""
        return FRAMEWORK_NAMES.get(self.framework, self.framework)

    def layer(self, name: str) -> LayerRecord:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    @property
    def framework_params(self) -> int:
        return sum(layer.framework_params for layer in self.layers if not layer.shares)

    @property
    def is_chain(self) -> bool:
        """Whether the model is one chain: one input, each call reading only the call before."""
        if len(self.inputs) != 1 or len(self.outputs) != 1 or not self.layers:
            return False
        previous = self.inputs[0].name
        for layer in self.layers:
            if layer.inbound != (previous,) or len(layer.output_shapes) != 1:
                return False
            previous = layer.name
        return self.outputs[0].name == previous
