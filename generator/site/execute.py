"""Running lessons: nbclient, one kernel per lesson, several lessons at once, through the cache."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import re
import time
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.exceptions import CourseError, error_summary
from generator.site.cache import CacheEntry, ExecutionCache, execution_key
from generator.site.lessons import Lesson, source
from generator.site.publish import ARTIFACTS_ENV

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: Lines of the failing cell quoted in the error message, around the failing line.
QUOTED_LINES = 3
#: How long Ctrl-C waits for the kernels to shut down.
KERNEL_STOP_SECONDS = 30
#: IPython's name for the line of the cell in a traceback: "Cell In[3], line 2".
CELL_LINE = re.compile(r"Cell In\[\d*\], line (\d+)")


class ExecutionFailed(CourseError):
    """A lesson cell raised or timed out."""


class KernelError(CourseError):
    """A kernel that cannot start (unknown kernel name, or it died on start)."""


@dataclass(frozen=True)
class Failure:
    """Why a lesson did not run to the end: the cell, the lines around the error, the error."""

    lesson: Lesson
    cell_number: int | None
    cell_source: str
    error: str
    log: Path | None
    kernel: bool = False
    #: The failing line of the cell (1-based), when the traceback names it.
    line: int | None = None

    def message(self, root: Path | None = None) -> str:
        """One message: lesson file, cell number, the lines around the failing one, the
        exception, where the log is. With `root`, paths are shown relative to it and the log
        line is left out (for a public error page: no paths of the instructor's machine)."""
        where = _shown(self.lesson.path, root)
        if self.cell_number is not None:
            where += f", cell {self.cell_number}"
            if self.line is not None:
                where += f", line {self.line}"
        lines = [f"{where}: {self.error}"]
        lines += quoted_lines(self.cell_source, self.line)
        if self.log is not None and root is None:
            lines.append(f"  full traceback: {_shown(self.log)}")
        return "\n".join(lines)


def quoted_lines(cell_source: str, line: int | None) -> list[str]:
    """`QUOTED_LINES` lines of the cell centred on the failing `line` (marked `->`), or its
    first lines when the failing line is not known."""
    code = cell_source.rstrip().splitlines()
    if not code:
        return []
    if line is None or not 1 <= line <= len(code):
        start = next((i for i, text in enumerate(code) if text.strip()), 0)
        end, mark = start + QUOTED_LINES, None
    else:
        start = max(0, min(line - 1 - QUOTED_LINES // 2, len(code) - QUOTED_LINES))
        end, mark = start + QUOTED_LINES, line - 1
    shown = ["    ..."] if any(text.strip() for text in code[:start]) else []
    for index in range(start, min(end, len(code))):
        shown.append(f"{'->' if index == mark else '  '}  {code[index]}".rstrip())
    if end < len(code):
        shown.append("    ...")
    return shown


def _shown(path: Path, root: Path | None = None) -> str:
    """`path` relative to `root` (or the working directory) when it is below it."""
    try:
        return str(path.relative_to(root or Path.cwd()))
    except ValueError:
        return path.name if root is not None else str(path)


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
    #: A failed lesson's last successful run in the cache: its models stay on the site.
    previous: CacheEntry | None = None

    @property
    def artifacts_entry(self) -> CacheEntry | None:
        """The entry whose artifacts are the lesson's published models: this run's, or for a
        failed lesson the last successful run's."""
        return self.entry if self.entry is not None else self.previous


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
    from nbformat.warnings import MissingIDFieldWarning

    tmp = cache.new_entry()
    with warnings.catch_warnings():
        # Cells without ids (older notebooks) get ids silently; the warning is not the user's.
        warnings.filterwarnings("ignore", category=MissingIDFieldWarning)
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
        await _stop_kernel(client)
        cache.discard(tmp)
        raise
    except CellExecutionError as err:
        failure = _failure(
            lesson, current, error_summary(f"{err.ename}: {err.evalue}"), str(err), log_dir
        )
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
    except NoSuchKernel as err:
        failure = Failure(lesson, None, "", _no_such_kernel(err.name), None, kernel=True)
    except (RuntimeError, TimeoutError, OSError) as err:
        if "index" in current:
            failure = _failure(lesson, current, f"{type(err).__name__}: {err}", str(err), log_dir)
        else:
            has_log = kernel_log.is_file() and kernel_log.stat().st_size > 0
            failure = Failure(
                lesson,
                None,
                "",
                f"kernel {lesson.kernel_name!r} cannot start: {type(err).__name__}: {err}",
                kernel_log if has_log else None,
                kernel=True,
            )
    finally:
        # nbclient registers a clean-up at exit for a kernel that fails to start; it would
        # print a second traceback after our one-line error.
        atexit.unregister(client._cleanup_kernel)
    seconds = time.perf_counter() - start
    if failure is not None:
        cache.discard(tmp)
        return LessonRun(
            lesson,
            key,
            None,
            True,
            seconds,
            failure,
            partial=dict(notebook),
            previous=cache.last_good(lesson),
        )
    entry = cache.store(lesson, key, tmp, notebook, seconds)
    return LessonRun(lesson, key, entry, True, seconds)


async def _stop_kernel(client: Any) -> None:
    """Shut the client's kernel down now, whatever state its start-up reached."""
    km = client.km
    if km is None:
        return
    try:
        if km.has_kernel:
            await km.shutdown_kernel(now=True)
    except Exception:  # noqa: BLE001, S110 - already stopping; nothing more to do
        pass


def _no_such_kernel(name: str) -> str:
    from jupyter_client.kernelspec import KernelSpecManager

    installed = ", ".join(sorted(KernelSpecManager().find_kernel_specs())) or "none"
    return (
        f"kernel {name!r} cannot start: no such kernel is installed (installed: {installed}); "
        "set the notebook's kernel to one of these"
    )


def _failure(
    lesson: Lesson, current: dict[str, Any], error: str, traceback: str, log_dir: Path
) -> Failure:
    cell, index = current.get("cell"), current.get("index")
    cell_source = source(cell) if cell is not None else ""
    log: Path | None = log_dir / f"{lesson.stem}.log"
    number = None if index is None else index + 1
    plain = ANSI.sub("", traceback)
    lines = CELL_LINE.findall(plain)
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        log.write_text(
            f"{lesson.path}, cell {number}\n\n{cell_source}\n\n{plain}\n{error}\n",
            encoding="utf-8",
        )
    except OSError:
        # A full or read-only disk must not hide the cell's own error behind the log's.
        log = None
    return Failure(lesson, number, cell_source, error, log, line=int(lines[0]) if lines else None)


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
        entry, problem = cache.check(lesson, key)
        if problem is not None:
            progress(lesson, f"damaged cache entry ({problem}), re-executing")
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
    try:
        return _run_coroutine(work)
    finally:
        cache.close()


def _run_coroutine(work: Coroutine[Any, Any, list[LessonRun]]) -> list[LessonRun]:
    """Run `work` on an event loop of its own in a worker thread, and wait for it.

    In a thread, the work never meets the caller's loop (a notebook, or a test session driving
    a browser), and nbclient installs no signal handlers of its own (it can only from the main
    thread): Ctrl-C reaches this thread as `KeyboardInterrupt`, which cancels the lessons (each
    shuts its kernel down) and is raised again once they have stopped.
    """
    loop = asyncio.new_event_loop()

    def run() -> list[LessonRun]:
        asyncio.set_event_loop(loop)
        try:
            return loop.run_until_complete(work)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def cancel_all() -> None:
        for task in asyncio.all_tasks(loop):
            task.cancel()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(run)
        try:
            return future.result()
        except KeyboardInterrupt:
            if not loop.is_closed():
                loop.call_soon_threadsafe(cancel_all)
            try:
                future.result(timeout=KERNEL_STOP_SECONDS)
            except BaseException:  # noqa: BLE001 - cancelled, as asked; Ctrl-C is what we raise
                pass
            raise


def raise_for_failures(runs: list[LessonRun]) -> None:
    """Raise the first failure as one clear error (a kernel that cannot start, or a cell)."""
    for run in runs:
        if run.failure is not None:
            kind = KernelError if run.failure.kernel else ExecutionFailed
            raise kind(run.failure.message())
