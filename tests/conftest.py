"""Session fixtures shared by the test files: the real course, built once per engine.

Building the shipped lessons is the most expensive thing the suite does (kernels, training, two
site engines), so it happens once per session, in a temporary copy of the course, and every test
that reads or browses the real site asks for it here:

- `course_build`: the copy, built by `course build` (MkDocs) from an empty execution cache, so
  every lesson runs in its own kernel; its `build/docs/` and `site/` are the real pages. One
  build per run: under pytest-xdist the first worker that needs it builds it, under a lock.
- `built_site(engine)`: the site of that copy built by `engine` ("mkdocs" or "zensical"), a
  directory of its own that no later build touches; Zensical's build reuses the execution cache.
- `mkdocs_site`, `zensical_site`: the same, one fixture per engine.

Tests must not write into these directories; copy what a test changes.

The suite runs on every core (pytest-xdist, `-n auto` in pyproject). `pytest_collection_modifyitems`
below says which tests must share a worker: the tests of one engine's built site (the sweeps
of its pages are shared by its tests), and the tests of a module whose fixtures are shared by
the module (built once per worker that runs the module). Every other test goes where a worker
is free. The two site groups start first: they are the longest (see `_order`).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINES = ("mkdocs", "zensical")

#: Under pytest-xdist with a worker per core, one thread per worker for NumPy's BLAS, PyTorch,
#: OpenMP and TensorFlow's operations (and the kernels and commands a worker starts): with every
#: core busy, a second thread per worker only waits for a core, spinning. Set before any of them
#: is imported (this file is imported first); a value already in the environment is kept.
WORKER_THREADS = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
}
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    for _name, _value in WORKER_THREADS.items():
        os.environ.setdefault(_name, _value)

# A run started in the background by a shell without job control (`python -m pytest &` in a
# script) ignores Ctrl-C, and so would every `course` command it starts: the tests that interrupt
# one (exit 130, kernels shut down) would wait for it to finish instead. Give Ctrl-C back its
# default, which the commands inherit.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


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
    """Under pytest-xdist: each test's group (`_group`), in the order of `_order`."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    groups = {}
    for item in items:
        group = groups[item.nodeid] = _group(item)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: _order(item, groups[item.nodeid]))


def pytest_configure(config: pytest.Config) -> None:
    """Refuse pytest 9.2 and later with pytest-xdist 3.8 and earlier, where `--dist loadgroup`
    drops every group without a word (xdist#1386): each sweep of a built site would then run
    once per test, and the suite take twice as long. pyproject.toml's dev extra pins pytest."""
    from importlib.metadata import PackageNotFoundError, version

    if config.getoption("dist", "no") != "loadgroup" or not config.getoption("numprocesses"):
        return
    try:
        xdist = tuple(int(part) for part in version("pytest-xdist").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return
    ours = tuple(int(part) for part in pytest.__version__.split(".")[:2])
    if ours >= (9, 2) and xdist <= (3, 8):
        raise pytest.UsageError(
            f"pytest {pytest.__version__} with pytest-xdist {version('pytest-xdist')} drops "
            "the test groups (pytest-xdist#1386): pip install -e '.[dev]' (pytest < 9.2), "
            "or run with -n 0"
        )


def _order(item: pytest.Item, group: str | None) -> int:
    """The MkDocs site's tests first (their worker builds the course); the quick tests next,
    while it builds; then the Zensical site's (built from that course); then the rest."""
    if group == "site-mkdocs":
        return 0
    if group is None and item.get_closest_marker("slow") is None:
        return 1
    return 2 if group == "site-zensical" else 3


@contextmanager
def _built_once(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """`name`, a directory shared by the workers of this run (`-n`), under its lock: yields its
    path, built when it holds no `.done`; the caller builds it, and it is marked done after."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # every worker's base directory is a child of the run's
    target = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker building it: wait for it
        done = root / f"{name}.done"
        if not done.exists():
            shutil.rmtree(target, ignore_errors=True)
            yield target
            done.touch()
        else:
            yield target


@pytest.fixture(scope="session")
def course_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the real course (lessons, docs, mkdocs.yml) built by `course build`.

    The copy starts with an empty execution cache, so every shipped lesson runs; the checkout's
    `build/`, `site/` and cache are left alone. Built once per run, whatever the workers.
    """
    with _built_once(tmp_path_factory, "real-course") as course:
        if not course.exists():
            shutil.copytree(ROOT / "lessons", course / "lessons")
            shutil.copytree(ROOT / "docs", course / "docs")
            shutil.copy(ROOT / "mkdocs.yml", course / "mkdocs.yml")
            _course("build", "--jobs", "2", cwd=course)
    return course


@pytest.fixture(scope="session")
def built_site(
    course_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """`built_site(engine)`: the real course's site built by `engine`, built on first use (once
    per run, whatever the workers)."""

    def site_for(engine: str) -> Path:
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; expected one of {ENGINES}")
        with _built_once(tmp_path_factory, f"site-{engine}") as target:
            if not target.exists():
                if engine == "mkdocs":
                    source = course_build / "site"
                else:  # a copy of the built course, so `course_build` stays the MkDocs build
                    copy = target.with_name(f"course-{engine}")
                    shutil.rmtree(copy, ignore_errors=True)
                    shutil.copytree(course_build, copy, symlinks=True)
                    _course("build", "--engine", engine, cwd=copy)
                    source = copy / "site"
                shutil.copytree(source, target)
        return target

    return site_for


@pytest.fixture(scope="session")
def mkdocs_site(built_site: Callable[[str], Path]) -> Path:
    """The real course's site built by MkDocs."""
    return built_site("mkdocs")


@pytest.fixture(scope="session")
def zensical_site(built_site: Callable[[str], Path]) -> Path:
    """The real course's site built by Zensical."""
    return built_site("zensical")
