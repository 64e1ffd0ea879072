"""Golden pages: the Markdown page of two lesson-like models, kept as reviewed files.

The models are the lessons' MLP (`tanh-1-3-2-1`) and CNN (`simple-cnn`) with seeded random
weights instead of trained ones; each is saved to `.keras` and loaded back, as a reader would
load it, and its page compared with `tests/golden/<name>.md`. A difference fails with a unified
diff. After an intended change, review the diff and rewrite the files with

    UPDATE_GOLDEN=1 python -m pytest tests/test_golden_pages.py

The largest differences measured against `model.predict` depend on the machine's float
rounding, so they are masked (`<error>`) in both the page and the golden file.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.tensorflow

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
MEASURED = re.compile(r"(largest difference(?: of)?|relative|by at most) [0-9][0-9.e+-]*")


def _seeded(model, seed: int):
    """Every weight drawn from a seeded normal distribution (no Keras initializer involved)."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(rng.normal(0.0, 0.5, tuple(weight.shape)).astype("float32"))
    return model


def mlp():
    import keras

    L = keras.layers
    layers = [
        keras.Input((1,)),
        L.Rescaling(1 / 6, offset=0.5),
        L.Dense(3, activation="tanh"),
        L.Dense(2, activation="tanh"),
        L.Dense(1),
    ]
    return _seeded(keras.Sequential(layers, name="tanh_1_3_2_1"), seed=1)


def cnn():
    import keras

    L = keras.layers
    layers = [
        keras.Input((32, 32, 3)),
        L.Conv2D(8, (3, 3), activation="relu"),
        L.Conv2D(16, (3, 3), activation="relu"),
        L.MaxPooling2D((2, 2)),
        L.Flatten(),
        L.Dense(128, activation="relu"),
        L.Dense(10, activation="softmax"),
    ]
    return _seeded(keras.Sequential(layers, name="simple_cnn"), seed=2)


def page_of(build, name: str, tmp_path: Path) -> str:
    """The page of the model `build()` makes, saved and loaded back, errors masked: rendered
    from the math as `publish()` saves it for the build (and the same as from the live math)."""
    import pickle

    import keras

    from generator import analyze
    from generator.render.markdown import model_page

    keras.backend.clear_session()  # layer names count from zero: dense, dense_1, ...
    path = tmp_path / f"{name}.keras"
    build().save(path)
    math = analyze(keras.models.load_model(path))
    page = model_page(pickle.loads(pickle.dumps(math.for_pages())), title=name)
    assert page == model_page(math, title=name)
    return MEASURED.sub(r"\1 <error>", page)


@pytest.mark.parametrize("name, build", [("tanh-1-3-2-1", mlp), ("simple-cnn", cnn)])
def test_page_matches_golden_file(name, build, tmp_path):
    page = page_of(build, name, tmp_path)
    golden = GOLDEN / f"{name}.md"
    if UPDATE:
        golden.write_text(page, encoding="utf-8")
        return
    assert golden.is_file(), f"{golden} is missing: run UPDATE_GOLDEN=1 python -m pytest {__file__}"
    expected = golden.read_text(encoding="utf-8")
    if page != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            page.splitlines(keepends=True),
            f"tests/golden/{name}.md",
            "generated",
        )
        pytest.fail(
            f"the page of {name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it):\n"
            + "".join(diff),
            pytrace=False,
        )
