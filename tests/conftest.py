"""Session fixtures shared by the test files: the real course, built once per engine.

Building the shipped lessons is the most expensive thing the suite does (kernels, training, two
site engines), so it happens once per session, in a temporary copy of the course, and every test
that reads or browses the real site asks for it here:

- `course_build`: the copy, built by `course build` (MkDocs) from an empty execution cache, so
  every lesson runs in its own kernel; its `build/docs/` and `site/` are the real pages.
- `built_site(engine)`: the site of that copy built by `engine` ("mkdocs" or "zensical"), a
  directory of its own that no later build touches; Zensical's build reuses the execution cache.
- `mkdocs_site`, `zensical_site`: the same, one fixture per engine.

Tests must not write into these directories; copy what a test changes.

The suite runs on every core (pytest-xdist, `-n auto` in pyproject). `pytest_collection_modifyitems`
below says which tests must share a worker: the tests of one engine's built site (each worker
that runs them builds the course once), and the tests of a module whose fixtures are shared by
the module (built once per worker that runs the module). Every other test goes where a worker
is free. The two site groups come first: they are the longest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINES = ("mkdocs", "zensical")


def _course(*args: str, cwd: Path) -> None:
    """Run `course ARGS` in `cwd` with the checkout's generator first on the path."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-m", "generator.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"course {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}",
            pytrace=False,
        )
    (cwd / "build" / "course-build.out").write_text(result.stdout, encoding="utf-8")


def _group(item: pytest.Item) -> str | None:
    """The worker group of a test: `site-ENGINE` for a test of a built site, the module for a
    test that uses the module's shared fixtures, None for a test that can run anywhere."""
    if "course_build" in item.fixturenames:
        params = getattr(item, "callspec", None)
        return f"site-{params.params.get('engine', 'mkdocs') if params else 'mkdocs'}"
    for defs in item._fixtureinfo.name2fixturedefs.values():  # noqa: SLF001 - pytest's own
        if any(d.scope in ("module", "session") and d.baseid for d in defs):
            return item.module.__name__
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the test ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist: each test's group (`_group`), and the site groups first."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    groups = {}
    for item in items:
        group = groups[item.nodeid] = _group(item)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: not (groups[item.nodeid] or "").startswith("site-"))


@pytest.fixture(scope="session")
def course_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the real course (lessons, docs, mkdocs.yml) built by `course build`.

    The copy starts with an empty execution cache, so every shipped lesson runs; the checkout's
    `build/`, `site/` and cache are left alone.
    """
    course = tmp_path_factory.mktemp("real-course")
    shutil.copytree(ROOT / "lessons", course / "lessons")
    shutil.copytree(ROOT / "docs", course / "docs")
    shutil.copy(ROOT / "mkdocs.yml", course / "mkdocs.yml")
    _course("build", "--jobs", "2", cwd=course)
    return course


@pytest.fixture(scope="session")
def built_site(
    course_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """`built_site(engine)`: the real course's site built by `engine`, built on first use."""
    sites: dict[str, Path] = {}

    def site_for(engine: str) -> Path:
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; expected one of {ENGINES}")
        if engine not in sites:
            target = tmp_path_factory.mktemp(f"site-{engine}")
            if engine == "mkdocs":
                source = course_build / "site"
            else:  # a copy of the built course, so `course_build` stays the MkDocs build
                copy = tmp_path_factory.mktemp(f"course-{engine}") / "course"
                shutil.copytree(course_build, copy, symlinks=True)
                _course("build", "--engine", engine, cwd=copy)
                source = copy / "site"
            shutil.copytree(source, target, dirs_exist_ok=True)
            sites[engine] = target
        return sites[engine]

    return site_for


@pytest.fixture(scope="session")
def mkdocs_site(built_site: Callable[[str], Path]) -> Path:
    """The real course's site built by MkDocs."""
    return built_site("mkdocs")


@pytest.fixture(scope="session")
def zensical_site(built_site: Callable[[str], Path]) -> Path:
    """The real course's site built by Zensical."""
    return built_site("zensical")
