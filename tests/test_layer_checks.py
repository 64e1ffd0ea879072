"""Each layer's equation evaluated with NumPy against Keras's own output of that layer.

Every model is saved to `.keras` and loaded back first. The reference is Keras: the arrays each
layer returned inside the whole model; a wrong equation (monkeypatched) must fail the check.
"""

from __future__ import annotations

import json
import subprocess
import traceback

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]


def _cnn(L, x):
    h = L.Conv2D(4, 3, padding="same", activation="relu")(x)
    h = L.Conv2D(3, 3, strides=2)(h)
    return L.Dense(2)(h)


# (id, input shapes, build(layers, *inputs), layers whose equations must be compared)
MODELS = [
    ("cnn", [(9, 9, 2)], _cnn, 3),
    ("mlp", [(5,)], lambda L, x: L.Dense(2)(L.Dense(4, activation="tanh")(x)), 2),
    ("lstm", [(6, 3)], lambda L, x: L.LSTM(4)(x), 1),
    ("gru", [(6, 3)], lambda L, x: L.GRU(4, return_sequences=True, go_backwards=True)(x), 1),
    ("simple_rnn_seq", [(6, 3)], lambda L, x: L.SimpleRNN(4, return_sequences=True)(x), 1),
    ("bidirectional", [(6, 3)], lambda L, x: L.Bidirectional(L.LSTM(3))(x), 1),
    (
        "bidirectional_masked",
        [((6,), "int32")],
        lambda L, x: L.Bidirectional(L.GRU(3, return_sequences=True))(
            L.Embedding(9, 4, mask_zero=True)(x)
        ),
        1,
    ),
    ("mha", [(5, 8)], lambda L, x: L.MultiHeadAttention(2, 3)(x, x), 1),
    (
        "two_inputs",
        [(4, 6), (5, 6)],
        lambda L, q, v: L.Dense(2)(L.Attention(use_scale=True)([q, v])),
        2,
    ),
    (
        "initial_state",
        [(5, 3), (4,), (4,)],
        lambda L, x, h, c: L.LSTM(4, return_sequences=True)(x, initial_state=[h, c]),
        1,
    ),
]


def _saved(tmp_path, shapes, build):
    import keras

    inputs = []
    for spec in shapes:
        shape, dtype = spec if isinstance(spec[-1], str) else (spec, "float32")
        inputs.append(keras.Input(shape, dtype=dtype))
    model = keras.Model(inputs, build(keras.layers, *inputs))
    rng = np.random.default_rng(7)
    for layer in model.layers:  # random biases too: zero biases would hide a misplaced bias
        if layer.weights:
            layer.set_weights([rng.normal(scale=0.5, size=w.shape) for w in layer.get_weights()])
    path = tmp_path / "model.keras"
    model.save(path)
    return path, keras.saving.load_model(path)


@pytest.mark.parametrize(
    "shapes, build, compared", [m[1:] for m in MODELS], ids=[m[0] for m in MODELS]
)
def test_equations_agree_with_keras(tmp_path, shapes, build, compared):
    from generator.equation.analyze import analyze_model

    _, model = _saved(tmp_path, shapes, build)
    math = analyze_model(model)
    (check,) = [c for c in math.checks if c.name == "layer equations vs Keras"]
    assert check.passed, check.detail
    assert len(math.layer_checks) >= compared, check.detail
    assert check.detail.startswith(f"{len(math.layer_checks)} of {len(math.layer_checks)}")
    for name, result in math.layer_checks.items():
        assert result.passed and result.max_abs_error < 1e-4, (name, result)
        assert result.positions >= 1
    # Each worked example's value is Keras's own at that output position, first item.
    assert math.worked
    for name, worked in math.worked.items():
        assert worked.example.value == pytest.approx(worked.keras_value, abs=1e-4), name
        assert worked.example.latex.strip()


def test_nested_models_layers_are_checked_on_what_they_received(tmp_path):
    import keras

    from generator.equation.analyze import analyze_model

    inner = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, activation="relu", name="first"),
            keras.layers.Dense(2, name="second"),
        ],
        name="inner",
    )
    x = keras.Input((4,))
    model = keras.Model(x, inner(keras.layers.Dense(4, name="outer")(x)))
    model.save(tmp_path / "nested.keras")
    math = analyze_model(keras.saving.load_model(tmp_path / "nested.keras"))
    (check,) = [c for c in math.checks if c.name == "layer equations vs Keras"]
    assert check.passed and check.detail.startswith("3 of 3 layers agree"), check.detail
    assert {"outer", "inner/first", "inner/second"} <= set(math.layer_checks)


def test_a_wrong_equation_fails_the_check(tmp_path, monkeypatch):
    from generator.equation.analyze import analyze_model
    from generator.layers.recurrent_system import RecurrentSystem

    _, model = _saved(tmp_path, [(6, 3)], lambda L, x: L.LSTM(4)(x))
    right = RecurrentSystem.evaluate

    def off_by_a_little(self, inputs, weights, positions=None):
        return right(self, inputs, weights, positions) + 1e-2

    monkeypatch.setattr(RecurrentSystem, "evaluate", off_by_a_little)
    math = analyze_model(model)
    (check,) = [c for c in math.checks if c.name == "layer equations vs Keras"]
    assert not check.passed and not math.passed
    assert "0 of 1 layers agree" in check.detail and "lstm" in check.detail
    (result,) = math.layer_checks.values()
    assert not result.passed and result.max_abs_error == pytest.approx(1e-2, rel=1e-3)


def test_big_layers_are_sampled_with_their_corners(tmp_path):
    """A 40 x 40 x 8 convolution output is compared at sampled positions, corners included."""
    from generator.equation.analyze import analyze_model
    from generator.equation.layer_checks import POSITIONS

    _, model = _saved(tmp_path, [(40, 40, 3)], lambda L, x: L.Conv2D(8, 3, padding="same")(x))
    math = analyze_model(model)
    (result,) = math.layer_checks.values()
    assert result.passed and result.positions >= POSITIONS


def _course(*args) -> subprocess.CompletedProcess:
    """`course ARGS`, run in this process by click's runner (TensorFlow is imported once for
    the file, not once per call); an unexpected exception shows in stderr as its traceback, as
    it would in a terminal."""
    from click.testing import CliRunner

    from generator.cli import main

    result = CliRunner().invoke(main, [str(arg) for arg in args])
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, stderr)


def test_json_has_each_layers_check_and_worked_example(tmp_path):
    path, _ = _saved(tmp_path, [(6, 3)], lambda L, x: L.Dense(2)(L.SimpleRNN(4)(x)))
    result = _course("math", path, "--format", "json")
    assert result.returncode == 0, result.stderr
    layers = {layer["type"]: layer for layer in json.loads(result.stdout)["layers"]}
    for kind in ("SimpleRNN", "Dense"):
        check, worked = layers[kind]["equation_check"], layers[kind]["worked_example"]
        assert set(check) == {"passed", "max_abs_error", "positions"}
        assert check["passed"] is True and check["max_abs_error"] < 1e-4
        assert set(worked) == {"index", "value", "latex"} and worked["latex"]
        assert isinstance(worked["index"], list)


def test_sample_files(tmp_path):
    """`--sample`: the .npy's first item is the example; .npz by input name; bad files fail."""
    import keras

    path, model = _saved(tmp_path, [(4, 3)], lambda L, x: L.SimpleRNN(2, return_sequences=True)(x))
    sample = np.random.default_rng(3).uniform(-1, 1, size=(3, 4, 3)).astype("float32")
    np.save(tmp_path / "x.npy", sample)
    result = _course("math", path, "--format", "json", "--sample", tmp_path / "x.npy")
    assert result.returncode == 0, result.stderr
    (layer,) = json.loads(result.stdout)["layers"]
    t, j = layer["worked_example"]["index"]
    expected = np.asarray(model.predict(sample, verbose=0))[0, t, j]
    assert layer["worked_example"]["value"] == pytest.approx(float(expected), abs=1e-5)

    # Two inputs: an .npz keyed by input name.
    q, v = keras.Input((4, 6), name="query"), keras.Input((5, 6), name="values")
    two = keras.Model([q, v], keras.layers.Attention()([q, v]))
    two_path = tmp_path / "two.keras"
    two.save(two_path)
    rng = np.random.default_rng(4)
    arrays = {"query": rng.normal(size=(2, 4, 6)), "values": rng.normal(size=(2, 5, 6))}
    np.savez(tmp_path / "two.npz", **arrays)
    result = _course("math", two_path, "--format", "json", "--sample", tmp_path / "two.npz")
    assert result.returncode == 0, result.stderr
    (layer,) = json.loads(result.stdout)["layers"]
    t, j = layer["worked_example"]["index"]
    expected = np.asarray(two.predict([arrays["query"], arrays["values"]], verbose=0))[0, t, j]
    assert layer["worked_example"]["value"] == pytest.approx(float(expected), abs=1e-5)

    (tmp_path / "bad.npy").write_text("not numpy")
    np.savez(tmp_path / "wrong.npz", other=arrays["query"])
    for bad, words in [
        (tmp_path / "bad.npy", "not a NumPy"),
        (tmp_path / "missing.npy", "no such sample file"),
        (tmp_path / "wrong.npz", "no array for input"),
    ]:
        target = path if bad.suffix == ".npy" else two_path
        result = _course("math", target, "--sample", bad)
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert str(bad) in lines[0] and words in lines[0], lines[0]


def test_markdown_and_latex_show_the_worked_examples(tmp_path):
    path, _ = _saved(tmp_path, [(6, 3)], lambda L, x: L.GRU(3)(x))
    markdown = _course("math", path, "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr
    assert "**Worked example**" in markdown.stdout and "Keras gives" in markdown.stdout
    assert "layer equations vs Keras: passed (1 of 1 layers agree" in markdown.stdout
    latex = _course("math", path, "--format", "latex")
    assert latex.returncode == 0, latex.stderr
    assert "Worked example" in latex.stdout and r"\tilde{h}_{t,0}" in latex.stdout
