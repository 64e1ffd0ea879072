"""The execution cache: an executed lesson is reused while nothing that can change its outputs did.

The key of a lesson hashes its code cells (and their tags), its kernel, the generator's own source,
the versions of the packages lessons run on, and the data files the lesson declares. Markdown cells
are not in the key: editing prose re-renders the page from the cached outputs.

An entry is a directory written under a temporary name and renamed into place, with `entry.json`
written last; an entry that is incomplete or unreadable counts as a miss, never as a page.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import uuid
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from generator.site.lessons import Lesson, LessonError, source

#: Distributions whose versions can change a lesson's outputs.
RUNTIME_PACKAGES = (
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "numpy",
    "sympy",
    "matplotlib",
    "torch",
    "scipy",
    "pandas",
    "ipykernel",
    "networks-as-functions",
)
#: Cell tags that change how nbclient runs a cell.
EXECUTION_TAGS = ("skip-execution", "raises-exception")
PACKAGE_DIR = Path(__file__).resolve().parent.parent
#: Modules that never run inside a lesson's kernel: the site build and the command. Editing
#: them re-executes no lesson; everything else (`publish()` and all it imports) is in the key.
OUTSIDE_KERNEL = ("cli.py", "site/")
INSIDE_KERNEL = ("site/__init__.py", "site/publish.py")


def _sha(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@lru_cache(maxsize=1)
def generator_digest() -> str:
    """Hash of the generator's code that runs inside a lesson's kernel (see `kernel_files`)."""
    digest = hashlib.sha256()
    for path in kernel_files():
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def kernel_files() -> list[Path]:
    """The package's Python files that a lesson's kernel imports: all but `OUTSIDE_KERNEL`."""
    files = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        name = path.relative_to(PACKAGE_DIR).as_posix()
        if name in INSIDE_KERNEL or not name.startswith(OUTSIDE_KERNEL):
            files.append(path)
    return files


@lru_cache(maxsize=1)
def versions_digest() -> str:
    """Hash of the Python version and the versions of `RUNTIME_PACKAGES`."""
    versions = {"python": sys.version}
    for name in RUNTIME_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return _sha(versions)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def data_digests(lesson: Lesson) -> dict[str, str]:
    """Hash of each data file the lesson declares; a missing one is an error naming it."""
    digests = {}
    for path in lesson.data_files:
        if not path.is_file():
            raise LessonError(f"{lesson.path}: declares data file {path} which does not exist")
        digests[path.name if path.parent == lesson.path.parent else str(path)] = file_digest(path)
    return digests


def code_cells_digest(lesson: Lesson) -> str:
    cells = [
        (
            source(cell),
            sorted(t for t in cell.get("metadata", {}).get("tags", []) if t in EXECUTION_TAGS),
        )
        for cell in lesson.code_cells
    ]
    return _sha(cells)


def execution_key(lesson: Lesson) -> str:
    """The key of a lesson's outputs: equal keys mean equal outputs."""
    return _sha(
        {
            "code": code_cells_digest(lesson),
            "kernel": lesson.kernel_name,
            "generator": generator_digest(),
            "versions": versions_digest(),
            "data": data_digests(lesson),
        }
    )


@dataclass(frozen=True)
class CacheEntry:
    """An executed lesson in the cache: the notebook with outputs and the model artifacts."""

    directory: Path
    key: str
    seconds: float

    @property
    def notebook_path(self) -> Path:
        return self.directory / "executed.ipynb"

    @property
    def artifacts(self) -> Path:
        return self.directory / "artifacts"

    def notebook(self) -> dict[str, Any]:
        return json.loads(self.notebook_path.read_text(encoding="utf-8"))


class ExecutionCache:
    """Executed lessons under `root` (`.course-cache/` by default), one entry per lesson."""

    def __init__(self, root: Path):
        self.root = root

    def _entry_dir(self, lesson: Lesson) -> Path:
        return self.root / "executed" / lesson.stem

    def lookup(self, lesson: Lesson, key: str) -> CacheEntry | None:
        """The entry for `key`, or `None` when there is none or it is incomplete or corrupt."""
        directory = self._entry_dir(lesson)
        try:
            info = json.loads((directory / "entry.json").read_text(encoding="utf-8"))
            if info.get("key") != key:
                return None
            entry = CacheEntry(directory, key, float(info.get("seconds", 0.0)))
            nb = entry.notebook()
            if not isinstance(nb.get("cells"), list):
                return None
            return entry
        except (OSError, ValueError, TypeError, AttributeError):
            return None

    def new_entry(self) -> Path:
        """A fresh temporary directory to execute into (moved into place by `store`)."""
        tmp = self.root / "tmp" / uuid.uuid4().hex
        (tmp / "artifacts").mkdir(parents=True)
        return tmp

    def store(
        self, lesson: Lesson, key: str, tmp: Path, notebook: dict[str, Any], seconds: float
    ) -> CacheEntry:
        """Write the executed notebook into `tmp` and move it into place atomically."""
        (tmp / "executed.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
        (tmp / "entry.json").write_text(
            json.dumps({"key": key, "seconds": seconds, "lesson": lesson.path.name})
        )
        final = self._entry_dir(lesson)
        final.parent.mkdir(parents=True, exist_ok=True)
        old = None
        if final.exists():
            # Move the old entry aside first: a crash between the renames leaves no entry
            # (a miss), never a half-written one.
            old = final.with_name(f".{final.name}.{uuid.uuid4().hex}.old")
            os.rename(final, old)
        os.rename(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return CacheEntry(final, key, seconds)

    def clear_tmp(self) -> None:
        """Remove what an interrupted build left half-written (never read as an entry)."""
        shutil.rmtree(self.root / "tmp", ignore_errors=True)

    def discard(self, tmp: Path) -> None:
        shutil.rmtree(tmp, ignore_errors=True)
