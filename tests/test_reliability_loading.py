"""Loading a model file: TensorFlow left as the user set it, legacy `.h5` files, Keras's causes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from generator.exceptions import ModelFileError, error_summary
from tests.pipeline_support import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]

keras = pytest.importorskip("keras")


def _dilated_transpose() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((5, 5, 2)),
            keras.layers.Conv2DTranspose(3, (3, 3), dilation_rate=(2, 2), name="up"),
        ],
        name="dilated",
    )


def test_loading_leaves_tensorflow_settings_alone(tmp_path: Path) -> None:
    """In a fresh process where `load_model` is the first to import TensorFlow, a dilated
    Conv2DTranspose still runs (with oneDNN turned off it has no CPU kernel), and gives what
    the model gave before it was saved."""
    model = _dilated_transpose()
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 2)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", model.predict(x, verbose=0))
    model.save(tmp_path / "dilated.keras")
    script = (
        "import sys, numpy as np\n"
        "from generator.model.loading import load_model\n"
        "assert 'tensorflow' not in sys.modules\n"
        f"m = load_model({str(tmp_path / 'dilated.keras')!r})\n"
        f"y = m.predict(np.load({str(tmp_path / 'x.npy')!r}), verbose=0)\n"
        f"np.testing.assert_allclose(y, np.load({str(tmp_path / 'y.npy')!r}), atol=1e-5)\n"
        "print('same')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "same"


def test_legacy_h5_file_says_how_to_convert_it(tmp_path: Path) -> None:
    from generator.model.loading import load_model

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="out")])
    h5 = tmp_path / "old.h5"
    model.save(h5)
    with pytest.raises(ModelFileError) as info:
        load_model(h5)
    message = info.value.format_message()
    assert message.startswith(f"{h5}: a model in the legacy HDF5 format (Keras 2's .h5)")
    command = message.split("convert it once with: ")[1]
    assert command.startswith('python -c "') and command.endswith('"')
    # The command does what it says: the converted file loads and is the same model.
    subprocess.run(["bash", "-c", command], check=True, timeout=300, capture_output=True)
    converted = load_model(tmp_path / "old.keras")
    assert converted.count_params() == model.count_params()
    x = np.ones((1, 3), dtype="float32")
    np.testing.assert_allclose(converted.predict(x, verbose=0), model.predict(x, verbose=0))


def test_keras_error_summary_keeps_the_cause() -> None:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="dense")])
    with pytest.raises(Exception) as info:
        model.layers[0](np.ones((1, 3), dtype="float32"))
    full = str(info.value)
    first_line = full.strip().splitlines()[0]
    summary = error_summary(full)
    assert "\n" not in summary
    assert summary.startswith(first_line)
    # The cause, which the first line alone hides:
    assert "expected axis -1 of input shape to have value 4" in summary
    assert "Arguments received" not in summary
