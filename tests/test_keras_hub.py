"""keras-hub backbones from small explicit configs, saved and loaded, derived and checked.

Skips without keras-hub (the optional `hub` extra). Nothing is downloaded: no preset is used.
Each test counts what is derived (layers with a handler, inner layers of traced composites) and
what is checked, and requires every check that runs to pass. The backbones in `TRANSLATED`
derive completely (every layer, at every depth) and go through `course torch` within 1e-4.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from tests.torch_support import HUB_TRANSLATED_TYPES, import_torch

keras_hub = pytest.importorskip(
    "keras_hub", reason="keras-hub is not installed (pip install .[hub])"
)

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

TOLERANCE_TORCH = 1e-4
SMALL = {"vocabulary_size": 200, "num_layers": 2, "hidden_dim": 16, "intermediate_dim": 32}
BACKBONES = {
    "bert": lambda M: M.BertBackbone(num_heads=2, max_sequence_length=32, **SMALL),
    "gpt2": lambda M: M.GPT2Backbone(num_heads=2, max_sequence_length=32, **SMALL),
    "distilbert": lambda M: M.DistilBertBackbone(num_heads=2, max_sequence_length=32, **SMALL),
    "roberta": lambda M: M.RobertaBackbone(num_heads=2, max_sequence_length=32, **SMALL),
    "albert": lambda M: M.AlbertBackbone(
        num_heads=2, embedding_dim=8, num_groups=1, num_inner_repetitions=1, **SMALL
    ),
    "opt": lambda M: M.OPTBackbone(num_heads=2, max_sequence_length=32, **SMALL),
    "mistral": lambda M: M.MistralBackbone(num_query_heads=4, num_key_value_heads=2, **SMALL),
    "llama": lambda M: M.LlamaBackbone(num_query_heads=4, num_key_value_heads=2, **SMALL),
    "vit": lambda M: M.ViTBackbone(
        image_shape=(16, 16, 3), patch_size=4, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32
    ),
}
#: Derived at every depth and translated to PyTorch (the decoders traced at the probe's length):
#: all but Llama, whose `LlamaRotaryEmbedding` (frequency adjustments) has no handler yet.
TRANSLATED = ("bert", "distilbert", "roberta", "albert", "gpt2", "opt", "mistral", "vit")


def _walk(math, prefix=""):
    for layer in math.layers:
        yield prefix, layer
        if layer.children is not None:
            yield from _walk(layer.children, f"{prefix}{layer.record.name}/")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Build, save and load a backbone once per module: the loaded model, as a user's file."""
    import keras

    folder, models = tmp_path_factory.mktemp("hub"), {}

    def get(name: str):
        if name not in models:
            path = folder / f"{name}.keras"
            BACKBONES[name](keras_hub.models).save(path)
            models[name] = keras.saving.load_model(path, compile=False)
        return models[name]

    return get


def _derived(math) -> tuple[int, int, list[str]]:
    """Rows at every depth, how many are derived, and the types of those that are not."""
    rows = [layer for _, layer in _walk(math)]
    missing = sorted({layer.record.type for layer in rows if not layer.known})
    return len(rows), sum(layer.known for layer in rows), missing


@pytest.mark.parametrize("name", list(BACKBONES))
def test_backbone_derives_and_checks(name, saved, record_property):
    from generator.equation.analyze import analyze_model

    model = saved(name)
    math = analyze_model(model)
    assert math.total_params == model.count_params()
    failed = [(c.name, c.detail) for c in math.checks if not c.passed]
    assert not failed, failed
    rows, known, missing = _derived(math)
    record_property("derived", f"{known} of {rows} layers; without a handler: {missing}")
    assert known
    for _, layer in _walk(math):  # never a silent gap: what is not derived says so on its page
        assert layer.known or layer.note, layer.record.name
        if layer.known and layer.params.formula is not None:
            assert layer.params.total == layer.record.framework_params, layer.record.name
    if name in TRANSLATED:
        assert not missing, missing
        for _, layer in _walk(math):  # a shared layer's later call is its first call's equation
            assert layer.record.shares or layer.equation is not None, layer.record.name


def test_decoder_page_says_it_was_traced_at_a_length(saved):
    from generator.equation.analyze import analyze_model
    from generator.model.probe import OPEN_LENGTH

    math = analyze_model(saved("gpt2"))
    decoder = next(layer for layer in math.layers if layer.record.type == "TransformerDecoder")
    assert decoder.record.input_shape == (None, None, 16)  # the page keeps the length open
    assert f"Traced at sequence length {OPEN_LENGTH}" in decoder.note
    inner = {layer.record.type for layer in decoder.children.layers}
    assert {"CachedMultiHeadAttention", "ops.minimum", "LayerNormalization", "Dense"} <= inner


def _load_generated(path: Path):
    spec = importlib.util.spec_from_file_location(f"generated_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def torch_difference(model, outdir: Path) -> float:
    """The largest difference between Keras and `course torch`'s package on the probe's sample
    (ids in range for each embedding; the decoders' length is the one they were traced at)."""
    import keras
    import torch

    from generator.model.probe import random_sample
    from generator.torch.writer import write_torch_package

    generated = _load_generated(write_torch_package(model, outdir))
    net = generated.load()
    sample = random_sample(model, seed=3)
    feed = {t.name: x for t, x in zip(model.inputs, sample, strict=True)}
    expected = keras.tree.flatten(model(feed if len(sample) > 1 else sample[0], training=False))

    def layout(x: np.ndarray, order: str, back: bool = False) -> np.ndarray:
        if order != "channels_first" or x.ndim < 3:
            return x
        return np.ascontiguousarray(np.moveaxis(x, 1, -1) if back else np.moveaxis(x, -1, 1))

    layouts = zip(sample, generated.INPUT_LAYOUTS, strict=True)
    with torch.no_grad():
        got = net(*(torch.from_numpy(layout(x, order)) for x, order in layouts))
    got = got if isinstance(got, list | tuple) else [got]
    assert len(got) == len(expected)
    return max(
        float(np.max(np.abs(layout(g.numpy(), order, True) - keras.ops.convert_to_numpy(e))))
        for g, e, order in zip(got, expected, generated.OUTPUT_LAYOUTS, strict=True)
    )


@pytest.mark.torch
@pytest.mark.parametrize("name", TRANSLATED)
def test_backbone_in_pytorch_matches_keras(name, saved, tmp_path):
    import_torch()
    assert torch_difference(saved(name), tmp_path) < TOLERANCE_TORCH


def test_translated_backbones_hold_every_hub_type(saved):
    """The keras-hub types `course torch` translates are exercised by the tests above."""
    from generator.model.frontend import describe_model

    def types(graph):
        for record in graph.layers:
            yield record.type
            if record.children is not None:
                yield from types(record.children)

    found = {t for name in TRANSLATED for t in types(describe_model(saved(name)))}
    assert found >= HUB_TRANSLATED_TYPES, HUB_TRANSLATED_TYPES - found


def _custom_text_model():
    """A user's model of keras-hub layers: token and position embedding, an encoder block, a
    decoder block over its own causal mask, a pooled first token."""
    import keras

    tokens = keras.Input((6,), dtype="int32", name="tokens")
    x = keras_hub.layers.TokenAndPositionEmbedding(50, 6, 8, name="embed")(tokens)
    x = keras_hub.layers.TransformerEncoder(16, 2, name="encoder")(x)
    x = keras_hub.layers.TransformerDecoder(16, 2, name="decoder")(x)
    x = keras.layers.Dense(3, name="head")(x[:, 0, :])
    return keras.Model(tokens, x, name="custom_text")


@pytest.mark.torch
def test_custom_model_of_hub_layers(tmp_path):
    """Composite custom layers traced into nested graphs: derived, checked and translated."""
    import_torch()
    import keras

    from generator.equation.analyze import analyze_model

    path = tmp_path / "custom.keras"
    _custom_text_model().save(path)
    model = keras.saving.load_model(path, compile=False)
    math = analyze_model(model)
    failed = [(c.name, c.detail) for c in math.checks if not c.passed]
    assert not failed, failed
    _, _, missing = _derived(math)
    assert not missing, missing
    embed = next(layer for layer in math.layers if layer.record.name == "embed")
    assert embed.children is not None  # traced: a sum of its two embeddings
    assert embed.params.total == model.get_layer("embed").count_params()
    assert torch_difference(model, tmp_path / "torch") < TOLERANCE_TORCH
