"""The Keras tab's code rebuilds the model: run it, compare the rebuilt model with the original.

Each model is saved to `.keras` and loaded back, described by the frontend, written as code by
`generator.render.keras_code` (which reads only the IR), and the code is run. Keras is the
reference: the rebuilt model's layer classes and configs (names aside where the code does not
give them, initializers aside: code lines leave them to Keras's defaults), its wiring (each
call's inbound tensors in Keras's own config), `count_params()` and output shapes.
"""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]

_UNKNOWN = ("_initializer", "_regularizer", "_constraint")


def residual_block():
    import keras

    L = keras.layers
    x = keras.Input((8, 8, 4), name="image")
    h = L.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(x)
    h = L.Conv2D(4, 3, padding="same", name="conv_b")(h)
    out = L.Activation("relu", name="out")(L.Add(name="add")([h, x]))
    return keras.Model(x, L.Dense(3, name="head")(L.Flatten(name="flat")(out)), name="residual")


def inception_block():
    import keras

    L = keras.layers
    x = keras.Input((9, 9, 3), name="pixels")
    a = L.Conv2D(4, 1, activation="relu")(x)
    b = L.Conv2D(6, 3, padding="same", activation="relu")(L.Conv2D(2, 1)(x))
    c = L.Conv2D(3, 1)(L.MaxPooling2D(3, strides=1, padding="same")(x))
    y = L.Concatenate(axis=-1)([a, b, c])
    return keras.Model(x, L.GlobalAveragePooling2D()(y), name="inception")


def two_inputs_two_outputs():
    import keras

    L = keras.layers
    text = keras.Input((5,), name="text")
    meta = keras.Input((3,), name="meta")
    h = L.Concatenate()([L.Dense(8, activation="tanh")(text), meta])
    score = L.Dense(1, activation="sigmoid", name="score")(h)
    kind = L.Dense(4, activation="softmax", name="kind")(h)
    return keras.Model([text, meta], [score, kind], name="two_in_two_out")


def shared_layer():
    import keras

    L = keras.layers
    left = keras.Input((6,), name="left")
    right = keras.Input((6,), name="right")
    tower = L.Dense(5, activation="relu", name="tower")
    joined = L.Subtract()([tower(left), tower(right)])
    return keras.Model([left, right], L.Dense(1)(joined), name="siamese")


def sequential_cnn():
    import keras

    L = keras.layers
    layers = [
        keras.Input((12, 12, 1)),
        L.Conv2D(4, (3, 3), activation="relu"),
        L.MaxPooling2D((2, 2)),
        L.BatchNormalization(),
        L.Flatten(),
        L.Dropout(0.25),
        L.Dense(3, activation="softmax"),
    ]
    return keras.Sequential(layers, name="small_cnn")


def nested_and_states():
    """A Sequential inside a functional model, an LSTM's states fed by keyword, an operation."""
    import keras

    L = keras.layers
    tokens = keras.Input((7, 4), name="tokens")
    encoder = keras.Sequential([keras.Input((7, 4)), L.Dense(6, activation="relu")], name="enc")
    h = encoder(tokens)
    seq, state_h, state_c = L.LSTM(5, return_sequences=True, return_state=True, name="lstm")(h)
    out = L.LSTM(5, name="decoder")(seq, initial_state=[state_h, state_c])
    return keras.Model(tokens, keras.ops.add(out, 1.5), name="nested_states")


MODELS = [
    residual_block,
    inception_block,
    two_inputs_two_outputs,
    shared_layer,
    sequential_cnn,
    nested_and_states,
]


def _config(layer) -> dict:
    return {
        key: value
        for key, value in layer.get_config().items()
        if key != "name" and not key.endswith(_UNKNOWN)
    }


def _wiring(model) -> list:
    """Each layer's calls as Keras's config stores them: inbound tensors by layer name.

    A `keras.ops` call takes no name, so Keras numbers it from a global counter: operations
    are named by their order in the config instead.
    """
    layers = model.get_config()["layers"]
    ops = [layer["name"] for layer in layers if ".ops." in (layer.get("module") or "")]
    rename = {name: f"operation {k}" for k, name in enumerate(ops)}

    def named(text: str) -> str:
        return re.sub(
            r"'keras_history': \['([^']+)'",
            lambda m: f"'keras_history': ['{rename.get(m.group(1), m.group(1))}'",
            text,
        )

    return sorted(
        (rename.get(layer["name"], layer["name"]), named(repr(layer["inbound_nodes"])))
        for layer in layers
    )


@pytest.mark.parametrize("build", MODELS, ids=lambda b: b.__name__)
def test_keras_code_rebuilds_the_model(build, tmp_path):
    import keras

    from generator.model.frontend import describe_model
    from generator.render.keras_code import keras_code

    path = tmp_path / "model.keras"
    build().save(path)
    original = keras.models.load_model(path)
    code = keras_code(describe_model(original))
    namespace: dict = {}
    exec(compile(code, f"<keras code of {original.name}>", "exec"), namespace)  # noqa: S102
    rebuilt = namespace["model"]

    assert type(rebuilt).__name__ == type(original).__name__
    assert rebuilt.name == original.name
    assert rebuilt.count_params() == original.count_params()
    assert rebuilt.output_shape == original.output_shape
    if isinstance(original, keras.Sequential):  # the code names no layer: compare in order
        pairs = list(zip(original.layers, rebuilt.layers, strict=True))
    else:
        assert [t.name for t in rebuilt.inputs] == [t.name for t in original.inputs]
        assert _wiring(rebuilt) == _wiring(original)
        by_name = {layer.name: layer for layer in rebuilt.layers}
        pairs = [(layer, by_name[layer.name]) for layer in original.layers]
    for before, after in pairs:
        _check_same_layer(before, after)


def _check_same_layer(before, after) -> None:
    """Same class and configuration; a nested model layer by layer (its code names none)."""
    assert type(after) is type(before), before.name
    if hasattr(before, "layers"):
        assert after.count_params() == before.count_params(), before.name
        for inner_before, inner_after in zip(before.layers, after.layers, strict=True):
            _check_same_layer(inner_before, inner_after)
    else:
        assert _config(after) == _config(before), before.name


def test_functional_code_names_what_feeds_each_call(tmp_path):
    import keras

    from generator.model.frontend import describe_model
    from generator.render.keras_code import keras_code

    path = tmp_path / "model.keras"
    residual_block().save(path)
    code = keras_code(describe_model(keras.models.load_model(path)))
    assert 'image = keras.Input(shape=(8, 8, 4), name="image")' in code
    assert 'add = layers.Add(name="add")([conv_b, image])' in code
    assert 'model = keras.Model(image, head, name="residual")' in code
