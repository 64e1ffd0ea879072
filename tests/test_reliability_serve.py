"""`course serve` starts with the lessons that build and keeps watching whatever a rebuild meets."""

from __future__ import annotations

import signal
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.pipeline_support import make_course, notebook, start_course, write_notebook

pytestmark = [pytest.mark.slow, pytest.mark.kernel, pytest.mark.site]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _page_with(url: str, text: str, seconds: float = 90) -> str:
    """The page at `url` once it contains `text` (the server rebuilds in the background)."""
    deadline = time.time() + seconds
    body = ""
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = response.read().decode("utf-8")
            if text in body:
                return body
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} never showed {text!r}; last body: {body[:500]!r}")


def test_serve_starts_with_a_failing_lesson_and_survives_a_broken_notebook(
    tmp_path: Path,
) -> None:
    course = make_course(tmp_path)
    write_notebook(
        course / "lessons" / "03-failing.ipynb",
        notebook(("markdown", "# Failing"), ("code", "raise ValueError('no good')")),
    )
    port = _free_port()
    server = start_course("serve", "--dev-addr", f"127.0.0.1:{port}", cwd=course)
    base = f"http://127.0.0.1:{port}"
    try:
        # It serves: the good lessons, and the failing one as an error page.
        assert "total 45" in _page_with(f"{base}/lessons/01-adding-numbers/", "total 45")
        page = _page_with(f"{base}/lessons/03-failing/", "This lesson failed to build")
        assert "ValueError: no good" in page and str(course) not in page

        # A notebook whose cell source is a number, added while serving: an error page.
        bad = notebook(("markdown", "# Bad"), ("code", "1"))
        bad["cells"][1]["source"] = 12
        write_notebook(course / "lessons" / "04-bad.ipynb", bad)
        page = _page_with(f"{base}/lessons/04-bad/", "This lesson cannot be read")
        assert "04-bad.ipynb: malformed notebook, the source of cell 2 is not text" in page

        # The watcher is still alive: a new lesson and a fixed notebook are picked up.
        write_notebook(
            course / "lessons" / "05-new.ipynb",
            notebook(("markdown", "# New"), ("code", "print('fresh', 5)")),
        )
        assert "fresh 5" in _page_with(f"{base}/lessons/05-new/", "fresh 5")
        bad["cells"][1]["source"] = "print('fixed', 4)"
        write_notebook(course / "lessons" / "04-bad.ipynb", bad)
        assert "fixed 4" in _page_with(f"{base}/lessons/04-bad/", "fixed 4")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _, stderr = server.communicate(timeout=30)
            (tmp_path / "serve.stderr").write_text(stderr)  # kept for a failing run
        except Exception:
            server.kill()
            raise
    assert "Traceback" not in stderr, stderr
    assert server.returncode == 130
    assert stderr.strip().splitlines()[-1].startswith("interrupted: course serve stopped")
    assert "03-failing.ipynb, cell 2, line 1: ValueError: no good" in stderr
    assert "04-bad.ipynb: malformed notebook, the source of cell 2 is not text" in stderr, stderr
