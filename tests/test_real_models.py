"""Real architectures, saved and loaded: shapes, counts, calls, PyTorch and closed forms vs Keras.

The models are small copies of public Keras examples (`tests/real_models_support.py`); each is
saved to `.keras` and loaded back, and every check runs on the loaded model, as a user's file
would be.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from tests.torch_support import import_torch

keras = pytest.importorskip("keras", reason="Keras is not installed")

from generator.equation.layered import layered_steps  # noqa: E402
from generator.layers.derive import derive_model  # noqa: E402
from generator.model.frontend import describe_model  # noqa: E402
from tests.real_models_support import (  # noqa: E402
    ARCHITECTURES,
    CUSTOM_LAYER_SOURCE,
    MLPS,
    randomize,
)

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]

TOLERANCE_TORCH = 1e-4
TOLERANCE_CLOSED = 1e-5


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """name -> (loaded model, sample inputs, path): each built, randomised, saved once."""
    folder = tmp_path_factory.mktemp("real_models")
    cache: dict = {}

    def get(name: str):
        if name not in cache:
            build, _ = ARCHITECTURES[name]
            model, inputs = build()
            randomize(model)
            path = folder / f"{name}.keras"
            model.save(path)
            cache[name] = (keras.saving.load_model(path, compile=False), inputs, path)
        return cache[name]

    return get


def _predict(model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    out = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    out = out if isinstance(out, list | tuple) else [out]
    return [keras.ops.convert_to_numpy(o) for o in out]


def _keras_tensors(value) -> list:
    """Every serialized Keras tensor in a node's arguments, in order (args, then kwargs)."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            return [value["config"]["keras_history"]]
        return [t for item in value.values() for t in _keras_tensors(item)]
    if isinstance(value, list | tuple):
        return [t for item in value for t in _keras_tensors(item)]
    return []


def keras_calls(model) -> dict[str, tuple[str, ...]]:
    """Each call's inputs as Keras's own config lists them (`inbound_nodes`), by call name."""
    model = getattr(model, "_functional", None) or model  # a Sequential's graph
    operations = {op.name: op for op in model.operations}
    calls = {}
    for layer in model.get_config()["layers"]:
        for index, node in enumerate(layer["inbound_nodes"]):
            refs = []
            for name, node_index, tensor_index in _keras_tensors([node["args"], node["kwargs"]]):
                outputs = len(operations[name]._inbound_nodes[node_index].outputs)
                call = name if node_index == 0 else f"{name}@{node_index}"
                refs.append(call if outputs == 1 else f"{call}:{tensor_index}")
            calls[layer["name"] if index == 0 else f"{layer['name']}@{index}"] = tuple(refs)
    return calls


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_shapes_counts_and_calls_agree_with_keras(saved, name):
    model, _, _ = saved(name)
    graph = describe_model(model, with_weights=True)
    math = derive_model(graph)
    for layer in math.layers:
        assert layer.shape_matches, (layer.record.name, layer.shape, layer.record.output_shapes)
        assert layer.params_match, (layer.record.name, layer.params.total)
    assert math.total_params == model.count_params()
    assert all(check.passed for check in math.checks), math.checks
    # The graph of calls, and the layered form's steps, name the inputs Keras's config names.
    expected = keras_calls(model)
    assert {r.name: r.inbound for r in graph.layers} == expected
    assert {s.layer: s.inputs for s in layered_steps(math)} == expected


def load_generated(path: Path):
    spec = importlib.util.spec_from_file_location(f"generated_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.torch
@pytest.mark.parametrize("name", [n for n, (_, ok) in ARCHITECTURES.items() if ok])
def test_course_torch_reproduces_keras(saved, name, tmp_path):
    torch = import_torch()
    from click.testing import CliRunner

    from generator.cli import main

    model, inputs, path = saved(name)
    result = CliRunner().invoke(main, ["torch", str(path), str(tmp_path)])
    assert result.exit_code == 0, result.output
    generated = load_generated(tmp_path / "model.py")
    net = generated.load()
    args = []
    for x, layout in zip(inputs, generated.INPUT_LAYOUTS, strict=True):
        x = np.moveaxis(x, -1, 1) if layout == "channels_first" else x
        args.append(torch.from_numpy(np.ascontiguousarray(x)))
    with torch.no_grad():
        got = net(*args)
    got = got if isinstance(got, tuple) else (got,)
    expected = _predict(model, inputs)
    for e, g, layout in zip(expected, got, generated.OUTPUT_LAYOUTS, strict=True):
        g = g.numpy()
        g = np.moveaxis(g, 1, -1) if layout == "channels_first" else g
        assert e.shape == g.shape
        assert float(np.max(np.abs(e - g))) < TOLERANCE_TORCH


@pytest.mark.parametrize("name", MLPS)
def test_course_math_numpy_reproduces_predict(saved, name):
    from click.testing import CliRunner

    from generator.cli import main
    from generator.equation.numpy_source import load_function

    model, _, path = saved(name)
    result = CliRunner().invoke(main, ["math", str(path), "--format", "numpy"])
    assert result.exit_code == 0, result.output
    source = result.stdout
    matrix = "printed the matrix form" in result.stderr
    assert matrix == (name != "mlp_tanh_10"), result.stderr  # only 1-10-1 is under 5,000
    if matrix:
        assert "over the limit of 5,000" in result.stderr and "--max-ops" in result.stderr
        assert " @ " in source
    x = np.random.default_rng(5).normal(0, 3, (64, 1)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    error = np.max(np.abs(load_function(source)(x) - expected) / np.maximum(1, np.abs(expected)))
    assert error < TOLERANCE_CLOSED


def test_max_ops_expands_a_bigger_mlp(saved):
    from click.testing import CliRunner

    from generator.cli import main
    from generator.equation.numpy_source import load_function

    model, _, path = saved("mlp_sigmoid_50_30")
    result = CliRunner().invoke(
        main, ["math", str(path), "--format", "numpy", "--max-ops", "100000"]
    )
    assert result.exit_code == 0, result.output
    assert "matrix form" not in result.stderr and " @ " not in result.stdout
    x = np.random.default_rng(6).normal(0, 3, (64, 1)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    assert np.max(np.abs(load_function(result.stdout)(x) - expected)) < TOLERANCE_CLOSED


def test_numpy_format_says_why_neither_form_applies(saved):
    from click.testing import CliRunner

    from generator.cli import main

    _, _, path = saved("xception")
    result = CliRunner().invoke(main, ["math", str(path), "--format", "numpy"])
    assert result.exit_code == 1 and result.exception.__class__ is SystemExit
    message = result.stderr.strip()
    assert "\n" not in message and message.startswith(f"Error: {path}: no NumPy form")
    assert "SeparableConv2D" in message and "not a single chain" in message


def test_xception_page_names_both_inputs_of_every_residual_add(saved):
    from generator.equation.analyze import analyze_model
    from generator.render.markdown import model_page

    model, _, _ = saved("xception")
    math = analyze_model(model)
    page = model_page(math)
    index = {layer.record.name: i for i, layer in enumerate(math.layers, start=1)}
    adds = [layer.record for layer in math.layers if layer.record.type == "Add"]
    assert len(adds) == 2
    for add in adds:
        a, b = (index[name] for name in add.inbound)
        assert f"a^{{({index[add.name]})}} &= a^{{({a})}} + a^{{({b})}}" in page
    assert r"\circ" not in math.equation.layered_latex  # branches: never one chain


def test_states_are_named_and_listed(saved):
    from generator.equation.analyze import analyze_model
    from generator.render.json import model_json
    from generator.render.markdown import model_page

    model, _, _ = saved("seq2seq")
    math = analyze_model(model)
    layers = {layer["name"]: layer for layer in model_json(math)["layers"]}
    assert layers["encoder"]["output_shape"] == [[None, 8]] * 3
    assert layers["decoder"]["inbound"] == ["decoder_inputs", "encoder:1", "encoder:2"]
    steps = {s["layer"]: s for s in model_json(math)["equation"]["steps"]}
    assert steps["decoder"]["inputs"] == ["decoder_inputs", "encoder:1", "encoder:2"]
    # Each shape in braces: a table cell breaks between shapes, never inside one.
    assert r"\text{output: } {8};\ \text{state h: } {8};\ \text{state c: } {8}" in model_page(math)


def test_shared_layer_is_two_calls_on_the_page(saved, tmp_path):
    from click.testing import CliRunner

    from generator.cli import main

    _, _, path = saved("mlp_mixer")
    result = CliRunner().invoke(main, ["math", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    names = [layer["name"] for layer in data["layers"]]
    assert "layer_norm" in names and "layer_norm@1" in names
    steps = {s["layer"]: s["latex"] for s in data["equation"]["steps"]}
    first = names.index("layer_norm") + 1
    assert f"= f_{{{first}}}(" in steps["layer_norm@1"]  # the same function, called again
    result = CliRunner().invoke(main, ["math", str(path), "--format", "markdown"])
    assert result.exit_code == 0, result.output


def test_readable_checks_and_operation_code(saved):
    from generator.equation.analyze import analyze_model
    from generator.render.equation_page import equation_section

    model, _, _ = saved("structured")
    math = analyze_model(model)
    assert len(math.layers) == 17
    counts = next(c for c in math.checks if c.name == "parameter counts vs Keras")
    unknown = [layer.record.name for layer in math.layers if layer.params.formula is None]
    compared = f"{17 - len(unknown)} of {17 - len(unknown)} layers with a count formula agree"
    assert counts.detail.startswith(compared)
    if unknown:  # every row of the table is accounted for
        assert f"{len(unknown)} of 17 not compared" in counts.detail
    model, _, _ = saved("transformer")
    codes = [layer.code for layer in describe_model(model).layers]
    assert "keras.ops.cumsum(x, axis=-1)" in codes
    # A nested model whose only weights are a Normalization's shows that layer's sum.
    model, _, _ = saved("preprocessing")
    nested = derive_model(describe_model(model)).layers[0]
    assert nested.record.type == "Sequential" and nested.params_formula == "2*1 + 1"
    assert nested.record.children.layers[1].code == "Normalization(axis=None)"
    # Fixed shapes give a finite estimate, however large.
    model, _, _ = saved("conv_lstm")
    assert "unbounded" not in equation_section(analyze_model(model).equation)


def test_custom_layer_through_import(tmp_path):
    """A VAE encoder with a registered `Sampling` layer: refused until `--import` registers it."""
    from click.testing import CliRunner

    from generator.cli import main

    module_path = tmp_path / "custom_layers.py"
    module_path.write_text(CUSTOM_LAYER_SOURCE, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("custom_layers", module_path)
    custom = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(custom)
    L = keras.layers
    inputs = keras.Input((8, 8, 1), name="image")
    x = L.Flatten()(L.Conv2D(4, 3, strides=2, padding="same", activation="relu")(inputs))
    z_mean, z_log_var = L.Dense(2, name="z_mean")(x), L.Dense(2, name="z_log_var")(x)
    z = custom.Sampling(name="sampling")([z_mean, z_log_var])
    path = tmp_path / "vae_encoder.keras"
    keras.Model(inputs, [z_mean, z_log_var, z], name="encoder").save(path)
    # As in a fresh process: nothing registers `Sampling` until the user's code is imported.
    del keras.saving.get_custom_objects()["realmodels>Sampling"]

    runner = CliRunner()
    refused = runner.invoke(main, ["math", str(path)])
    assert refused.exit_code == 1 and refused.exception.__class__ is SystemExit
    assert "realmodels>Sampling" in refused.stderr and "--import" in refused.stderr

    options = ["--format", "json", "--import", str(module_path)]
    loaded = runner.invoke(main, ["math", str(path), *options])
    assert loaded.exit_code == 0, loaded.output
    data = json.loads(loaded.stdout)
    sampling = next(layer for layer in data["layers"] if layer["name"] == "sampling")
    assert sampling["params"] == 0 and sampling["inbound"] == ["z_mean", "z_log_var"]
    assert data["total_params"] == keras.saving.load_model(path, compile=False).count_params()

    out = tmp_path / "out"
    torch_run = runner.invoke(main, ["torch", str(path), str(out), "--import", str(module_path)])
    assert torch_run.exit_code == 1 and torch_run.exception.__class__ is SystemExit
    assert "layer 'sampling' (Sampling) has no PyTorch translation" in torch_run.stderr
