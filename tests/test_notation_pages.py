"""The printed equations read as the notation page writes them, on models saved and loaded.

One-value ranges print as the value, worked examples name their position as a reader would with
one pair of parentheses around a negative number, and a decoder given its initial states says
so; each equation is still checked against Keras on the same loaded model.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]


def _loaded(tmp_path, model):
    import keras

    path = tmp_path / "model.keras"
    model.save(path)
    return keras.models.load_model(path)


def test_one_unit_dense_prints_its_single_index_and_plain_parentheses(tmp_path):
    import keras

    from generator.equation.analyze import analyze_model
    from generator.render.worked import worked_latex, worked_markdown

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="tanh")])
    model.layers[0].set_weights([np.array([[-1.0], [-2.0], [0.5]]), np.array([-0.25])])
    model = _loaded(tmp_path, model)
    sample = np.array([[1.0, 0.5, -0.2]], dtype="float32")  # z = -2.35: a negative argument
    math = analyze_model(model, sample)
    layer = math.layers[0]
    assert layer.equation_latex.endswith(r"\quad j = 0"), layer.equation_latex
    assert r"\dots, 0" not in layer.equation_latex
    check = math.layer_checks[layer.record.name]
    assert check.passed
    worked = math.worked[layer.record.name]
    assert worked.example.value == pytest.approx(np.tanh(-2.35), abs=1e-6)
    assert worked.keras_value == pytest.approx(float(model.predict(sample, verbose=0)[0, 0]))
    assert r"\tanh(-2.35)" in worked.example.latex, worked.example.latex
    assert "((" not in worked.example.latex
    markdown = worked_markdown(worked, check)
    assert "at output position $(0)$" in markdown
    assert "(0,)" not in markdown and "(0,)" not in worked_latex(worked, check)


def test_decoder_given_the_encoder_states_says_so_and_agrees_with_keras(tmp_path):
    import keras

    from generator.equation.analyze import analyze_model

    L = keras.layers
    enc_in, dec_in = keras.Input((5, 3)), keras.Input((4, 2))
    _, h, c = L.LSTM(6, return_state=True, name="encoder")(enc_in)
    seq = L.LSTM(6, return_sequences=True, name="decoder")(dec_in, initial_state=[h, c])
    model = _loaded(tmp_path, keras.Model([enc_in, dec_in], L.Dense(1, name="head")(seq)))
    rng = np.random.default_rng(0)
    sample = [rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 4, 2))]
    math = analyze_model(model, sample)
    latex = {layer.record.name: layer.equation_latex for layer in math.layers}
    assert r"h_{-1} = C_{-1} = 0" in latex["encoder"]
    assert r"h_{-1} = C_{-1} = 0" not in latex["decoder"]
    assert (
        r"h_{-1}, C_{-1} = \text{the initial states given to the call (outputs 1, 2 of "
        in (latex["decoder"])
    )
    # The evaluator starts from the encoder's states: it agrees with Keras at every position.
    check = math.layer_checks["decoder"]
    assert check.passed and check.positions == 2 * 4 * 6, check


def test_bidirectional_prints_only_the_merged_output(tmp_path):
    """The inner layer's own output line (`a_t = h_t`) gives way to the merge of both passes."""
    import keras

    from generator.equation.analyze import analyze_model

    L = keras.layers
    model = keras.Sequential(
        [keras.Input((4, 3)), L.Bidirectional(L.LSTM(2, return_sequences=True), name="bi")]
    )
    math = analyze_model(_loaded(tmp_path, model))
    latex = math.layers[0].equation_latex
    assert latex.count("a_t &=") == 1 and r"a_t &= h_t" not in latex, latex
    assert r"a_t &= \left[\overrightarrow{h}_t;\ \overleftarrow{h}_t\right]" in latex
    assert math.layer_checks["bi"].passed
    assert math.worked["bi"].example.latex.endswith(
        f"a_{{1,0}} &= {math.worked['bi'].example.value:.4g} \\end{{aligned}}"
    )


def test_softmax_worked_example_writes_negative_exponents_plainly(tmp_path):
    import keras

    from generator.equation.analyze import analyze_model

    L = keras.layers
    model = keras.Sequential([keras.Input((2,)), L.Dense(3), L.Activation("softmax", name="sm")])
    model.layers[0].set_weights([np.array([[-1.0, 0.5, -2.0], [0.0, 0.0, 0.0]]), np.zeros(3)])
    model = _loaded(tmp_path, model)
    sample = np.array([[0.5, 1.0]], dtype="float32")  # softmax of (-0.5, 0.25, -1)
    math = analyze_model(model, sample)
    worked = math.worked["sm"]
    assert r"e^{-0.5}" in worked.example.latex and "^{(" not in worked.example.latex
    expected = float(model.predict(sample, verbose=0)[0, 0])
    assert worked.example.value == pytest.approx(expected, abs=1e-6)
    assert math.layer_checks["sm"].passed
