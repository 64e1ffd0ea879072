"""`course math --gradients` and `publish()`'s gradients, as a user runs them: saved `.keras`
files, the CLI through click's runner, every figure compared with `tf.GradientTape` computed
here on the loaded model."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from click.testing import CliRunner

from generator.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]


def _cnn():
    import keras

    L = keras.layers
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((9, 9, 2), name="image"),
            L.Conv2D(3, 3, strides=2, padding="same", dilation_rate=1, activation="relu"),
            L.Conv2D(4, 2, dilation_rate=2, activation="tanh"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(3, activation="softmax"),
        ],
        name="small_cnn",
    )


def _mlp():
    import keras

    keras.utils.set_random_seed(2)
    return keras.Sequential(
        [
            keras.Input((4,), name="x"),
            keras.layers.Dense(5, activation="tanh"),
            keras.layers.Dense(3, activation="sigmoid"),
            keras.layers.Dense(2),
        ],
        name="mlp",
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The models saved to `.keras`, and a sample for each (`.npy`)."""
    directory = tmp_path_factory.mktemp("models")
    rng = np.random.default_rng(5)
    out = {}
    for name, build, shape in [("cnn", _cnn, (3, 9, 9, 2)), ("mlp", _mlp, (4, 4))]:
        build().save(directory / f"{name}.keras")
        np.save(directory / f"{name}.npy", rng.normal(size=shape).astype("float32"))
        out[name] = (directory / f"{name}.keras", directory / f"{name}.npy")
    return out


def _run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["math", *map(str, args)])
    return result.exit_code, result.stdout


def _tape(path, sample, loss_name: str):
    """TensorFlow's `dL/dW` of every trainable weight of the loaded model, by variable path,
    with the target the command draws (`seeded_target`: the same seed, the loss's kind)."""
    import keras
    import tensorflow as tf

    from generator.equation.losses import loss_named, seeded_target

    model = keras.saving.load_model(path)
    loss = loss_named(loss_name)
    y = seeded_target(loss, model(sample).shape, 0).astype("float32")
    with tf.GradientTape() as tape:
        value = getattr(keras.losses, loss.keras)()(y, model(sample))
    grads = tape.gradient(value, model.trainable_weights)
    pairs = zip(model.trainable_weights, grads, strict=True)
    return model, y, {v.path: np.asarray(g) for v, g in pairs}


def test_small_cnn_gradients_in_json_match_gradient_tape(saved):
    path, sample_path = saved["cnn"]
    code, out = _run(path, "--gradients", "--format", "json", "--sample", sample_path)
    assert code == 0, out
    data = json.loads(out)
    grads = data["gradients"]
    assert grads["loss"] == "categorical_crossentropy"  # a softmax output, no compiled loss
    assert [c["passed"] for c in grads["checks"]] == [True]
    assert {c["name"] for c in data["checks"]} >= {"gradients vs tf.GradientTape"}
    # Every trainable weight and the input were compared: 3 layers with kernel and bias.
    assert len([k for k in grads["differences"] if "/" in k]) == 6
    assert "input image" in grads["differences"]
    types = [layer["type"] for layer in grads["layers"]]
    assert types == ["Conv2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    assert all(layer["backward_latex"] for layer in grads["layers"])
    # The worked weight: the last Dense kernel's entry, against TensorFlow here.
    model, _, tape = _tape(path, np.load(sample_path), "categorical_crossentropy")
    worked = grads["worked_example"]
    j, i = worked["index"]
    kernel = tape[model.layers[-1].kernel.path]
    assert np.isclose(worked["value"], kernel[i, j], atol=1e-6)
    assert np.isclose(sum(d * a for d, a in worked["terms"]), kernel[i, j], atol=1e-6)
    assert len(worked["terms"]) == 3  # one product per item of the sample


def test_mlp_closed_form_from_json_runs_and_matches_gradient_tape(saved):
    path, sample_path = saved["mlp"]
    code, out = _run(path, "--loss", "mse", "--format", "json", "--sample", sample_path)
    assert code == 0, out
    form = json.loads(out)["gradients"]["closed_form"]
    assert form is not None and len(form["gradients_latex"]) == 6
    sample = np.load(sample_path)
    model, y, tape = _tape(path, sample, "mse")
    namespace: dict = {}
    exec(form["numpy"], namespace)  # the printed NumPy, as a learner would paste it
    weights = {}
    for k, layer in enumerate(model.layers, start=1):
        weights[f"kernel_{k}"], weights[f"bias_{k}"] = (
            np.asarray(w, np.float64) for w in layer.get_weights()
        )
    ours = namespace["gradients"](sample.astype(np.float64), y.astype(np.float64), **weights)
    for layer in model.layers:
        for role in ("kernel", "bias"):
            theirs = tape[getattr(layer, role).path]
            assert np.allclose(ours[f"{layer.name}/{role}"], theirs, atol=1e-6), layer.name


def test_markdown_collapses_the_gradients_and_latex_has_them(saved):
    path, sample_path = saved["cnn"]
    code, out = _run(path, "--gradients", "--sample", sample_path)
    assert code == 0, out
    section = out[out.index('??? note "Gradients (loss: categorical_crossentropy)"') :]
    assert "transposed convolution" in section and "passed" in section
    assert section.count("$$") >= 2 * 8  # the loss, the chain rule, 5 layers, the worked one
    body = section.splitlines()[1:]
    assert all(not line.strip() or line.startswith("    ") for line in body)  # all collapsed
    code, tex = _run(path, "--gradients", "--format", "latex", "--sample", sample_path)
    assert code == 0 and r"\subsection*{Gradients}" in tex and r"\end{document}" in tex
    code, plain = _run(path, "--sample", sample_path)
    assert code == 0 and "Gradients" not in plain  # only when asked for


def test_failing_gradient_check_fails_the_command(saved, monkeypatch):
    import generator.equation.gradients as gradients

    monkeypatch.setattr(gradients, "TOLERANCE", -1.0)  # no difference can pass
    path, _ = saved["mlp"]
    result = CliRunner().invoke(main, ["math", str(path), "--gradients", "--format", "json"])
    assert result.exit_code == 1
    assert "check 'gradients vs tf.GradientTape' failed" in result.stderr
    assert str(path) in result.stderr


def test_bad_loss_and_torch_archive_are_one_line_errors(saved, tmp_path):
    path, _ = saved["mlp"]
    result = CliRunner().invoke(main, ["math", str(path), "--loss", "hinge"])
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert "\n" not in line and "'hinge'" in line and "mean_squared_error" in line
    archive = tmp_path / "net.pt2"
    result = CliRunner().invoke(main, ["math", str(archive), "--gradients"])
    assert result.exit_code == 1 and "needs a Keras model" in result.stderr


def test_publish_saves_the_gradients_as_plain_data(saved, tmp_path, monkeypatch):
    """The build renders pages from the pickle without TensorFlow: the gradients are in it."""
    import keras

    import generator.site.publish as publishing
    from generator import publish
    from generator.render.markdown import model_page

    path, sample_path = saved["cnn"]
    monkeypatch.setenv(publishing.ARTIFACTS_ENV, str(tmp_path))
    publish(keras.saving.load_model(path), name="cnn", sample=np.load(sample_path), show=False)
    math = pickle.loads((tmp_path / f"cnn{publishing.MATH_SUFFIX}").read_bytes())
    assert math.gradients.passed and math.gradients.worked is not None
    page = model_page(math)
    assert '??? note "Gradients' in page and "tf.GradientTape" in page
    # A model above the limit gets a page that says why it has no gradients (ResNet50's case).
    monkeypatch.setattr(publishing, "MAX_GRADIENT_LAYERS", 3)
    publish(keras.saving.load_model(path), name="big", show=False)
    math = pickle.loads((tmp_path / f"big{publishing.MATH_SUFFIX}").read_bytes())
    assert "5 layers, above the site's limit of 3" in model_page(math)


def _branched():
    import keras

    L = keras.layers
    keras.utils.set_random_seed(4)
    x = keras.Input((6, 6, 2), name="image")
    a = L.Conv2D(3, 3, padding="same", activation="relu")(x)
    b = L.Conv2D(3, 1)(x)
    y = L.BatchNormalization(gamma_initializer="random_normal")(L.Add()([a, b]))
    y = L.Concatenate()([L.MaxPooling2D(2)(y), L.AveragePooling2D(2)(b)])
    return keras.Model(x, L.Dense(2, activation="sigmoid")(L.Flatten()(y)), name="branched")


def _recurrent():
    import keras

    keras.utils.set_random_seed(5)
    return keras.Sequential(
        [
            keras.Input((5, 3), name="steps"),
            keras.layers.SimpleRNN(4, return_sequences=True),
            keras.layers.SimpleRNN(3),
            keras.layers.Dense(2),
        ],
        name="recurrent",
    )


@pytest.mark.parametrize(
    "build, loss",
    [(_branched, "binary_crossentropy"), (_recurrent, "mean_squared_error")],
    ids=["branched", "rnn"],
)
def test_every_call_weight_and_input_is_compared(build, loss, tmp_path):
    """The check covers what Keras lists: every layer call's output, every trainable weight,
    every input; a branch point's gradient is the sum of its readers'."""
    path = tmp_path / "model.keras"
    model = build()
    model.save(path)
    code, out = _run(path, "--loss", loss, "--format", "json")
    assert code == 0, out
    grads = json.loads(out)["gradients"]
    assert grads["loss"] == loss and grads["checks"][0]["passed"]
    calls = [layer.name for layer in model.layers if type(layer).__name__ != "InputLayer"]
    compared = set(grads["differences"])
    weights = {k for k in compared if "/" in k}
    assert compared - weights == {*calls, *(f"input {t.name}" for t in model.inputs)}
    assert len(weights) == len(model.trainable_weights)
    assert {k.split("/")[0] for k in weights} == {
        layer.name for layer in model.layers if layer.trainable_weights
    }
    assert max(grads["differences"].values()) <= 1e-4
    read_twice = [s for s in grads["chain_rule"] if s["text"].startswith("the sum over")]
    assert len(read_twice) == (2 if build is _branched else 0)  # the input and conv b
