"""The execution cache: an executed lesson is reused while nothing that can change its outputs did.

The key of a lesson hashes its code cells (and their tags), its kernel, the generator's source
that runs in the kernel (not the page renderers: pages are rendered by the build),
the versions of the packages lessons run on, every non-notebook file in the lessons folder (data,
helper modules) and the data files the lesson declares. Markdown cells are not in the key: editing
prose re-renders the page from the cached outputs.

An entry is a directory written under a temporary name and renamed into place; its `entry.json`
holds a digest of each of its files. An entry that is incomplete, fails a digest or does not parse
counts as a miss (it is removed and the lesson re-executed), never as a page. A file that passed
its digest is not hashed again while its size, time and inode stay as they were then (`VERIFIED`:
a resnet's saved math is 100 MB, slow to hash on every markdown edit).
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
#: Modules that cannot change a lesson's outputs: the command, the site build and the page
#: renderers (the build renders every page from the math `publish()` saves, outside the
#: kernel). Editing them re-executes no lesson; everything else (the IR, the derivation, the
#: equation, `publish()` and the plots lessons draw) is in the key.
OUTSIDE_KERNEL = ("cli.py", "site/", "render/")
INSIDE_KERNEL = ("site/__init__.py", "site/publish.py", "render/__init__.py", "render/plots.py")


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


@lru_cache(maxsize=1)
def package_digest() -> str:
    """Hash of all of the generator's code, renderers and site build included (the site's key:
    a renderer change re-renders the pages without executing a lesson)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
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


def lesson_folder_files(directory: Path) -> list[Path]:
    """Every file under the lessons folder a lesson may import or open: all but notebooks.

    Hidden files and folders, `__pycache__` and `.ipynb_checkpoints` are left out (tools write
    them, lessons do not read them).
    """
    files = []
    for path in sorted(directory.rglob("*")):
        parts = path.relative_to(directory).parts
        if any(p.startswith(".") or p in ("__pycache__", ".ipynb_checkpoints") for p in parts):
            continue
        if path.is_file() and path.suffix != ".ipynb":
            files.append(path)
    return files


def data_digests(lesson: Lesson) -> dict[str, str]:
    """Hash of each file the lesson may read: every non-notebook file under the lessons folder
    (helper modules, data) and the data files it declares in `course.data` (which may live
    outside the folder); a declared file that is missing is an error naming it."""
    folder = lesson.path.parent
    digests = {}
    for path in lesson.data_files:
        if not path.is_file():
            raise LessonError(f"{lesson.path}: declares data file {path} which does not exist")
        digests[_data_name(path, folder)] = file_digest(path)
    for path in lesson_folder_files(folder):
        digests[_data_name(path, folder)] = file_digest(path)
    return digests


def _data_name(path: Path, folder: Path) -> str:
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return str(path)


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


def _entry_files(directory: Path) -> dict[str, str]:
    """Digest of every file of an entry but `entry.json`, by path relative to the entry."""
    return {
        path.relative_to(directory).as_posix(): file_digest(path)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != "entry.json"
    }


VERIFIED = "verified.json"  # in an entry: each file's stat when it last matched its digest


def _stat(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino]


def entry_problem(directory: Path, info: dict[str, Any]) -> str | None:
    """What is wrong with a stored entry (a file missing, changed, or not parsing), or `None`."""
    files = info.get("files")
    if not isinstance(files, dict) or "executed.ipynb" not in files:
        return "written by an older version, without digests"
    try:
        verified = json.loads((directory / VERIFIED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        verified = {}
    seen = {}
    for name, digest in sorted(files.items()):
        path = directory / name
        if not path.is_file():
            return f"{name} is missing"
        seen[name] = [*_stat(path), digest]
        if isinstance(verified, dict) and verified.get(name) == seen[name]:
            continue  # hashed before, and not written since
        if file_digest(path) != digest:
            return f"{name} does not match its digest"
    try:
        nb = json.loads((directory / "executed.ipynb").read_text(encoding="utf-8"))
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            return "executed.ipynb has no list of cells"
        if not all(isinstance(cell, dict) for cell in nb["cells"]):
            return "executed.ipynb has a cell that is not an object"
        for name in files:
            if name.startswith("artifacts/") and name.endswith(".json"):
                if not isinstance(json.loads((directory / name).read_text("utf-8")), dict):
                    return f"{name} is not a JSON object"
    except (OSError, ValueError) as err:
        return f"does not parse ({err})"
    if seen != verified:
        tmp = directory / f".{VERIFIED}.{os.getpid()}.tmp"
        try:
            tmp.write_text(json.dumps(seen), encoding="utf-8")
            os.replace(tmp, directory / VERIFIED)
        except OSError:
            pass  # a read-only cache is checked in full every time
    return None


class ExecutionCache:
    """Executed lessons under `root` (`.course-cache/` by default), one entry per lesson.

    Lessons execute into a scratch directory private to this cache object (one build), so a
    build never removes what another build is writing; the build lock makes the project's
    builds take turns, and the next build removes what an interrupted one left in `tmp/`.
    """

    def __init__(self, root: Path):
        self.root = root
        self.scratch = root / "tmp" / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def _entry_dir(self, lesson: Lesson) -> Path:
        return self.root / "executed" / lesson.stem

    def lookup(self, lesson: Lesson, key: str) -> CacheEntry | None:
        """The entry for `key`, or `None` when there is none or it is damaged (see `check`)."""
        return self.check(lesson, key)[0]

    def check(self, lesson: Lesson, key: str) -> tuple[CacheEntry | None, str | None]:
        """The entry for `key` and, when the stored entry is damaged, what is wrong with it.

        A damaged entry (a file missing, changed since it was written, or not parsing) is
        removed, so it is reported once and replaced by the next execution.
        """
        directory = self._entry_dir(lesson)
        try:
            info = json.loads((directory / "entry.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None, None
        except (OSError, ValueError) as err:
            self._drop(directory)
            return None, f"entry.json does not parse ({err})"
        if not isinstance(info, dict):
            self._drop(directory)
            return None, "entry.json is not a JSON object"
        if info.get("key") != key:
            return None, None
        problem = entry_problem(directory, info)
        if problem is not None:
            self._drop(directory)
            return None, problem
        try:
            seconds = float(info.get("seconds", 0.0))
        except (TypeError, ValueError):
            seconds = 0.0
        return CacheEntry(directory, key, seconds), None

    def last_good(self, lesson: Lesson) -> CacheEntry | None:
        """The lesson's stored entry whatever its key (its last successful run), or `None`.

        A lesson that fails now keeps the models of that run on the site, so the pages that
        link to them keep working; a damaged entry is not used (and left for `check`).
        """
        directory = self._entry_dir(lesson)
        try:
            info = json.loads((directory / "entry.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(info, dict) or entry_problem(directory, info) is not None:
            return None
        return CacheEntry(directory, str(info.get("key")), 0.0)

    def _drop(self, directory: Path) -> None:
        shutil.rmtree(directory, ignore_errors=True)

    def new_entry(self) -> Path:
        """A fresh temporary directory to execute into (moved into place by `store`)."""
        tmp = self.scratch / uuid.uuid4().hex
        (tmp / "artifacts").mkdir(parents=True)
        return tmp

    def store(
        self, lesson: Lesson, key: str, tmp: Path, notebook: dict[str, Any], seconds: float
    ) -> CacheEntry:
        """Write the executed notebook and the digests into `tmp`, then move it into place."""
        (tmp / "executed.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
        info = {
            "key": key,
            "seconds": seconds,
            "lesson": lesson.path.name,
            "files": _entry_files(tmp),
        }
        (tmp / "entry.json").write_text(json.dumps(info), encoding="utf-8")
        final = self._entry_dir(lesson)
        final.parent.mkdir(parents=True, exist_ok=True)
        old = None
        if final.exists():
            # Move the old entry aside first: a crash between the renames leaves no entry
            # (a miss), never a half-written one.
            old = self.scratch / f"{final.name}.{uuid.uuid4().hex}.old"
            os.rename(final, old)
        os.rename(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return CacheEntry(final, key, seconds)

    def clear_tmp(self) -> None:
        """Remove what interrupted builds left in `tmp/` (call it holding the build lock)."""
        tmp = self.root / "tmp"
        if tmp.is_dir():
            for path in tmp.iterdir():
                if path != self.scratch:
                    shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        """Remove this build's scratch directory."""
        shutil.rmtree(self.scratch, ignore_errors=True)

    def discard(self, tmp: Path) -> None:
        shutil.rmtree(tmp, ignore_errors=True)
