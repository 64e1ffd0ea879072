"""Every `keras.applications` model, saved and loaded, layer by layer against Keras and PyTorch.

The list is the one Keras exports (`keras.applications` and its submodules), so a new
application is covered without editing this file. Weights are random (`weights=None`: nothing is
downloaded) and inputs small where the architecture allows; the moving statistics are drawn, so
that a normalization's fold is not the trivial one.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import shutil
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

TOLERANCE_TORCH = 1e-4
#: The smallest input Keras accepts for these (32 x 32 for every other application).
SMALLEST_INPUT = {
    "InceptionV3": (75, 75, 3),
    "InceptionResNetV2": (75, 75, 3),
    "Xception": (71, 71, 3),
}
DEFAULT_INPUT = (32, 32, 3)


def application_names() -> list[str]:
    """Every model constructor Keras exports in `keras.applications` and its submodules."""
    import keras

    found = set()
    for module in [keras.applications] + [
        m for _, m in inspect.getmembers(keras.applications, inspect.ismodule)
    ]:
        for name, value in inspect.getmembers(module, callable):
            if name[:1].isupper() and "weights" in _parameters(value):
                found.add(name)
    return sorted(found)


def _parameters(function) -> set[str]:
    try:
        return set(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return set()


def build_application(name: str, input_shape: tuple | None = ()):
    """The application with random weights, at its smallest input (`None`: Keras's default)."""
    import keras

    function = getattr(keras.applications, name)
    options = {"weights": None}
    if input_shape == ():
        input_shape = SMALLEST_INPUT.get(name, DEFAULT_INPUT)
    if input_shape is not None:
        options["input_shape"] = input_shape
    if "classifier_activation" in _parameters(function):
        # Softmax over 1000 classes squashes every output towards 1e-3: compare the logits.
        options["classifier_activation"] = None
    return function(**options)


def randomize_statistics(model, seed: int = 0) -> None:
    """Moving means and offsets away from 0, variances above 1.

    Variances below 1 amplify: through EfficientNetV2L's 79 blocks the logits reach 1e5, where
    float32 rounding alone (oneDNN's order of sums against NumPy's or PyTorch's) differs.
    """
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if "moving_variance" in weight.path:
            weight.assign(rng.uniform(1.0, 1.5, weight.shape).astype("float32"))
        elif "moving_mean" in weight.path or "beta" in weight.path:
            weight.assign(rng.normal(0, 0.1, weight.shape).astype("float32"))


def _load_generated(path: Path):
    spec = importlib.util.spec_from_file_location(f"generated_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def torch_difference(model, outdir, graph, probe) -> tuple[float, float]:
    """The largest difference between Keras and `course torch`'s package, and the output's
    scale. `graph`: the model described with its weights (what `course torch` describes first),
    so that a large model's weights are read once. `probe`: Keras's run of the model that the
    layer checks compared against (`generator.model.probe`): its sample is fed to PyTorch, and
    its last layer's output is Keras's, as calling the model on the sample gives it."""
    import torch

    from generator.torch import translate_model
    from generator.torch.writer import write_module

    generated = _load_generated(write_module(translate_model(graph), Path(outdir)))
    net = generated.load()
    (x,) = probe.sample
    layer, _, index = model.outputs[0]._keras_history
    expected = probe.layers[layer.name].outputs[index]
    layout = generated.INPUT_LAYOUTS[0]
    feed = np.moveaxis(x, -1, 1) if layout == "channels_first" else x
    with torch.no_grad():
        got = net(torch.from_numpy(np.ascontiguousarray(feed))).numpy()
    if generated.OUTPUT_LAYOUTS[0] == "channels_first":
        got = np.moveaxis(got, 1, -1)
    assert got.shape == expected.shape
    return float(np.max(np.abs(got - expected))), float(np.max(np.abs(expected)))


def _size(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


@pytest.fixture
def saved(tmp_path):
    """Build, save and load one application: the loaded model, as a user's file would be.

    The test's files (the `.keras` file, `course torch`'s weights) are removed when it ends:
    the largest applications write 1.4 GB each, 14 GB a run, which pytest would keep.
    """
    import keras

    folder = tmp_path

    def get(name: str, input_shape: tuple | None = ()):
        model = build_application(name, input_shape)
        randomize_statistics(model)
        path = folder / f"{name}.keras"
        model.save(path)
        return keras.saving.load_model(path, compile=False), path

    yield get
    shutil.rmtree(tmp_path)


def _check_math(model, math) -> None:
    """Every layer's shape, count and equation equal to Keras's, and the totals."""
    unknown = sorted({layer.record.type for layer in math.layers if not layer.known})
    assert not unknown, f"no handler for {unknown}"
    for layer in math.layers:
        assert layer.shape is not None and layer.shape_matches, (layer.record.name, layer.shape)
        assert layer.params_match, (layer.record.name, layer.params.total)
        assert layer.params_formula is not None
        assert eval(layer.params_formula) == layer.record.framework_params  # noqa: S307
    assert math.total_params == model.count_params()
    trainable = sum(layer.params.trainable for layer in math.layers)
    assert trainable == sum(_size(w.shape) for w in model.trainable_weights)
    failed = [(c.name, c.detail) for c in math.checks if not c.passed]
    assert not failed, failed
    equations = next(c for c in math.checks if c.name.startswith("layer equations"))
    assert "not compared" not in equations.detail, equations.detail


def _names() -> list[str]:
    if importlib.util.find_spec("keras") is None:
        return []
    return application_names()


@pytest.mark.parametrize("name", _names())
def test_application_math_and_torch_match_keras(saved, name, tmp_path):
    from generator.equation.analyze import analyze_graph
    from generator.model.frontend import describe_model
    from generator.model.reference import keras_reference

    model, _ = saved(name)
    # What `course math` and `course torch` do, with the model described once: the largest
    # applications spend their time copying hundreds of millions of weights, not computing.
    graph = describe_model(model, with_weights=True)
    reference, probes = keras_reference(model), []

    def probe(sample, seed):  # Keras's run the layer checks compare against, kept for PyTorch's
        probes.append(reference.probe(sample, seed))
        return probes[-1]

    _check_math(model, analyze_graph(graph, dataclasses.replace(reference, probe=probe)))
    if importlib.util.find_spec("torch") is None:
        pytest.skip("PyTorch is not installed: the math is checked, not the translation")
    difference, scale = torch_difference(model, tmp_path, graph, probes[0])
    assert scale > 1e-4  # an output, not one squashed to nothing (VGG's logits are ~1e-3)
    assert difference < TOLERANCE_TORCH * max(1.0, scale), (difference, scale)


def test_every_export_is_listed():
    names = _names()
    assert {"ResNet50", "MobileNetV3Small", "ConvNeXtTiny", "NASNetMobile"} <= set(names)
    assert "preprocess_input" not in names and "decode_predictions" not in names


def test_open_size_mobilenet_v3_small_through_course_math(saved):
    """Issue 22: MobileNetV3Small at Keras's default (`(None, None, 3)`: any image size) made
    `course math` crash on the mean over an axis of unknown length."""
    from click.testing import CliRunner

    from generator.cli import main
    from generator.equation.analyze import analyze_model

    model, path = saved("MobileNetV3Small", None)
    assert model.input_shape == (None, None, None, 3)
    result = CliRunner().invoke(main, ["math", str(path), "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert r"a_c = \frac{1}{n_h n_w} \sum_{0 \le u < n_h,\, 0 \le v < n_w} x_{u,v,c}" in (
        result.stdout
    )
    math = analyze_model(model)
    _check_math(model, math)
    pooled = next(layer for layer in math.layers if layer.record.type == "GlobalAveragePooling2D")
    assert pooled.record.input_shape == (None, None, None, 16)  # the page keeps lengths open
