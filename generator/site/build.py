"""`course build` as one short function: lessons -> executed (or cached) -> pages -> site."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from generator.site.engines import DEFAULT_ENGINE
from generator.site.lessons import BrokenLesson, Lesson, find_lessons
from generator.site.lock import build_lock
from generator.site.mkdocs import Content, CoursePaths, check_site_dir, hand_written
from generator.site.publish import write_atomic

SITE_FORMAT = 1  # bump when the layout of generated pages changes without a generator edit


@dataclass(frozen=True)
class LessonRow:
    """One line of the closing table."""

    lesson: str
    status: str  # "executed", "cached" or "failed"
    seconds: float
    models: int
    checks_passed: int
    checks: int


@dataclass(frozen=True)
class BuildReport:
    rows: tuple[LessonRow, ...]
    site_built: bool
    seconds: float
    failures: tuple[str, ...] = ()

    @property
    def nothing_changed(self) -> bool:
        return not self.site_built and not self.failures


def site_key(
    paths: CoursePaths,
    lessons: list[Lesson],
    broken: list[BrokenLesson] | None = None,
    engine: str = DEFAULT_ENGINE,
) -> str:
    """Hash of everything the site is made from; equal to the last build's = nothing to do."""
    from generator.site.cache import data_digests, package_digest, versions_digest
    from generator.site.mathjax import VERSION

    digest = hashlib.sha256(
        f"{SITE_FORMAT}\0{VERSION}\0{package_digest()}\0"
        f"{versions_digest()}\0{os.path.relpath(paths.lessons, paths.root)}\0{engine}\0".encode()
    )
    for lesson in lessons:
        digest.update(lesson.path.name.encode() + hashlib.sha256(lesson.raw).digest())
        digest.update(json.dumps(data_digests(lesson), sort_keys=True).encode())
    for bad in broken or []:
        digest.update(b"broken\0" + bad.path.name.encode() + bad.error.encode())
    for name, path in hand_written(paths).items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    if paths.config.is_file():
        digest.update(paths.config.read_bytes())
    return digest.hexdigest()


def _read_state(paths: CoursePaths) -> dict:
    try:
        state = json.loads(paths.state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def site_manifest(site: Path) -> str:
    """Hash of the names, sizes and times of the files in `site/`: any file removed or changed
    since the last build (`rm -rf site/models`) makes it differ."""
    digest = hashlib.sha256()
    if site.is_dir():
        for path in sorted(site.rglob("*")):
            if path.is_file():
                stat = path.stat()
                digest.update(
                    f"{path.relative_to(site).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode()
                )
    return digest.hexdigest()


def remove_leftovers(paths: CoursePaths) -> list[Path]:
    """Remove what interrupted builds left (temporary and old sites, cache scratch); call it
    holding the build lock, when no other build can be writing them."""
    found = paths.leftovers()
    for path in found:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return found


def build_course(
    root: Path,
    lessons_dir: Path | None = None,
    jobs: int | None = None,
    timeout: float = 600,
    keep_going: bool = False,
    progress: Callable[[Lesson, str], None] | None = None,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
    engine: str = DEFAULT_ENGINE,
) -> BuildReport:
    """Build the course site under `root` (`lessons/`, `docs/`, `mkdocs.yml` -> `site/`) with
    the site `engine` (`"mkdocs"` or `"zensical"`).

    One build at a time: the build holds the project's lock (`build/.lock`), and waits for
    another build holding it (calling `on_wait` with who holds it) unless `wait` is false.
    Nothing changed since the last good build: returns at once (no kernel, no MkDocs).

    Raises:
        ExecutionFailed / KernelError: a lesson failed (unless `keep_going`); `site/` untouched.
        LessonError: a notebook cannot be read (unless `keep_going`: then an error page).
        SiteError: MkDocs failed in strict mode, or `site` is not a directory; `site/` untouched.
        BuildLocked: another build runs and `wait` is false.
    """
    paths = CoursePaths.at(root, lessons_dir)
    check_site_dir(paths.site)
    with build_lock(paths.lock, wait=wait, on_wait=on_wait):
        remove_leftovers(paths)
        return _build(paths, jobs, timeout, keep_going, progress, engine)


def _build(
    paths: CoursePaths,
    jobs: int | None,
    timeout: float,
    keep_going: bool,
    progress: Callable[[Lesson, str], None] | None,
    engine: str,
) -> BuildReport:
    start = time.perf_counter()
    broken: list[BrokenLesson] | None = [] if keep_going else None
    lessons = find_lessons(paths.lessons, broken)
    key = site_key(paths, lessons, broken, engine)
    state = _read_state(paths)
    if (
        state.get("site_key") == key
        and (paths.site / "index.html").is_file()
        and state.get("site") == site_manifest(paths.site)
    ):
        rows = tuple(
            LessonRow(**{**row, "status": "cached", "seconds": 0.0})
            for row in state.get("rows", [])
        )
        return BuildReport(rows, False, time.perf_counter() - start)

    # From here on the site may change: until this build succeeds, the next one does its work
    # whatever the cache says (a failed build must never leave "nothing changed" behind).
    paths.state.unlink(missing_ok=True)
    from generator.site.cache import ExecutionCache
    from generator.site.execute import raise_for_failures, run_lessons
    from generator.site.site_pages import generated_pages, nav_for

    runs = run_lessons(
        lessons,
        ExecutionCache(paths.cache),
        jobs=jobs,
        timeout=timeout,
        log_dir=paths.logs,
        progress=progress,
    )
    if not keep_going:
        raise_for_failures(runs)
    pages, models = generated_pages(paths, runs, broken or [])
    from generator.site.mathjax import mathjax_files
    from generator.site.mkdocs import build_site, stage

    files: dict[str, Content] = {**pages, **mathjax_files()}
    stage(paths, files)
    build_site(paths, nav_for(paths, lessons, models, broken or []), engine)
    rows = tuple(_row(run, models.get(run.lesson.stem, [])) for run in runs)
    rows += tuple(LessonRow(bad.path.name, "failed", 0.0, 0, 0, 0) for bad in broken or [])
    failures = tuple(run.failure.message() for run in runs if run.failure is not None)
    failures += tuple(bad.error for bad in broken or [])
    if not failures:
        state = {"site_key": key, "site": site_manifest(paths.site)}
        write_atomic(paths.state, json.dumps({**state, "rows": [asdict(r) for r in rows]}))
    return BuildReport(rows, True, time.perf_counter() - start, failures)


def _row(run, models: list[dict]) -> LessonRow:
    status = "failed" if run.failure else ("executed" if run.executed else "cached")
    checks = [c for m in models for c in m.get("checks", [])]
    return LessonRow(
        run.lesson.path.name,
        status,
        round(run.seconds, 2),
        len(models),
        sum(bool(c.get("passed")) for c in checks),
        len(checks),
    )
