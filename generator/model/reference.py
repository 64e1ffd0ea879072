"""The framework a model came from, as the reference every derived figure is checked against.

A `Reference` is what the checks ask of Keras or PyTorch, and nothing more: run the whole model
(`predict`), run it once keeping every layer call's inputs and outputs (`probe`), name a fused
activation the config could not (`activation_name`), and the reference of a nested model. The
derivation never calls a framework itself; `generator.equation.analyze` hands it a reference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from generator.model.graph import ModelGraph
from generator.model.keras_trace import traced
from generator.model.probe import Probe


@dataclass(frozen=True)
class Reference:
    """What the checks ask the model's own framework.

    Attributes:
        name: "Keras" or "PyTorch", as the checks print it (`... vs PyTorch`).
        predict: the model's outputs (one array each) for its inputs (one array each).
        probe: every layer call's arrays on a sample (`None`: a seeded random one).
        activation_name: the activation table's name of a layer's fused activation found by
            evaluating it, or `None`; used only for names the config does not give.
        inner: the reference of a nested model, by the nesting layer's name.
        described_at: the model described at the lengths a probe ran it with, for a model
            that leaves lengths open (`(None, None, 3)`): a strided `same` padding is numbers
            only once the length is known.
    """

    name: str
    predict: Callable[[Sequence[np.ndarray]], list[np.ndarray]]
    probe: Callable[[Any, int], Probe]
    activation_name: Callable[[str], str | None] | None = None
    inner: Callable[[str, Sequence[np.ndarray]], Reference | None] | None = None
    described_at: Callable[[Probe], ModelGraph] | None = None


def keras_reference(model: Any) -> Reference:
    """Keras as the reference for `model` (a built `keras.Model`); Keras is imported lazily."""
    from generator.model.probe import probe_layers

    def predict(inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        feed = inputs[0] if len(inputs) == 1 else list(inputs)
        out = model.predict(feed, verbose=0)
        return [np.asarray(o) for o in (out if isinstance(out, list | tuple) else [out])]

    def inner(name: str, inputs: Sequence[np.ndarray]) -> Reference | None:
        nested = model.get_layer(name)
        if not hasattr(nested, "_nodes_by_depth") and getattr(nested, "_functional", None) is None:
            nested = traced(nested)  # a composite custom layer: the graph its call was traced to
            if nested is None:
                return None
        reference = keras_reference(nested)
        given = list(inputs)
        return Reference(
            reference.name,
            reference.predict,
            lambda sample, seed: probe_layers(nested, given, seed=seed),
            reference.activation_name,
            reference.inner,
        )

    def described_at(probe: Probe) -> ModelGraph:
        from generator.model.frontend import describe_model

        shapes = {
            name: tuple(
                tuple((None, *a.shape[1:]) for a in arrays) for arrays in (io.inputs, io.outputs)
            )
            for name, io in probe.layers.items()
        }
        return describe_model(model, with_weights=True, run_shapes=shapes)

    return Reference(
        name="Keras",
        predict=predict,
        probe=lambda sample, seed: probe_layers(model, sample, seed=seed),
        activation_name=_keras_activation_prober(model),
        inner=inner,
        described_at=described_at,
    )


def _keras_activation_prober(model: Any) -> Callable[[str], str | None]:
    """Names a layer's activation by evaluating it: for functions Keras serialized by a
    custom name (a registered tanh-approximate GELU, say). Returns `None` if none matches."""
    from generator.model.activations import ACTIVATIONS, ELEMENTWISE, numpy_function

    points = np.linspace(-5.0, 5.0, 81)

    def probe(layer_name: str) -> str | None:
        try:
            import keras

            fn = model.get_layer(layer_name).activation
            values = np.asarray(
                keras.ops.convert_to_numpy(
                    fn(keras.ops.convert_to_tensor(points.astype(np.float32)))
                ),
                dtype=np.float64,
            )
        except Exception:  # noqa: BLE001 - a layer we cannot probe simply has no closed form
            return None
        for name in sorted(ELEMENTWISE):
            ours = numpy_function(name)(points, **ACTIVATIONS[name].params)
            if np.allclose(ours, values, atol=1e-5, rtol=1e-5):
                return name
        return None

    return probe
