"""The generated "Supported layers" page lists the handler registry and the PyTorch table."""

from __future__ import annotations

import importlib
import re

import pytest

import generator.layers  # noqa: F401  (fills the handler registry)
from generator.layers.registry import handler_for, supported_layers
from generator.render.supported import NO_HANDLER, supported_layers_page
from generator.site.mkdocs import CoursePaths
from generator.site.site_pages import SUPPORTED_LAYERS, generated_pages, nav_for
from generator.torch import translated_layers

#: keras-hub layers its models use that `keras_hub.layers` does not export, and their modules.
HUB_MODEL_LAYERS = {
    "LlamaLayerNorm": "keras_hub.src.models.llama.llama_layernorm",
    "MistralLayerNormalization": "keras_hub.src.models.mistral.mistral_layer_norm",
    "ViTPatchingAndEmbedding": "keras_hub.src.models.vit.vit_layers",
}
ROW = re.compile(r"^\| `([^`]+)` \| (.*) \| (yes|no) \|$")


def _rows(page: str) -> dict[str, tuple[str, str]]:
    return {m[1]: (m[2], m[3]) for line in page.splitlines() if (m := ROW.match(line))}


def test_every_handler_is_listed_with_its_summary_and_translation():
    rows = _rows(supported_layers_page())
    translated = set(translated_layers())
    assert list(rows) == sorted(set(supported_layers()) | translated)  # each type once, sorted
    for name, (summary, torch) in rows.items():
        handler = handler_for(name)
        if handler is None:
            assert summary == NO_HANDLER
        else:
            assert handler.summary, f"the handler of {name} has no summary"
            assert summary == handler.summary
        assert (torch == "yes") == (name in translated), name


def test_the_page_is_staged_and_in_the_nav(tmp_path):
    paths = CoursePaths.at(tmp_path)
    files, _ = generated_pages(paths, [])
    assert files[SUPPORTED_LAYERS] == supported_layers_page()
    assert {"Supported layers": SUPPORTED_LAYERS} in nav_for(paths, [], {})


@pytest.mark.slow
@pytest.mark.tensorflow
def test_every_listed_layer_is_a_keras_layer():
    import keras

    inputs = keras.Input((1,))
    models = {type(keras.Model(inputs, inputs)).__name__, type(keras.Sequential()).__name__}
    for name in _rows(supported_layers_page()):
        if name.startswith("ops."):  # `x + 3.0` between layers: a function of keras.ops
            assert callable(getattr(keras.ops, name.removeprefix("ops.")))
        elif handler_for(name) and "keras" not in handler_for(name).frameworks:  # PyTorch only
            continue
        elif name in ("Functional", "Sequential"):  # a model nested as a layer
            assert name in models
        elif name == "LayerScale":  # ConvNeXt's, which keras.layers does not export
            from keras.src.applications.convnext import LayerScale

            assert issubclass(LayerScale, keras.layers.Layer)
        elif name in HUB_MODEL_LAYERS or type(handler_for(name)).__module__.endswith("keras_hub"):
            try:  # keras-hub's layers
                import keras_hub
            except ImportError:  # the optional extra: its layers are checked where it is
                continue
            if name in HUB_MODEL_LAYERS:
                found = getattr(importlib.import_module(HUB_MODEL_LAYERS[name]), name)
            else:
                found = getattr(keras_hub.layers, name)
            assert issubclass(found, keras.layers.Layer), name
        else:
            assert issubclass(getattr(keras.layers, name), keras.layers.Layer), name
