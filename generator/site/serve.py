"""`course serve`: build, serve the staged docs with the engine, rebuild when a lesson changes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from rich.console import Console

from generator.exceptions import CourseError
from generator.site.engines import DEFAULT_ENGINE, serve_with
from generator.site.mkdocs import CoursePaths, engine_config

POLL_SECONDS = 1.0


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
    """Build once, then serve `build/docs` with live reload; lesson edits rebuild the pages."""
    from generator.site.progress import build_with_progress

    console = Console(stderr=True)
    paths = CoursePaths.at(root, lessons_dir)
    build_with_progress(root, lessons_dir, jobs, timeout, keep_going=True, engine=engine)
    stop = threading.Event()

    def watch() -> None:
        seen = _snapshot(paths)
        while not stop.wait(POLL_SECONDS):
            now = _snapshot(paths)
            if now == seen:
                continue
            seen = now
            console.print("change detected, rebuilding")
            try:
                build_with_progress(
                    root, lessons_dir, jobs, timeout, keep_going=True, engine=engine
                )
            except CourseError as err:
                console.print(f"[red]{err.format_message()}[/]")

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        # The engine watches build/docs (the staged pages) and reloads the browser on a change.
        serve_with(engine, engine_config(paths, engine), dev_addr)
    finally:
        stop.set()
        time.sleep(0)
