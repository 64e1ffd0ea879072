"""End to end: `course build` of the fixture course plus a lesson publishing a Keras model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pipeline_support import FIXTURES, make_course

pytestmark = [pytest.mark.site, pytest.mark.kernel, pytest.mark.tensorflow, pytest.mark.slow]

MODEL_LESSON = FIXTURES / "model_lesson" / "03-a-tiny-model.ipynb"


def _course_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "generator.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def site_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    course = make_course(tmp_path_factory.mktemp("course"), extra_lessons=(MODEL_LESSON,))
    done = _course_cli("build", cwd=course)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    (course / "build" / "course-build.out").write_text(done.stdout)
    return course


def test_build_prints_the_closing_table(site_course: Path) -> None:
    table = (site_course / "build" / "course-build.out").read_text()
    for header in ("lesson", "status", "seconds", "models", "checks passed"):
        assert header in table
    line = next(line for line in table.splitlines() if "03-a-tiny-model.ipynb" in line)
    # shapes, counts, total, the layer equations vs Keras, and the gradients vs tf.GradientTape
    assert "executed" in line and "5/5" in line.replace(" ", "")


def test_every_lesson_and_model_has_a_page(site_course: Path) -> None:
    site = site_course / "site"
    for page in (
        "index.html",
        "notation/index.html",
        "lessons/01-adding-numbers/index.html",
        "lessons/02-reading-data/index.html",
        "lessons/03-a-tiny-model/index.html",
        "models/tiny/index.html",
        "models/tiny.json",
        "models/tiny.keras",
        "notebooks/03-a-tiny-model.ipynb",
        "assets/mathjax/tex-mml-chtml.js",
        "assets/mathjax-newcm-font/chtml/woff2/mjx-ncm-n.woff2",
    ):
        assert (site / page).is_file(), page


def test_model_page_figures_match_keras(site_course: Path) -> None:
    import keras

    model = keras.saving.load_model(site_course / "site" / "models" / "tiny.keras")
    data = json.loads((site_course / "site" / "models" / "tiny.json").read_text())
    assert data["total_params"] == model.count_params()
    assert [layer["params"] for layer in data["layers"]] == [
        layer.count_params() for layer in model.layers
    ]
    page = (site_course / "build" / "docs" / "models" / "tiny.md").read_text()
    assert f"**{model.count_params():,}** parameters" in page
    assert "`(3*3*1 + 1)*2`" in page
    assert all(check["passed"] for check in data["checks"]) and data["checks"]
    for check in data["checks"]:
        assert f"- {check['name']}: passed" in page


def test_lesson_page_links_model_and_notebook(site_course: Path) -> None:
    page = (site_course / "build" / "docs" / "lessons" / "03-a-tiny-model.md").read_text()
    assert "[the model's page](../models/tiny.md)" in page
    assert "(../notebooks/03-a-tiny-model.ipynb)" in page
    assert "absl" not in page and "oneDNN" not in page
    html = (site_course / "site" / "index.html").read_text()
    assert "lessons/03-a-tiny-model/" in html and "models/tiny/" in html


def test_no_request_leaves_the_site(site_course: Path) -> None:
    import re

    for page in (site_course / "site").rglob("*.html"):
        html = page.read_text()
        for url in re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?:[^"]+)"', html):
            if not url.startswith("http://127.0.0.1:"):  # the canonical link (site_url)
                pytest.fail(f"{page}: loads {url}")


def test_mkdocs_build_strict_of_the_staged_docs(site_course: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(site_course / "build" / "mkdocs.yml"),
            "-d",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "out" / "models" / "tiny" / "index.html").is_file()
