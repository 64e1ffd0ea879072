"""The wrappers' equation objects: two recurrent passes merged, or one layer at every time step.

Each evaluates the inner layer's own equation object on the inner layer's weights (the wrapper's
weights under the inner layer's name, with that prefix taken off).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from generator.layers.recurrent_system import RecurrentSystem, split_inputs
from generator.layers.registry import LayerEquation, SampledPositions, WorkedExample, at_positions

MERGES = {
    "concat": lambda f, b: np.concatenate([f, b], axis=-1),
    "sum": lambda f, b: f + b,
    "mul": lambda f, b: f * b,
    "ave": lambda f, b: (f + b) / 2,
}


def inner_weights(weights: Mapping[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    """The weights of the wrapped layer `name`, named as that layer names them.

    A wrapper of one layer may hold them with or without that layer's name in front (Keras's
    paths differ between a model built in memory and the same model loaded from a file)."""
    prefix = name + "/"
    if not any(k.startswith(prefix) for k in weights):
        return dict(weights)
    return {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}


@dataclass(frozen=True)
class BidirectionalEquation(SampledPositions):
    """A forward and a backward recurrent pass over the same sequence, merged.

    Keras runs the backward pass from the last step down and, returning sequences, turns its
    outputs back into time order before merging; masked steps then output zeros.
    """

    text: str
    forward: LayerEquation
    backward: LayerEquation
    forward_name: str
    backward_name: str
    merge_mode: str | None

    def latex(self) -> str:
        return self.text

    def passes(self) -> tuple[LayerEquation, LayerEquation]:
        """The two inner equations as Keras runs them inside the wrapper."""
        out = []
        for eq, backwards in ((self.forward, False), (self.backward, True)):
            if isinstance(eq, RecurrentSystem):
                sequences = bool(eq.attrs.get("return_sequences"))
                forward_goes_back = bool(self.forward.attrs.get("go_backwards"))  # type: ignore[attr-defined]
                eq = replace(
                    eq,
                    attrs={
                        **eq.attrs,
                        "zero_output_for_mask": sequences,
                        "go_backwards": forward_goes_back != backwards,
                    },
                )
            out.append(eq)
        return out[0], out[1]

    def outputs(
        self, inputs: Sequence[np.ndarray], weights: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each pass's first output, the backward one in time order when it is a sequence."""
        x, states, mask = split_inputs(inputs)
        half = len(states) // 2
        extra = [mask] if mask is not None else []
        forward, backward = self.passes()
        f = forward.evaluate([x, *states[:half], *extra], inner_weights(weights, self.forward_name))
        b = backward.evaluate(
            [x, *states[half:], *extra], inner_weights(weights, self.backward_name)
        )
        if b.ndim == 3:
            b = b[:, ::-1]
        return np.asarray(f), np.asarray(b)

    def evaluate(
        self,
        inputs: Sequence[np.ndarray],
        weights: Mapping[str, np.ndarray],
        positions: np.ndarray | None = None,
    ) -> np.ndarray:
        f, b = self.outputs(inputs, weights)
        merged = f if self.merge_mode not in MERGES else MERGES[self.merge_mode](f, b)
        return at_positions(merged, positions)

    def worked_example(
        self,
        inputs: Sequence[np.ndarray],
        weights: Mapping[str, np.ndarray],
        index: tuple[int, ...] | None = None,
    ) -> WorkedExample | None:
        """The forward pass's worked example, at the same place in the merged output."""
        forward, _ = self.passes()
        x, states, mask = split_inputs(inputs)
        half = len(states) // 2
        first = forward.worked_example(
            [x, *states[:half], *([mask] if mask is not None else [])],
            inner_weights(weights, self.forward_name),
            index,
        )
        if first is None:
            return None
        value = float(self.evaluate(inputs, weights)[(0, *first.index)][()])
        merge = {
            "concat": r"\text{concatenated: this unit comes from the forward pass}",
            "sum": r"\text{plus the backward pass's value}",
            "mul": r"\text{times the backward pass's value}",
            "ave": r"\text{averaged with the backward pass's value}",
        }.get(self.merge_mode or "", r"\text{the forward output (not merged)}")
        position = ",".join(str(int(i)) for i in first.index)
        latex = (
            first.latex.replace(r" \end{aligned}", "")
            + rf" \\ &{merge} \\ a_{{{position}}} &= {value:.4g} \end{{aligned}}"
        )
        return WorkedExample(first.index, value, latex)


@dataclass(frozen=True)
class TimeDistributedEquation(SampledPositions):
    """The inner layer's equation at every time step, with the same weights."""

    text: str
    inner: LayerEquation
    inner_name: str

    def latex(self) -> str:
        return self.text

    def evaluate(
        self,
        inputs: Sequence[np.ndarray],
        weights: Mapping[str, np.ndarray],
        positions: np.ndarray | None = None,
    ) -> np.ndarray:
        x = np.asarray(inputs[0])
        batch, steps = x.shape[:2]
        flat = x.reshape(batch * steps, *x.shape[2:])
        out = np.asarray(self.inner.evaluate([flat], inner_weights(weights, self.inner_name)))
        return at_positions(out.reshape(batch, steps, *out.shape[1:]), positions)

    def worked_example(
        self,
        inputs: Sequence[np.ndarray],
        weights: Mapping[str, np.ndarray],
        index: tuple[int, ...] | None = None,
    ) -> WorkedExample | None:
        """The inner layer's worked example at step 0."""
        x = np.asarray(inputs[0])[:1]
        step = 0 if index is None else index[0]
        inner_index = None if index is None else tuple(index[1:])
        example = self.inner.worked_example(
            [x[:, step]], inner_weights(weights, self.inner_name), inner_index
        )
        if example is None:
            return None
        text = rf"\text{{at step }} t = {step}: \quad " + example.latex
        return WorkedExample((step, *example.index), example.value, text)
