"""`course serve` starts with the lessons that build and keeps watching whatever a rebuild meets."""

from __future__ import annotations

import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.pipeline_support import (
    fake_model_lesson,
    make_course,
    notebook,
    start_course,
    write_notebook,
)

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


def _model_lesson(*extra: tuple[str, str]) -> dict:
    """A lesson that publishes the files of a model `tiny` and shows its box, as `publish()`
    does (no TensorFlow needed), then runs `extra` cells."""
    show = (
        "from IPython.display import Markdown, display\n"
        "display(Markdown('# tiny'), metadata={'course_model': "
        "{'name': 'tiny', 'stem': 'tiny', 'checks_passed': 0, 'checks': 0}})"
    )
    fake = fake_model_lesson()
    return notebook(
        ("markdown", "# Tiny model"),
        ("code", "".join(fake["cells"][1]["source"])),
        ("code", show),
        *extra,
    )


class _Requests:
    """Asks for `urls` over and over in a thread; records each answer's status and seconds."""

    def __init__(self, urls: list[str]) -> None:
        self.urls, self.answers, self.errors = urls, [], []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.3):
            for url in self.urls:
                start = time.perf_counter()
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        response.read()
                        status = response.status
                except urllib.error.HTTPError as err:
                    status = err.code
                except Exception as err:  # noqa: BLE001 - a timeout or a refused connection
                    self.errors.append(f"{url}: {type(err).__name__}: {err}")
                    continue
                self.answers.append((url, status, time.perf_counter() - start))


def test_serve_answers_throughout_a_lesson_failing_and_fixed_back(tmp_path: Path) -> None:
    """Defects 1 and 2 of issue 20: the URL is printed; a lesson that starts failing shows the
    build's error and an error page while every page (the models it links to too) answers
    within 5 s; put back as it was (the cache says nothing changed), it recovers."""
    course = make_course(tmp_path)
    lesson = course / "lessons" / "03-tiny-model.ipynb"
    good = _model_lesson()
    write_notebook(lesson, good)
    port = _free_port()
    server = start_course("serve", "--dev-addr", f"127.0.0.1:{port}", cwd=course)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(server.stderr), daemon=True)
    reader.start()
    # The closing tables go to stdout: read them, or a full pipe would stop the server.
    threading.Thread(target=server.stdout.read, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    requests = _Requests([f"{base}/", f"{base}/lessons/03-tiny-model/", f"{base}/models/tiny/"])
    try:
        deadline = time.time() + 30
        while not any(f"serving on {base}/" in line for line in lines):
            assert time.time() < deadline and server.poll() is None, "".join(lines)
            time.sleep(0.2)
        requests.thread.start()
        assert "The page of" in _page_with(f"{base}/models/tiny/", "The page of")
        assert "models/tiny" in _page_with(f"{base}/lessons/03-tiny-model/", "checks passed")

        write_notebook(lesson, _model_lesson(("code", "raise ValueError('broken on purpose')")))
        page = _page_with(f"{base}/lessons/03-tiny-model/", "This lesson failed to build")
        assert "ValueError: broken on purpose" in page and "models/tiny" in page
        model = _page_with(f"{base}/models/tiny/", "last successful run")
        assert "The page of" in model

        write_notebook(lesson, good)  # back to the cached state: no kernel, a new site
        _page_with(f"{base}/", "Tiny model")
        deadline = time.time() + 90
        while "failed to build" in _page_with(f"{base}/lessons/03-tiny-model/", "Tiny model"):
            assert time.time() < deadline, "the page still shows the failure"
            time.sleep(0.5)
        assert "last successful run" not in _page_with(f"{base}/models/tiny/", "The page of")
    finally:
        requests.stop.set()
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except Exception:
            server.kill()
            raise
        reader.join(timeout=10)
        (tmp_path / "serve.stderr").write_text("".join(lines))  # kept for a failing run
    stderr = "".join(lines)
    assert not requests.errors, requests.errors[:5]
    slowest = max(seconds for _, _, seconds in requests.answers)
    assert slowest < 5, slowest
    # "The first build is running" (503) until the first site is in, then only pages.
    statuses = "".join("b" if status == 503 else "p" for _, status, _ in requests.answers)
    assert set(statuses) <= {"b", "p"} and "pb" not in statuses, statuses
    assert statuses.endswith("p" * 10), statuses
    assert "03-tiny-model.ipynb, cell 4, line 1: ValueError: broken on purpose" in stderr
    assert "Traceback" not in stderr, stderr
    assert server.returncode == 130
    assert stderr.strip().splitlines()[-1].startswith("interrupted: course serve stopped")
