"""Big models on the site: no `.keras` above a size limit, no per-layer sections for many layers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from generator.site.site_pages import published_page

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]


def _model():
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((10,), name="x"), keras.layers.Dense(100, name="fc1")], name="small"
    )


def test_a_model_under_the_limit_is_saved_and_loads_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keras

    from generator import publish

    monkeypatch.setenv("COURSE_ARTIFACTS", str(tmp_path))
    model = _model()
    publish(model, name="small", show=False)
    loaded = keras.saving.load_model(tmp_path / "small.keras")
    x = np.random.default_rng(0).normal(size=(3, 10)).astype("float32")
    assert loaded.count_params() == model.count_params() == (10 + 1) * 100
    assert np.allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-6)
    assert "No `.keras` download" not in published_page(tmp_path, "small")


def test_a_model_over_the_limit_gets_no_keras_file_and_its_page_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import generator.site.publish as publishing
    from generator import publish

    model = _model()
    weight_bytes = model.count_params() * 4  # float32
    monkeypatch.setattr(publishing, "MAX_KERAS_BYTES", weight_bytes - 1)
    monkeypatch.setenv("COURSE_ARTIFACTS", str(tmp_path))
    publish(model, name="small", show=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.json", "small.math.pickle"]
    page = published_page(tmp_path, "small")
    assert '!!! note "No `.keras` download"' in page
    monkeypatch.setattr(publishing, "MAX_KERAS_BYTES", weight_bytes)
    publish(model, name="small", show=False)
    assert (tmp_path / "small.keras").is_file()  # exactly at the limit: still written


def test_a_model_of_many_layers_keeps_the_table_and_the_layered_form_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keras

    import generator.site.publish as publishing
    from generator import publish

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,), name="x"),
            keras.layers.Dense(3, activation="tanh", name="fc1"),
            keras.layers.Dense(2, name="fc2"),
        ]
    )
    monkeypatch.setenv("COURSE_ARTIFACTS", str(tmp_path))
    publish(model, name="whole", show=False)
    whole = published_page(tmp_path, "whole")
    monkeypatch.setattr(publishing, "MAX_LAYER_SECTIONS", 1)
    publish(model, name="folded", show=False)
    folded = published_page(tmp_path, "folded")
    assert "### 1. `fc1`" in whole and "### 2. `fc2`" in whole
    assert "### 1. `fc1`" not in folded and "2 layers: each one's shape and count" in folded
    for section in ("## Architecture", "## The whole network as one function", "## Checks"):
        assert section in folded
    assert len(folded) < len(whole)
