"""`course build` as one short function: lessons -> executed (or cached) -> pages -> site."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from generator.site.engines import DEFAULT_ENGINE
from generator.site.lessons import Lesson, find_lessons
from generator.site.mkdocs import Content, CoursePaths, hand_written

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


def site_key(paths: CoursePaths, lessons: list[Lesson], engine: str = DEFAULT_ENGINE) -> str:
    """Hash of everything the site is made from; equal to the last build's = nothing to do."""
    from generator.site.cache import data_digests, generator_digest, versions_digest
    from generator.site.mathjax import VERSION

    digest = hashlib.sha256(
        f"{SITE_FORMAT}\0{VERSION}\0{generator_digest()}\0"
        f"{versions_digest()}\0{paths.lessons}\0{engine}\0".encode()
    )
    for lesson in lessons:
        digest.update(lesson.path.name.encode() + hashlib.sha256(lesson.raw).digest())
        digest.update(json.dumps(data_digests(lesson), sort_keys=True).encode())
    for name, path in hand_written(paths).items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    if paths.config.is_file():
        digest.update(paths.config.read_bytes())
    return digest.hexdigest()


def _read_state(paths: CoursePaths) -> dict:
    try:
        return json.loads(paths.state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def build_course(
    root: Path,
    lessons_dir: Path | None = None,
    jobs: int | None = None,
    timeout: float = 600,
    keep_going: bool = False,
    progress: Callable[[Lesson, str], None] | None = None,
    engine: str = DEFAULT_ENGINE,
) -> BuildReport:
    """Build the course site under `root` (`lessons/`, `docs/`, `mkdocs.yml` -> `site/`) with
    the site `engine` (`"mkdocs"` or `"zensical"`).

    Nothing changed since the last good build: returns at once (no kernel, no MkDocs).

    Raises:
        ExecutionFailed / KernelError: a lesson failed (unless `keep_going`); `site/` untouched.
        SiteError: MkDocs failed in strict mode; `site/` untouched.
    """
    start = time.perf_counter()
    paths = CoursePaths.at(root, lessons_dir)
    lessons = find_lessons(paths.lessons)
    key = site_key(paths, lessons, engine)
    state = _read_state(paths)
    if state.get("site_key") == key and (paths.site / "index.html").is_file():
        rows = tuple(
            LessonRow(**{**row, "status": "cached", "seconds": 0.0})
            for row in state.get("rows", [])
        )
        return BuildReport(rows, False, time.perf_counter() - start)

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
    pages, models = generated_pages(paths, runs)
    from generator.site.mathjax import mathjax_files
    from generator.site.mkdocs import build_site, stage

    files: dict[str, Content] = {**pages, **mathjax_files()}
    stage(paths, files)
    build_site(paths, nav_for(paths, lessons, models), engine)
    rows = tuple(_row(run, models.get(run.lesson.stem, [])) for run in runs)
    failures = tuple(run.failure.message() for run in runs if run.failure is not None)
    if not failures:
        paths.state.write_text(json.dumps({"site_key": key, "rows": [asdict(r) for r in rows]}))
    else:
        paths.state.unlink(missing_ok=True)
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
