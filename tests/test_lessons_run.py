"""The shipped lessons run: `course build` of a temporary copy of the course, no browser.

The copy (lessons, docs, mkdocs.yml) starts with an empty execution cache, so every lesson runs
in its own kernel, and the checkout's `build/`, `site/` and cache are left alone. Kernels import
the checkout's `generator` (it is first on their PYTHONPATH).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.kernel, pytest.mark.site, pytest.mark.tensorflow]

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted(p.stem for p in (ROOT / "lessons").glob("*.ipynb"))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "lessons", course / "lessons")
    shutil.copytree(ROOT / "docs", course / "docs")
    shutil.copy(ROOT / "mkdocs.yml", course / "mkdocs.yml")
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-m", "generator.cli", "build", "--jobs", "2"],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"course build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}", pytrace=False
        )
    return course


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
