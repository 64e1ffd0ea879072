"""`course serve`: build, serve the staged docs with the engine, rebuild when a lesson changes."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from rich.console import Console

from generator.exceptions import CourseError
from generator.site.engines import DEFAULT_ENGINE, serve_with
from generator.site.mkdocs import CoursePaths, engine_config

POLL_SECONDS = 1.0


class _AccessLogAsInfo(logging.Filter):
    """MkDocs' server logs a request for a missing page ("GET /x/ code 404") as a warning on the
    `mkdocs` logger, where a strict build running meanwhile in the watcher counts it as its own
    warning and fails. An access log is information: lower it to INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and '" code ' in record.getMessage():
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def _snapshot(paths: CoursePaths) -> dict[Path, int]:
    watched = [paths.lessons, paths.docs]
    return {
        p: p.stat().st_mtime_ns
        for d in watched
        if d.is_dir()
        for p in d.rglob("*")
        if p.is_file() and ".ipynb_checkpoints" not in p.parts
    }


def serve(
    root: Path,
    lessons_dir: Path | None,
    dev_addr: str,
    jobs: int | None,
    timeout: float,
    engine: str = DEFAULT_ENGINE,
) -> None:
    """Build, then serve `build/docs` with live reload; lesson edits rebuild the pages.

    Lessons that fail (or notebooks that cannot be read) become error pages: the server starts
    with the lessons that build and keeps watching. Every rebuild takes the build lock, so a
    `course build` typed meanwhile waits its turn. The watcher survives any exception; it
    reports it and goes on watching.
    """
    from generator.site.progress import build_with_progress

    console = Console(stderr=True, highlight=False)
    paths = CoursePaths.at(root, lessons_dir)
    logging.getLogger("mkdocs.livereload").addFilter(_AccessLogAsInfo())

    def rebuild() -> None:
        try:
            build_with_progress(root, lessons_dir, jobs, timeout, keep_going=True, engine=engine)
        except CourseError as err:
            console.print(err.format_message(), style="red", markup=False, soft_wrap=True)
        except Exception as err:  # noqa: BLE001 - the server must outlive any failed rebuild
            console.print(
                f"rebuild failed: {type(err).__name__}: {err}",
                style="red",
                markup=False,
                soft_wrap=True,
            )

    seen = _snapshot(paths)  # before the build: an edit made while it runs is seen
    rebuild()
    if not engine_config(paths, engine).is_file():
        raise CourseError("nothing to serve: the first build failed (see above)")
    stop = threading.Event()

    def watch() -> None:
        nonlocal seen
        while not stop.wait(POLL_SECONDS):
            try:
                now = _snapshot(paths)
                if now == seen:
                    continue
                seen = now
                console.print("change detected, rebuilding")
                rebuild()
            except Exception as err:  # noqa: BLE001 - keep watching whatever happened
                console.print(
                    f"watcher: {type(err).__name__}: {err}",
                    style="red",
                    markup=False,
                    soft_wrap=True,
                )

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        # The engine watches build/docs (the staged pages) and reloads the browser on a change.
        serve_with(engine, engine_config(paths, engine), dev_addr)
    finally:
        stop.set()
        time.sleep(0)
    # MkDocs returns only when Ctrl-C stopped it (it catches the interrupt itself): end the
    # command as an interrupted one (exit status 130).
    raise KeyboardInterrupt
