"""The framework-neutral model description: a graph of layer calls.

The frontend (`generator.model.frontend`) builds these from a Keras model; every other part of the
generator reads only these records, so none of it needs TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Shape = tuple  # of int | None; None stands for the batch (or any unknown) dimension


@dataclass(frozen=True)
class WeightRecord:
    """One weight variable of a layer: its short name, shape and whether training changes it."""

    name: str
    shape: tuple[int, ...]
    trainable: bool

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

    `input_shapes`/`output_shapes` hold one shape per tensor of this call. `inbound` names the
    call's inputs in order (keyword tensors such as `initial_state` last): a model input's name,
    a call's name, or `name:k` for output `k` of a call with several outputs (see `reference`).
    A layer called twice is two records; the second is named `name@1` and `shares` names the
    first, whose weights both use (they count once). `output_names` says what each output of a
    multi-output call is ("output", "state h", ...). `keras_params`/`keras_trainable` are Keras's
    own counts, kept to check ours against and to report layers no handler knows. `children` is
    the inner graph of a nested model.
    """

    name: str
    type: str
    config: dict[str, Any]
    input_shapes: tuple[Shape, ...]
    output_shapes: tuple[Shape, ...]
    inbound: tuple[str, ...]
    weights: tuple[WeightRecord, ...]
    keras_params: int
    keras_trainable: int
    code: str = ""
    children: ModelGraph | None = None
    shares: str = ""
    output_names: tuple[str, ...] = ()

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
        return tuple(split_reference(ref)[0] for ref in self.inbound)

    def weight(self, name: str) -> WeightRecord | None:
        return next((w for w in self.weights if w.name == name), None)


def reference(call: str, output: int, outputs: int) -> str:
    """How a call's input names one tensor: `lstm` for a single output, `lstm:1` otherwise."""
    return call if outputs == 1 else f"{call}:{output}"


def split_reference(ref: str) -> tuple[str, int]:
    """`lstm:1` -> ("lstm", 1); a plain name -> (name, 0)."""
    call, sep, index = ref.rpartition(":")
    if sep and index.isdigit():
        return call, int(index)
    return ref, 0


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
    weight_values: dict[tuple[str, str], Any] = field(default_factory=dict, compare=False)

    def layer(self, name: str) -> LayerRecord:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    @property
    def keras_params(self) -> int:
        return sum(layer.keras_params for layer in self.layers if not layer.shares)

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
