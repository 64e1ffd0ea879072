"""keras-hub backbones from small explicit configs, saved and loaded, derived and checked.

Skips without keras-hub (the optional `hub` extra). Nothing is downloaded: no preset is used.
Each test counts what is derived (layers with a handler, inner layers of traced composites) and
what is checked, and requires every check that runs to pass.
"""

from __future__ import annotations

import pytest

keras_hub = pytest.importorskip(
    "keras_hub", reason="keras-hub is not installed (pip install .[hub])"
)

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

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
    "vit": lambda M: M.ViTBackbone(
        image_shape=(16, 16, 3), patch_size=4, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32
    ),
}


def _walk(math, prefix=""):
    for layer in math.layers:
        yield prefix, layer
        if layer.children is not None:
            yield from _walk(layer.children, f"{prefix}{layer.record.name}/")


@pytest.mark.parametrize("name", list(BACKBONES))
def test_backbone_derives_and_checks(name, tmp_path):
    import keras

    from generator.equation.analyze import analyze_model

    path = tmp_path / f"{name}.keras"
    BACKBONES[name](keras_hub.models).save(path)
    model = keras.saving.load_model(path, compile=False)
    math = analyze_model(model)
    assert math.total_params == model.count_params()
    failed = [(c.name, c.detail) for c in math.checks if not c.passed]
    assert not failed, failed
    rows = list(_walk(math))
    assert any(layer.known for _, layer in rows)
    for _, layer in rows:  # never a silent gap: what is not derived says so on its page
        assert layer.known or layer.note, layer.record.name
    for _, layer in rows:
        if layer.known and layer.params.formula is not None:
            assert layer.params.total == layer.record.framework_params, layer.record.name
