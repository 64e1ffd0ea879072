"""The gradients section as the page model renders it: every backward equation numbered as the
page numbers its layer sections (Keras's layer order), alike in Markdown, LaTeX and JSON, and
the gradient checks said once on a page. Models saved to `.keras` and loaded back, through the
CLI."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from generator.cli import main
from tests.latex_support import assert_compiles_where_tex_is

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]


def _two_paths():
    """Two Dense paths from the input, added, and a skip path read from one of them: the last
    Dense reads layer 2, not the layer before it."""
    import keras

    L = keras.layers
    keras.utils.set_random_seed(3)
    x = keras.Input((4,), name="x")
    left = L.Dense(5, activation="tanh", name="left")(x)
    right = L.Dense(5, activation="relu", name="right")(x)
    head = L.Dense(3, activation="sigmoid", name="head")(L.Add(name="sum")([left, right]))
    skip = L.Dense(3, name="skip")(right)
    return keras.Model(x, L.Add(name="mix")([head, skip]), name="two_paths")


def _mlp():
    import keras

    keras.utils.set_random_seed(2)
    return keras.Sequential(
        [
            keras.Input((3,), name="x"),
            keras.layers.Dense(4, activation="tanh"),
            keras.layers.Dense(2),
        ],
        name="mlp",
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Each model saved to `.keras` and loaded back, by name: `(path, loaded model)`."""
    import keras

    directory = tmp_path_factory.mktemp("models")
    out = {}
    for build in (_two_paths, _mlp):
        path = directory / f"{build.__name__.strip('_')}.keras"
        build().save(path)
        out[path.stem] = (path, keras.saving.load_model(path))
    return out


def _pages(path, *options) -> dict[str, str]:
    """The page of `path` in each format, `course math --gradients` (stdout only)."""
    out = {}
    for fmt in ("markdown", "latex", "json"):
        args = ["math", str(path), "--gradients", "--format", fmt, "--no-diagrams", *options]
        out[fmt] = CliRunner().invoke(main, args).stdout
    return out


def _keras_numbers(model) -> dict[str, int]:
    """Each layer's position in Keras's own list of layers, from 1, the input left out."""
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    return {layer.name: k for k, layer in enumerate(layers, start=1)}


def _readers(model) -> dict[str, set[str]]:
    """Keras's graph: the layers that read each layer's (or input's) output."""
    out: dict[str, set[str]] = {}
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        inputs = layer.input if isinstance(layer.input, list) else [layer.input]
        for tensor in inputs:
            out.setdefault(tensor._keras_history.operation.name, set()).add(layer.name)
    return out


def test_backward_equations_are_numbered_as_keras_orders_the_layers_in_every_format(
    saved, tmp_path
):
    path, model = saved["two_paths"]
    pages = _pages(path)
    numbers = _keras_numbers(model)
    expected = sorted((n, name) for name, n in numbers.items())
    data = json.loads(pages["json"])
    grads = data["gradients"]
    assert [(layer["number"], layer["name"]) for layer in grads["layers"]] == expected
    markdown = pages["markdown"]
    note = markdown[markdown.index('??? note "Gradients') :]
    linked = re.findall(r"^    \*\*(\d+)\.\*\* \[`([^`]*)`\]\(#([^)\s]+)\)", note, flags=re.M)
    assert [(int(n), name) for n, name, _ in linked] == expected
    # Each link leads to that layer's own section, headed with the same number.
    sections = re.findall(
        r'^#+ (\d+)\. `([^`]*)` \(\w+\) <span id="([^"]+)"></span>', markdown, flags=re.M
    )
    headed = {anchor: (int(n), name) for n, name, anchor in sections}
    assert [headed[anchor] for _, _, anchor in linked] == expected
    latex = pages["latex"].replace(r"\_", "_")
    section = latex[latex.index(r"\subsection*{Gradients}") :]
    in_latex = re.findall(r"^(\d+)\. \\texttt\{([^}]*)\} \(\w+\)", section, flags=re.M)
    assert [(int(n), name) for n, name in in_latex] == expected
    # The chain rule sends each tensor's gradient back from the layers Keras says read it.
    rows = {}
    for step in grads["chain_rule"]:
        lhs, _, rhs = step["latex"].partition(" = ")
        rows[lhs] = sorted(map(int, re.findall(r"\\partial a\^\{\((\d+)\)\}\}\{\\partial", rhs)))
    for name, readers in _readers(model).items():
        symbol = "x" if name == "x" else f"a^{{({numbers[name]})}}"
        lhs = rf"\frac{{\partial \mathcal L}}{{\partial {symbol}}}"
        assert rows[lhs] == sorted(numbers[reader] for reader in readers), name
    assert rows[r"\frac{\partial \mathcal L}{\partial x}"] == [1, 2]
    for step in grads["chain_rule"]:  # the same rows, aligned at their `=`, on both pages
        row = step["latex"].replace(" = ", " &= ", 1)
        assert row in markdown and row in pages["latex"], step["latex"]
    # The worked weight: its layer's number, and what it reads numbered as Keras's graph says.
    worked = grads["worked_example"]
    source = model.get_layer(worked["layer"]).input._keras_history.operation.name
    assert worked["number"] == numbers[worked["layer"]]
    assert rf"W^{{({worked['number']})}}" in worked["latex"]
    assert rf"a^{{({numbers[source]})}}_{{n," in worked["latex"]
    assert worked["latex"] in markdown and worked["latex"] in pages["latex"]
    assert_compiles_where_tex_is(pages["latex"], tmp_path)


@pytest.mark.parametrize(
    "name, tolerance",
    [("two_paths", None), ("mlp", None), ("two_paths", -1.0)],
    ids=["branched", "mlp-closed-form", "failing"],
)
def test_gradient_checks_are_said_once_on_each_page(saved, monkeypatch, name, tolerance):
    """Each gradient check is one line of the page's Checks list, in Markdown and in LaTeX; the
    gradients' note only says the outcome. A check made to fail (no difference passes) says
    FAILED in the line and in the note."""
    import generator.equation.gradients as gradients

    if tolerance is not None:
        monkeypatch.setattr(gradients, "TOLERANCE", tolerance)
    path, _ = saved[name]
    pages = _pages(path, "--loss", "mse")
    checks = json.loads(pages["json"])["gradients"]["checks"]
    names = {c["name"] for c in checks}
    expected = {"gradients vs tf.GradientTape"}
    if name == "mlp":  # a Sequential of Dense layers has a closed form of dL/dW
        expected.add("MLP closed form of dL/dW vs tf.GradientTape")
    assert names == expected
    markdown, latex = pages["markdown"], pages["latex"]
    listed = markdown[markdown.index("## Checks") : markdown.index('??? note "Gradients')]
    note = markdown[markdown.index('??? note "Gradients') :]
    tex_checks = latex[
        latex.index(r"\subsection*{Checks}") : latex.index(r"\subsection*{Gradients}")
    ]
    for check in checks:
        assert markdown.count(check["name"]) == 1 and latex.count(check["name"]) == 1
        outcome = "passed" if check["passed"] else "**FAILED**"
        assert f"- {check['name']}: {outcome} (" in listed
        assert f"\\item {check['name']}: {outcome.strip('*')} (" in tex_checks
    failed = tolerance is not None
    assert [c["passed"] for c in checks if c["name"].startswith("gradients")] == [not failed]
    assert ("against `tf.GradientTape`: **FAILED**" in note) == failed
    assert ("against `tf.GradientTape`: passed" in note) == (not failed)
    tex_note = latex[latex.index(r"\subsection*{Gradients}") :]
    assert (r"against \texttt{tf.GradientTape}: FAILED" in tex_note) == failed


@pytest.mark.parametrize(
    "layer, number, message",
    [("ghost", 1, "'ghost', not on its page"), ("right", 4, "'right' is number 4")],
    ids=["unknown-layer", "renumbered"],
)
def test_backward_equation_of_no_page_layer_is_an_error(saved, layer, number, message):
    """A report whose backward equation names a layer the page lacks (or numbers it otherwise)
    fails in one line naming the model and the layer; no format prints a number of its own."""
    from dataclasses import replace

    from generator.equation.analyze import analyze_model
    from generator.equation.gradient_report import GradientReport, LayerBackward
    from generator.exceptions import CourseError
    from generator.render.json import model_json
    from generator.render.latex import model_latex
    from generator.render.markdown import model_page

    _, model = saved["two_paths"]
    report = GradientReport(loss="mse", layers=(LayerBackward(layer, "Dense", number, ()),))
    math = replace(analyze_model(model), gradients=report)
    for render in (model_page, model_latex, model_json):
        with pytest.raises(CourseError, match=f"model 'two_paths': .*{message}"):
            render(math)
