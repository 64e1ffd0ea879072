"""In-page exercises: the answer the generator derives is Keras's own shape or count."""

from __future__ import annotations

from pathlib import Path

import pytest

keras = pytest.importorskip("keras")

from generator import exercise  # noqa: E402
from generator.render.exercise import EXERCISE_KEY, ExerciseError, answer_hash  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]

L = keras.layers


def _sequential(shape, *layers, name="m"):
    return keras.Sequential([keras.Input(shape, name="x"), *layers], name=name)


def _inception():
    x = keras.Input((8, 8, 16), name="x")
    b1 = L.Conv2D(8, 1, name="b1")(x)
    b2 = L.Conv2D(16, 3, padding="same", name="b2")(x)
    b3 = L.Conv2D(8, 1, name="b3")(L.MaxPooling2D(3, strides=1, padding="same", name="p")(x))
    return keras.Model(x, L.Concatenate(name="concat")([b1, b2, b3]), name="inception")


MODELS = {
    "conv5x5": lambda: _sequential((32, 32, 3), L.Conv2D(16, (5, 5), name="conv")),
    "strided_same": lambda: _sequential(
        (32, 32, 3), L.Conv2D(16, 5, strides=2, padding="same", name="conv")
    ),
    "pool3x3": lambda: _sequential(
        (32, 32, 3), L.Conv2D(32, 3, name="conv"), L.MaxPooling2D(3, name="pool")
    ),
    "flatten_dense": lambda: _sequential(
        (32, 32, 3),
        L.Conv2D(8, 3, padding="same", name="conv1"),
        L.MaxPooling2D(2, name="pool"),
        L.Flatten(name="flatten"),
        L.Dense(128, name="fc1"),
    ),
    "transposed": lambda: _sequential((7, 7, 8), L.Conv2DTranspose(8, 3, strides=2, name="up")),
    "lstm": lambda: _sequential((None, 32), L.LSTM(64, name="lstm")),
    "dense_342": lambda: _sequential((3,), L.Dense(4, name="hidden"), L.Dense(2, name="out")),
    "inception": _inception,
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict:
    """Each model saved to a `.keras` file and loaded back, as a user's would be."""
    folder = tmp_path_factory.mktemp("exercises")
    loaded = {}
    for name, build in MODELS.items():
        path = Path(folder) / f"{name}.keras"
        build().save(path)
        loaded[name] = keras.saving.load_model(path)
    return loaded


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shape_of_every_layer_is_keras_s(saved, name) -> None:
    model = saved[name]
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        keras_shape = tuple(layer.output.shape[1:])
        question = exercise(model, "shape", f"The shape of {layer.name}?", layer.name)
        keras_answer = ", ".join("None" if d is None else str(d) for d in keras_shape)
        assert question.digest == answer_hash(keras_answer, "shape", question.salt), layer.name
        wrong = ", ".join(str((d or 0) + 1) for d in keras_shape)
        assert question.digest != answer_hash(wrong, "shape", question.salt)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_counts_are_keras_s(saved, name) -> None:
    model = saved[name]
    whole = exercise(model, "count", "How many parameters?")
    assert whole.digest == answer_hash(f"{model.count_params():,}", "count", whole.salt)
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        one = exercise(model, "count", f"Parameters of {layer.name}?", layer.name)
        assert one.digest == answer_hash(str(layer.count_params()), "count", one.salt)
        assert one.digest != answer_hash(str(layer.count_params() + 1), "count", one.salt)


def test_check_in_the_notebook_says_right_or_wrong(saved, capsys) -> None:
    question = exercise(saved["conv5x5"], "shape", "The output shape?")
    assert question.check((28, 28, 16)) and question.check("28x28x16")
    assert not question.check("(30, 30, 16)")
    assert capsys.readouterr().out.splitlines() == ["Right.", "Right.", "Not quite: try again."]


def test_the_notebook_shows_the_question_not_the_answer(saved) -> None:
    data, metadata = exercise(
        saved["flatten_dense"], "count", "How many?", "fc1"
    )._repr_mimebundle_()
    assert "How many?" in data["text/markdown"] and ".check(" in data["text/markdown"]
    info = metadata[EXERCISE_KEY]
    assert set(info) == {"question", "kind", "salt", "hash", "hint"}
    count = saved["flatten_dense"].get_layer("fc1").count_params()
    assert str(count) not in " ".join(data.values()) + info["question"] + info["hint"]


def test_bad_questions_name_the_model_and_what_is_valid(saved) -> None:
    with pytest.raises(ExerciseError, match=r"model 'm'.*no layer 'nope'.*conv"):
        exercise(saved["conv5x5"], "shape", "?", "nope")
    with pytest.raises(ExerciseError, match="shape, count"):
        exercise(saved["conv5x5"], "size", "?")
