"""The shipped lessons run: `course build` of a temporary copy of the course, no browser.

The copy (lessons, docs, mkdocs.yml; `course_build` in `tests/conftest.py`, built once per
session) starts with an empty execution cache, so every lesson runs in its own kernel, and the
checkout's `build/`, `site/` and cache are left alone. Kernels import the checkout's `generator`
(it is first on their PYTHONPATH).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.kernel, pytest.mark.site, pytest.mark.tensorflow]

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted(p.stem for p in (ROOT / "lessons").glob("*.ipynb"))


@pytest.fixture(scope="module")
def built(course_build: Path) -> Path:
    """The copy of the course built from an empty cache, shared by the session (conftest.py)."""
    return course_build


def test_there_are_eight_lessons():
    assert len(LESSONS) == 8, LESSONS


@pytest.mark.parametrize("stem", LESSONS)
def test_lesson_runs_and_gets_its_page(built, stem):
    page = (built / "build" / "docs" / "lessons" / f"{stem}.md").read_text(encoding="utf-8")
    assert "This lesson failed to build" not in page
    assert (built / "site" / "lessons" / stem / "index.html").is_file()


def test_every_published_model_passes_its_checks(built):
    """Each model a lesson publishes: its page, and its checks against Keras all passed."""
    models = sorted((built / "build" / "docs" / "models").glob("*.json"))
    assert len(models) >= 5
    for path in models:
        info = json.loads(path.read_text(encoding="utf-8"))
        assert info["checks"], path.name
        failed = [c for c in info["checks"] if not c["passed"]]
        assert not failed, f"{path.name}: {failed}"
        assert path.with_suffix(".md").is_file()
        # A model above the download limit (ResNet50's random weights) ships no .keras file,
        # and its page says so; a PyTorch model ships its .pt2 instead.
        saved = [path.with_suffix(ext).is_file() for ext in (".keras", ".pt2")]
        if info.get("framework") == "torch":
            assert saved[1], f"{path.name}: no .pt2"
        elif not saved[0]:
            assert "No `.keras` download" in path.with_suffix(".md").read_text(encoding="utf-8")
    assert (built / "site" / "supported-layers" / "index.html").is_file()
