"""The framework-neutral model description: a graph of layer records.

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
    """One layer as the generator sees it.

    `input_shapes`/`output_shapes` hold one shape per tensor of the layer's first call in the
    model. `keras_params`/`keras_trainable` are Keras's own counts, kept to check ours against
    and to report layers no handler knows. `children` is the inner graph of a nested model.
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

    @property
    def input_shape(self) -> Shape:
        return self.input_shapes[0]

    @property
    def output_shape(self) -> Shape:
        return self.output_shapes[0]

    def weight(self, name: str) -> WeightRecord | None:
        return next((w for w in self.weights if w.name == name), None)


@dataclass(frozen=True)
class ModelGraph:
    """A whole model: inputs, outputs and layers in an order where every layer follows its
    inbound layers. `weight_values` maps `(layer name, weight name)` to arrays when the
    frontend was asked to read them (the composed equation needs them; shapes do not)."""

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
        return sum(layer.keras_params for layer in self.layers)
