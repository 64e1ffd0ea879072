"""`course serve`: serve the last good `site/`, rebuild it when a lesson or a page changes.

The server answers from `site/` as it is on disk. A build swaps a new site in whole or leaves
the old one (see `mkdocs.swap_in`), so a request is always answered from a complete site, while
a rebuild runs and after one fails alike: nothing waits for a build. Pages reload in the
browser when a new site is swapped in: every HTML page carries a small script that polls the
site's version.
"""

from __future__ import annotations

import posixpath
import threading
import urllib.parse
from collections.abc import Callable
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from rich.console import Console

from generator.exceptions import CourseError
from generator.site.engines import DEFAULT_ENGINE
from generator.site.mkdocs import CoursePaths

POLL_SECONDS = 1.0
#: The path the reload script polls: it answers the version of the site being served.
VERSION_PATH = "/.course-serve/version"
RELOAD_SCRIPT = """<script>
(function () {
  var seen = "%s";
  setInterval(function () {
    fetch("%s", {cache: "no-store"}).then(function (r) { return r.text(); })
      .then(function (v) { if (v !== seen) { location.reload(); } }, function () {});
  }, 1000);
})();
</script>"""
BUILDING_PAGE = (
    "<!doctype html><title>Building</title><h1>The first build is running</h1>"
    "<p>This page reloads when the site is ready.</p>"
)


class SiteVersion:
    """A counter of the sites swapped in; the reload script compares it with the one it saw."""

    def __init__(self) -> None:
        self._value = 0
        self._lock = threading.Lock()

    def bump(self) -> None:
        with self._lock:
            self._value += 1

    def __str__(self) -> str:
        with self._lock:
            return str(self._value)


class _SiteHandler(SimpleHTTPRequestHandler):
    """Files of `site/`, read at each request (a swapped-in site is seen at once)."""

    site: Path
    version: SiteVersion

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass  # an access log per request would bury the build's messages

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path == VERSION_PATH:
            self._send(HTTPStatus.OK, str(self.version).encode(), "text/plain", cache=False)
            return
        if not (self.site / "index.html").is_file():
            body = BUILDING_PAGE + RELOAD_SCRIPT % (self.version, VERSION_PATH)
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, body.encode(), "text/html")
            return
        target = Path(self.translate_path(self.path))
        if target.is_dir():
            if not path.endswith("/"):
                self.send_response(HTTPStatus.MOVED_PERMANENTLY)
                self.send_header("Location", path + "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            target = target / "index.html"
        if target.suffix == ".html":
            self._send_page(target)
        elif target.is_file():
            super().do_GET()
        else:
            self._send_page(self.site / "404.html", HTTPStatus.NOT_FOUND)

    def _send_page(self, page: Path, status: HTTPStatus = HTTPStatus.OK) -> None:
        try:
            html = page.read_text(encoding="utf-8")
        except OSError:
            status, html = HTTPStatus.NOT_FOUND, "<!doctype html><h1>Not found</h1>"
        script = RELOAD_SCRIPT % (self.version, VERSION_PATH)
        html = html.replace("</body>", f"{script}</body>") if "</body>" in html else html + script
        self._send(status, html.encode("utf-8"), "text/html; charset=utf-8", cache=False)

    def _send(self, status: HTTPStatus, body: bytes, kind: str, cache: bool = True) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if not cache:
            self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def translate_path(self, path: str) -> str:
        # The base class's, but against `site` (its `directory` is fixed when it is made, and
        # `site/` is replaced by each build).
        path = posixpath.normpath(urllib.parse.unquote(urllib.parse.urlsplit(path).path))
        parts = [part for part in path.split("/") if part and part not in (".", "..")]
        return str(self.site.joinpath(*parts))


def site_server(site: Path, dev_addr: str, version: SiteVersion) -> ThreadingHTTPServer:
    """A server of the files under `site` on `dev_addr` ("HOST:PORT"), not yet serving.

    Raises:
        CourseError: the address is not HOST:PORT, or it cannot be bound (in use, say).
    """
    host, _, port = dev_addr.rpartition(":")
    if not host or not port.isdigit():
        raise CourseError(f"--dev-addr {dev_addr}: expected HOST:PORT, e.g. 127.0.0.1:8000")
    handler = type("SiteHandler", (_SiteHandler,), {"site": site, "version": version})
    try:
        server = ThreadingHTTPServer((host, int(port)), handler)
    except OSError as err:
        raise CourseError(f"--dev-addr {dev_addr}: cannot serve there ({err.strerror})") from None
    server.daemon_threads = True
    return server


def _snapshot(paths: CoursePaths) -> dict[Path, int]:
    watched = [paths.lessons, paths.docs]
    found = {
        p: p.stat().st_mtime_ns
        for d in watched
        if d.is_dir()
        for p in d.rglob("*")
        if p.is_file() and ".ipynb_checkpoints" not in p.parts
    }
    if paths.config.is_file():
        found[paths.config] = paths.config.stat().st_mtime_ns
    return found


def watch_and_rebuild(
    paths: CoursePaths, seen: dict[Path, int], rebuild: Callable[[], None], stop: threading.Event
) -> None:
    """Until `stop` is set: on a change under `lessons/`, `docs/` or to `mkdocs.yml`, rebuild.

    Nothing escapes: an exception of a rebuild or of reading the folders is printed and the
    watching goes on (the next change rebuilds again).
    """
    console = Console(stderr=True, highlight=False)
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
                f"watcher: {type(err).__name__}: {err}", style="red", markup=False, soft_wrap=True
            )


def serve(
    root: Path,
    lessons_dir: Path | None,
    dev_addr: str,
    jobs: int | None,
    timeout: float,
    engine: str = DEFAULT_ENGINE,
) -> None:
    """Serve `site/` on `dev_addr` at once, build, and rebuild when a lesson or a page changes.

    A lesson that fails shows the error `course build` prints and becomes an error page; the
    other pages, and the models the failing lesson published in its last good run, stay. A
    build that fails altogether leaves the last good site served. Every rebuild takes the
    build lock, so a `course build` typed meanwhile waits its turn. Ctrl-C stops the server
    (raised as `KeyboardInterrupt`, as by any command).
    """
    from generator.site.progress import build_with_progress

    console = Console(stderr=True, highlight=False)
    paths = CoursePaths.at(root, lessons_dir)
    version = SiteVersion()
    server = site_server(paths.site, dev_addr, version)
    host, port = server.server_address[:2]
    console.print(f"serving on http://{host}:{port}/ (Ctrl-C to stop)", markup=False)
    threading.Thread(target=server.serve_forever, name="site-server", daemon=True).start()

    def rebuild() -> None:
        try:
            report = build_with_progress(
                root, lessons_dir, jobs, timeout, keep_going=True, engine=engine
            )
            if report.site_built:
                version.bump()
        except CourseError as err:
            # Lessons that failed still built the site, with their error pages.
            version.bump()
            console.print(err.format_message(), style="red", markup=False, soft_wrap=True)
        except Exception as err:  # noqa: BLE001 - the server must outlive any failed rebuild
            console.print(
                f"rebuild failed: {type(err).__name__}: {err}",
                style="red",
                markup=False,
                soft_wrap=True,
            )

    stop = threading.Event()
    try:
        seen = _snapshot(paths)  # before the build: an edit made while it runs is seen
        rebuild()
        console.print(f"serving on http://{host}:{port}/, watching for changes", markup=False)
        watch_and_rebuild(paths, seen, rebuild, stop)
    finally:
        stop.set()
        # A request still being answered must not keep Ctrl-C waiting: give it a moment.
        closer = threading.Thread(target=server.shutdown, daemon=True)
        closer.start()
        closer.join(timeout=5)
        server.server_close()
