"""Running lessons: nbclient, one kernel per lesson, several lessons at once, through the cache."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.exceptions import CourseError
from generator.site.cache import CacheEntry, ExecutionCache, execution_key
from generator.site.lessons import Lesson, source
from generator.site.publish import ARTIFACTS_ENV

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: Lines of the failing cell quoted in the error message.
QUOTED_LINES = 3


class ExecutionFailed(CourseError):
    """A lesson cell raised or timed out."""


class KernelError(CourseError):
    """A kernel that cannot start (unknown kernel name, or it died on start)."""


@dataclass(frozen=True)
class Failure:
    """Why a lesson did not run to the end: the cell, its first lines and the error."""

    lesson: Lesson
    cell_number: int | None
    cell_source: str
    error: str
    log: Path | None
    kernel: bool = False

    def message(self) -> str:
        """One message: lesson file, cell number, first lines, exception, where the log is."""
        where = _shown(self.lesson.path)
        if self.cell_number is not None:
            where += f", cell {self.cell_number}"
        lines = [f"{where}: {self.error}"]
        quoted = self.cell_source.strip().splitlines()
        if quoted:
            more = ["    ..."] if len(quoted) > QUOTED_LINES else []
            lines += [f"    {line}" for line in quoted[:QUOTED_LINES]] + more
        if self.log is not None:
            lines.append(f"  full traceback: {_shown(self.log)}")
        return "\n".join(lines)


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it is below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class LessonRun:
    """What happened to one lesson: executed or taken from the cache, or its failure."""

    lesson: Lesson
    key: str
    entry: CacheEntry | None
    executed: bool
    seconds: float
    failure: Failure | None = None
    #: The notebook as far as it ran, for the error page of a failed lesson.
    partial: dict[str, Any] | None = None


Progress = Callable[[Lesson, str], None]


def _kernel_env(artifacts: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("KERAS_BACKEND", "tensorflow")
    # ipykernel's debugger prints a warning about frozen modules into the first cell otherwise.
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    env[ARTIFACTS_ENV] = str(artifacts)
    env["COURSE_BUILD"] = "1"
    return env


async def execute_lesson(
    lesson: Lesson, key: str, cache: ExecutionCache, timeout: float, log_dir: Path
) -> LessonRun:
    """Execute one lesson in a fresh kernel (cwd = the lessons directory) and cache it."""
    import nbformat
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    tmp = cache.new_entry()
    notebook = nbformat.reads(lesson.raw.decode("utf-8"), as_version=4)
    timeout = float(lesson.options.get("timeout", timeout))
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=lesson.kernel_name,
        allow_errors=False,
        resources={"metadata": {"path": str(lesson.path.parent)}},
        startup_timeout=120,
    )
    current: dict[str, Any] = {}

    def on_cell_start(cell: Any, cell_index: int) -> None:
        current["cell"], current["index"] = cell, cell_index

    client.on_cell_start = on_cell_start
    start = time.perf_counter()
    failure = None
    log_dir.mkdir(parents=True, exist_ok=True)
    kernel_log = log_dir / f"{lesson.stem}.kernel.log"
    try:
        # The kernel's own stderr (start-up warnings, C++ logging) goes to a log, not the page.
        with kernel_log.open("wb") as stderr:
            await client.async_execute(env=_kernel_env(tmp / "artifacts"), stderr=stderr)
    except asyncio.CancelledError:
        cache.discard(tmp)
        raise
    except CellExecutionError as err:
        failure = _failure(lesson, current, f"{err.ename}: {err.evalue}", str(err), log_dir)
    except CellTimeoutError:
        failure = _failure(
            lesson,
            current,
            f"timed out after {timeout:g} s (per-cell timeout; "
            "raise it with --timeout or the lesson's course.timeout metadata)",
            "",
            log_dir,
        )
    except DeadKernelError as err:
        failure = _failure(lesson, current, f"the kernel died ({err})", str(err), log_dir)
    except (NoSuchKernel, RuntimeError, TimeoutError, OSError) as err:
        if "index" in current:
            failure = _failure(lesson, current, f"{type(err).__name__}: {err}", str(err), log_dir)
        else:
            failure = Failure(
                lesson,
                None,
                "",
                f"kernel {lesson.kernel_name!r} cannot start: {type(err).__name__}: {err}",
                kernel_log,
                kernel=True,
            )
    seconds = time.perf_counter() - start
    if failure is not None:
        cache.discard(tmp)
        return LessonRun(lesson, key, None, True, seconds, failure, partial=dict(notebook))
    entry = cache.store(lesson, key, tmp, notebook, seconds)
    return LessonRun(lesson, key, entry, True, seconds)


def _failure(
    lesson: Lesson, current: dict[str, Any], error: str, traceback: str, log_dir: Path
) -> Failure:
    cell, index = current.get("cell"), current.get("index")
    cell_source = source(cell) if cell is not None else ""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{lesson.stem}.log"
    number = None if index is None else index + 1
    log.write_text(
        f"{lesson.path}, cell {number}\n\n{cell_source}\n\n{ANSI.sub('', traceback)}\n{error}\n",
        encoding="utf-8",
    )
    return Failure(lesson, number, cell_source, error.strip().splitlines()[0] if error else "", log)


async def _run_all(
    lessons: list[Lesson],
    cache: ExecutionCache,
    jobs: int,
    timeout: float,
    log_dir: Path,
    progress: Progress,
) -> list[LessonRun]:
    semaphore = asyncio.Semaphore(max(1, jobs))

    async def run(lesson: Lesson) -> LessonRun:
        key = execution_key(lesson)
        entry = cache.lookup(lesson, key)
        if entry is not None:
            progress(lesson, "cached")
            return LessonRun(lesson, key, entry, False, 0.0)
        async with semaphore:
            progress(lesson, "running")
            result = await execute_lesson(lesson, key, cache, timeout, log_dir)
        progress(lesson, "failed" if result.failure else "executed")
        return result

    return list(await asyncio.gather(*(run(lesson) for lesson in lessons)))


def run_lessons(
    lessons: list[Lesson],
    cache: ExecutionCache,
    jobs: int | None = None,
    timeout: float = 600,
    log_dir: Path = Path("build/logs"),
    progress: Progress | None = None,
) -> list[LessonRun]:
    """Bring every lesson up to date: cached when its key matches, executed otherwise.

    Lessons run concurrently, at most `jobs` kernels at a time (default: the number of cores).
    A failure does not stop the others (their results are cached for the next build); the
    caller decides whether a failure stops the build.
    """
    jobs = jobs or os.cpu_count() or 1
    cache.clear_tmp()
    work = _run_all(lessons, cache, jobs, timeout, log_dir, progress or (lambda lesson, s: None))
    return _run_coroutine(work)


def _run_coroutine(work: Coroutine[Any, Any, list[LessonRun]]) -> list[LessonRun]:
    """`asyncio.run(work)`, also from a caller that already runs an event loop (a notebook, or a
    test session driving a browser): then the work gets a loop of its own in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


def raise_for_failures(runs: list[LessonRun]) -> None:
    """Raise the first failure as one clear error (a kernel that cannot start, or a cell)."""
    for run in runs:
        if run.failure is not None:
            kind = KernelError if run.failure.kernel else ExecutionFailed
            raise kind(run.failure.message())
