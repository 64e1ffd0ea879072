"""`course serve`: build, serve the staged docs with MkDocs, rebuild when a lesson changes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from rich.console import Console

from generator.exceptions import CourseError
from generator.site.mkdocs import CoursePaths

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
    root: Path, lessons_dir: Path | None, dev_addr: str, jobs: int | None, timeout: float
) -> None:
    """Build once, then serve `build/docs` with live reload; lesson edits rebuild the pages."""
    from mkdocs.commands.serve import serve as mkdocs_serve

    from generator.site.progress import build_with_progress

    console = Console(stderr=True)
    paths = CoursePaths.at(root, lessons_dir)
    build_with_progress(root, lessons_dir, jobs, timeout, keep_going=True)
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
                build_with_progress(root, lessons_dir, jobs, timeout, keep_going=True)
            except CourseError as err:
                console.print(f"[red]{err.format_message()}[/]")

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        # MkDocs watches build/docs (the staged pages) and reloads the browser when they change.
        mkdocs_serve(config_file=str(paths.build_config), dev_addr=dev_addr, livereload=True)
    finally:
        stop.set()
        time.sleep(0)
