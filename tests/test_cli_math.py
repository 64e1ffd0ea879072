"""`course math` on saved models: the JSON schema, the other formats, and every bad input.

Bad files and `--help` run without TensorFlow; the rest is marked `tensorflow`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile

import pytest
from click.testing import CliRunner

from generator.cli import main
from tests.latex_support import assert_compiles_where_tex_is

LAYER_KEYS = {
    "number",
    "name",
    "type",
    "inbound",
    "output_shape",
    "params",
    "params_formula",
    "params_latex",
    "shape_latex",
    "equation_latex",
    "equation_check",
    "worked_example",
}
TOP_KEYS = {
    "model",
    "inputs",
    "outputs",
    "total_params",
    "layers",
    "equation",
    "framework",
    "checks",
}
PLAIN = re.compile(r"^[0-9+\-*() ]+$")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _course(*args: str) -> subprocess.CompletedProcess:
    """`course ...` in a fresh interpreter, as a user runs it (nothing registered, real stderr)."""
    return subprocess.run(
        [sys.executable, "-m", "generator.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )


def _one_error_line(result: subprocess.CompletedProcess, path) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert lines[0].startswith("Error: ") and str(path) in lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


@pytest.fixture(scope="module")
def saved(keras, tmp_path_factory):
    """A small two-input, two-output model saved to disk, and the model itself."""
    L = keras.layers
    image = keras.Input((12, 12, 3), name="image")
    tokens = keras.Input((7,), dtype="int32", name="tokens")
    x = L.Conv2D(8, (3, 3), activation="relu", name="conv")(image)
    x = L.Flatten(name="flat")(x)
    t = L.Embedding(30, 4, name="embed")(tokens)
    t = L.LSTM(5, name="lstm")(t)
    joined = L.Concatenate(name="joined")([x, t])
    out1 = L.Dense(3, activation="softmax", name="class")(joined)
    out2 = L.Dense(1, name="score")(joined)
    model = keras.Model([image, tokens], [out1, out2], name="two_heads")
    path = tmp_path_factory.mktemp("models") / "two_heads.keras"
    model.save(path)
    return path, model


@pytest.mark.tensorflow
def test_json_follows_the_schema_exactly(saved):
    path, model = saved
    result = CliRunner().invoke(main, ["math", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == TOP_KEYS
    assert doc["model"] == "two_heads"
    assert doc["inputs"] == [
        {"name": "image", "shape": [None, 12, 12, 3]},
        {"name": "tokens", "shape": [None, 7]},
    ]
    assert doc["outputs"] == [
        {"name": "class", "shape": [None, 3]},
        {"name": "score", "shape": [None, 1]},
    ]
    assert doc["total_params"] == model.count_params()
    assert sorted(layer["name"] for layer in doc["layers"]) == sorted(
        layer.name for layer in model.layers if type(layer).__name__ != "InputLayer"
    )
    for layer in doc["layers"]:
        assert set(layer) == LAYER_KEYS
        keras_layer = model.get_layer(layer["name"])
        assert layer["type"] == type(keras_layer).__name__
        assert layer["output_shape"] == list(keras_layer.output.shape)
        assert layer["output_shape"][0] is None
        assert layer["params"] == keras_layer.count_params()
        assert PLAIN.match(layer["params_formula"]), layer["params_formula"]
        assert eval(layer["params_formula"]) == layer["params"]  # noqa: S307 - plain arithmetic
        for key in ("params_latex", "shape_latex", "equation_latex"):
            assert isinstance(layer[key], str) and layer[key]
    by_name = {layer["name"]: layer for layer in doc["layers"]}
    assert by_name["joined"]["inbound"] == ["flat", "lstm"]
    assert by_name["conv"]["inbound"] == ["image"]
    assert by_name["conv"]["params_formula"] == "(3*3*3 + 1)*8"
    assert by_name["lstm"]["params_formula"] == "4*(5*(5 + 4) + 5)"


@pytest.mark.tensorflow
@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_other_formats(saved, fmt):
    path, model = saved
    result = CliRunner().invoke(main, ["math", str(path), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    text = result.stdout.replace(r"\_", "_")  # LaTeX escapes underscores in names
    assert "two_heads" in text
    for name in ("conv", "lstm", "score"):
        assert name in text
    assert "(3 \\cdot 3 \\cdot 3 + 1) \\cdot 8" in text.replace(r"\left(", "(").replace(
        r"\right)", ")"
    )


@pytest.mark.tensorflow
def test_latex_is_a_standalone_document_numbered_as_markdown(saved, tmp_path):
    """Defect 4 of issue 20: the LaTeX renderer numbered layers from 0, Markdown from 1."""
    path, model = saved
    latex = CliRunner().invoke(main, ["math", str(path), "--format", "latex"]).stdout
    markdown = CliRunner().invoke(main, ["math", str(path), "--format", "markdown"]).stdout
    assert latex.startswith("\\documentclass") and latex.rstrip().endswith("\\end{document}")
    assert latex.count("\\begin{document}") == 1
    numbered = re.findall(r"\\subsection\*\{(\d+)\. \\texttt\{([^}]*)\}", latex)
    in_markdown = re.findall(r"^#+ (\d+)\. `([^`]*)`", markdown, flags=re.M)
    assert numbered and [(n, name.replace("\\_", "_")) for n, name in numbered] == in_markdown
    assert numbered[0][0] == "1"
    assert_compiles_where_tex_is(latex, tmp_path)


def _latex_count(derivation: str) -> int:
    """The count a LaTeX parameter derivation ends with: `... = 2{,}418` -> 2418."""
    return int(derivation.rsplit("=", 1)[-1].replace("{,}", "").strip())


@pytest.mark.tensorflow
def test_the_three_formats_agree_on_numbers_names_shapes_and_counts(saved):
    """Markdown, LaTeX and JSON render one page model: the same layers, numbered alike from 1,
    with the same shapes and counts, and those are Keras's own (a functional model with two
    inputs, a merge and two heads)."""
    path, model = saved
    run = CliRunner().invoke
    doc = json.loads(run(main, ["math", str(path), "--format", "json"]).stdout)
    markdown = run(main, ["math", str(path), "--format", "markdown", "--no-diagrams"]).stdout
    latex = run(main, ["math", str(path), "--format", "latex"]).stdout.replace(r"\_", "_")

    def keras_shape(name: str) -> str:
        return r" \times ".join(str(d) for d in model.get_layer(name).output.shape[1:])

    expected = [
        (n, layer["name"], layer["type"], keras_shape(layer["name"]), layer["params"])
        for n, layer in enumerate(doc["layers"], start=1)
    ]
    assert [layer["number"] for layer in doc["layers"]] == [row[0] for row in expected]
    assert [(name, count) for _, name, _, _, count in expected] == [
        (layer.name, layer.count_params())
        for layer in model.layers
        if type(layer).__name__ != "InputLayer"
    ]
    assert [tuple(layer["output_shape"][1:]) for layer in doc["layers"]] == [
        tuple(model.get_layer(layer["name"]).output.shape[1:]) for layer in doc["layers"]
    ]
    table = re.findall(
        r"^\| (\d+) \| `([^`]*)` \| .*? \| \$.* \\to \{?(.*?)\}?\$ \| .*? \| ([\d,]+) \|$",
        markdown,
        flags=re.M,
    )
    headings = re.findall(r"^#+ (\d+)\. `([^`]*)` \((\w+)\)", markdown, flags=re.M)
    assert [(int(n), name, shape, int(c.replace(",", ""))) for n, name, shape, c in table] == [
        (n, name, shape, count) for n, name, _, shape, count in expected
    ]
    assert [(int(n), name, kind) for n, name, kind in headings] == [
        (n, name, kind) for n, name, kind, _, _ in expected
    ]
    sections = re.split(r"\\subsection\*", latex)[1:]
    in_latex = []
    for section in sections[: len(expected)]:
        n, name, kind = re.match(r"\{(\d+)\. \\texttt\{([^}]*)\} \((\w+)\)\}", section).groups()
        shape = re.search(r"Shape: \\\( .* \\to (.*?) \\\)", section).group(1)
        count = _latex_count(re.search(r"Parameters: \\\[ (.*?) \\\]", section).group(1))
        in_latex.append((int(n), name, kind, shape, count))
    assert in_latex == expected


@pytest.mark.tensorflow
def test_markdown_diagrams_only_when_asked(saved):
    path, _ = saved
    run = CliRunner().invoke
    assert "<svg" in run(main, ["math", str(path), "--format", "markdown", "--diagrams"]).stdout
    plain = run(main, ["math", str(path), "--format", "markdown", "--no-diagrams"]).stdout
    assert "<svg" not in plain and "## Architecture" in plain


def _text_file(tmp_path):
    path = tmp_path / "x.keras"
    path.write_text("not a model\n")
    return path


def _zip_without_model(tmp_path):
    path = tmp_path / "archive.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    return path


def _zip_with_broken_config(tmp_path):
    path = tmp_path / "broken.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{not json")
    return path


def _missing(tmp_path):
    return tmp_path / "nowhere.keras"


def _directory(tmp_path):
    path = tmp_path / "dir.keras"
    path.mkdir()
    return path


BAD_FILES = [
    (_missing, "no such file"),
    (_directory, "not a Keras model file"),
    (_text_file, "not a Keras model file"),
    (_zip_without_model, "no config.json"),
    (_zip_with_broken_config, "not valid JSON"),
]


@pytest.mark.parametrize(
    "make, reason", BAD_FILES, ids=[b[0].__name__.strip("_") for b in BAD_FILES]
)
def test_bad_files_are_one_line(tmp_path, make, reason):
    path = make(tmp_path)
    line = _one_error_line(_course("math", path, "--format", "json"), path)
    assert reason in line


@pytest.fixture(scope="module")
def lambda_model(keras, tmp_path_factory):
    x = keras.Input((4,))
    y = keras.layers.Dense(2, name="out")(keras.layers.Lambda(lambda t: t * 2.0, name="twice")(x))
    path = tmp_path_factory.mktemp("lambda") / "lambda.keras"
    keras.Model(x, y).save(path)
    return path


@pytest.mark.slow
@pytest.mark.tensorflow
def test_lambda_layer_is_refused_in_safe_mode(lambda_model):
    line = _one_error_line(_course("math", lambda_model, "--format", "json"), lambda_model)
    assert "Lambda" in line and "--unsafe" in line


@pytest.mark.slow
@pytest.mark.tensorflow
def test_unsafe_loads_a_lambda_layer_with_a_warning(lambda_model):
    result = _course("math", lambda_model, "--format", "json", "--unsafe")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line.lower()]
    assert warnings and str(lambda_model) in warnings[0]
    doc = json.loads(result.stdout)
    assert [layer["type"] for layer in doc["layers"]] == ["Lambda", "Dense"]
    lam = doc["layers"][0]
    assert lam["params"] == 0
    assert doc["total_params"] == 10


@pytest.mark.slow
@pytest.mark.tensorflow
def test_custom_layer_not_importable_at_load_time(keras, tmp_path):
    @keras.saving.register_keras_serializable(package="course_tests")
    class Doubler(keras.layers.Layer):
        def call(self, t):
            return t * 2.0

    x = keras.Input((4,))
    path = tmp_path / "custom.keras"
    keras.Model(x, keras.layers.Dense(2)(Doubler()(x))).save(path)
    # A fresh interpreter never ran the decorator above, as for a user with only the file.
    line = _one_error_line(_course("math", path, "--format", "json"), path)
    assert "custom objects" in line and "course_tests>Doubler" in line


def test_help_does_not_import_tensorflow():
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom generator.cli import main\n"
        "r = CliRunner().invoke(main, ['--help'])\nassert r.exit_code == 0, r.output\n"
        "r = CliRunner().invoke(main, ['math', '--help'])\nassert r.exit_code == 0\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'torch') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
