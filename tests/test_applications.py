"""The `keras.applications` models, layer by layer against Keras (random weights, no download).

Small inputs keep it fast where the architecture allows; ResNet50 runs at its default 224x224.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

# (name, input shape or None for the default); each the smallest the model accepts, or near it.
APPLICATIONS = [
    ("VGG16", (32, 32, 3)),
    ("ResNet50", None),
    ("MobileNetV2", (96, 96, 3)),
    ("MobileNetV3Small", (96, 96, 3)),
    ("DenseNet121", (32, 32, 3)),
    ("InceptionV3", (75, 75, 3)),
    ("Xception", (71, 71, 3)),
    ("EfficientNetB0", (32, 32, 3)),
]


def _size(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _build(name, input_shape):
    import keras

    kwargs = {"weights": None}
    if input_shape is not None:
        kwargs["input_shape"] = input_shape
    return getattr(keras.applications, name)(**kwargs)


@pytest.mark.parametrize("name, input_shape", APPLICATIONS, ids=[a[0] for a in APPLICATIONS])
def test_application_matches_keras(name, input_shape):
    from generator.layers.derive import derive_model
    from generator.model.frontend import describe_model

    model = _build(name, input_shape)
    math = derive_model(describe_model(model))
    graph_model = getattr(model, "_functional", None) or model
    operations = {
        node.operation.name: node.operation
        for nodes in graph_model._nodes_by_depth.values()
        for node in nodes
    }

    unknown = sorted({layer.record.type for layer in math.layers if not layer.known})
    assert not unknown, f"{name}: no handler for {unknown}"
    for layer in math.layers:
        op = operations[layer.record.name]
        keras_shape = tuple(op.output.shape) if hasattr(op, "output") else None
        derived = layer.shape.shape
        assert derived == layer.record.output_shape, f"{name}/{layer.record.name}"
        if keras_shape is not None:
            assert derived == keras_shape, f"{name}/{layer.record.name}"
        keras_count = op.count_params() if hasattr(op, "count_params") else 0
        assert layer.params.total == keras_count, f"{name}/{layer.record.name}"
        formula = layer.params_formula
        assert formula is not None and eval(formula) == keras_count  # noqa: S307
    assert math.total_params == model.count_params()
    trainable = sum(layer.params.trainable for layer in math.layers)
    assert trainable == sum(_size(w.shape) for w in model.trainable_weights)
    assert all(check.passed for check in math.checks), math.checks
    if name == "ResNet50":
        assert len(math.layers) == len(model.layers) - 1  # every layer but the input
        assert math.total_params == 25_636_712
