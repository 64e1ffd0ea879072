"""The build lock: one build at a time writes a project's `build/`, cache and `site/`."""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from generator.exceptions import CourseError


class BuildLocked(CourseError):
    """Another build holds the lock and the caller asked not to wait (`--no-wait`)."""


def holder(lock_file: Path) -> str:
    """Who holds the lock, as a reader wants it: "the build started at 14:02 by process 1234"."""
    try:
        info = json.loads(lock_file.read_text(encoding="utf-8"))
        started = time.strftime("%H:%M", time.localtime(float(info["started"])))
        return f"the build started at {started} by process {int(info['pid'])}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another build"


@contextmanager
def build_lock(
    lock_file: Path, wait: bool = True, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the project's build lock (an `flock` on `lock_file`) for the body of the `with`.

    The kernel drops the lock when its process dies, so a killed build never leaves the
    project locked. The file names its holder (pid, start time) for the waiting message.

    Raises:
        BuildLocked: the lock is held and `wait` is false.
    """
    while True:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                who = holder(lock_file)
                if not wait:
                    raise BuildLocked(
                        f"{lock_file.parent}: {who} is still running; try again when it is done"
                    ) from None
                if on_wait is not None:
                    on_wait(f"waiting for {who}")
                fcntl.flock(fd, fcntl.LOCK_EX)
            # `course clean` may have removed the file we locked while we waited: lock the
            # file that is there now, or two builds would each hold "the" lock.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(lock_file))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
        except BaseException:
            os.close(fd)
            raise
        break
    try:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "started": time.time()}).encode())
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock
