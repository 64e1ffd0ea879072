"""Facts several stages share, each kept once, checked against Keras itself.

The activation table's NumPy column against `keras.activations`, and the layers that are the
identity at inference against their output. (The spatial rank read off a class name is checked by
every 1D/2D/3D row of `tests/test_layers.py` and `tests/test_torch.py` against Keras's shapes.)
"""

from __future__ import annotations

import numpy as np
import pytest

from generator.layers.common import INFERENCE_IDENTITY
from generator.model.activations import ACTIVATIONS, ELEMENTWISE
from tests.test_activations import numpy_column

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]

Z = np.linspace(-7.0, 7.0, 29).astype("float32")
#: Table rows whose Keras function has another name or needs an argument.
KERAS_NAMES = {
    "gelu_tanh": ("gelu", {"approximate": True}),
    "gelu": ("gelu", {"approximate": False}),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_numpy_column_is_keras_activation(name):
    import keras

    keras_name, kwargs = KERAS_NAMES.get(name, (name, {}))
    expected = np.asarray(keras.activations.get(keras_name)(Z, **kwargs))
    np.testing.assert_allclose(numpy_column(name)(Z), expected, rtol=2e-6, atol=2e-6)


def test_every_row_is_a_keras_activation():
    import keras

    for name in ACTIVATIONS:
        keras_name, _ = KERAS_NAMES.get(name, (name, {}))
        assert callable(keras.activations.get(keras_name)), name


@pytest.mark.parametrize("type_name", sorted(INFERENCE_IDENTITY))
def test_identity_layers_return_their_input_at_inference(type_name):
    import keras

    options = {"rate": 0.5, "stddev": 0.5, "l1": 0.1}
    layer_class = getattr(keras.layers, type_name)
    accepted = layer_class.__init__.__code__.co_varnames
    layer = layer_class(**{k: v for k, v in options.items() if k in accepted})
    rank = int(type_name[-2]) if type_name[-2:-1].isdigit() else 1
    x = np.random.default_rng(0).normal(size=(2, *([4] * rank), 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
