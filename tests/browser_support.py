"""Headless Chromium against the built site: a local server, an offline guard, page checks."""

from __future__ import annotations

import functools
import html
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

#: Debian's Chromium, never a browser downloaded by Playwright: its headless shell where it is
#: installed (`apt-get install chromium-headless-shell`, what Playwright itself runs headless),
#: else the whole browser. The shell has the same engine without the browser's own interface:
#: on every page of both sites, at both widths, it gave the same report and layout as the
#: browser (version 156), for 5-7% less processor time in three of the four sweeps measured and
#: the same in the fourth (Zensical's phone sweep). `COURSE_CHROMIUM` names another.
CHROMIUM_CHOICES = (Path("/usr/bin/chromium-headless-shell"), Path("/usr/bin/chromium"))
CHROMIUM = Path(
    os.environ.get("COURSE_CHROMIUM")
    or next((path for path in CHROMIUM_CHOICES if path.exists()), CHROMIUM_CHOICES[0])
)
LOCAL_HOST = "127.0.0.1"
# Defence in depth behind the request router: names other than 127.0.0.1 do not resolve and
# every non-loopback connection goes to a dead proxy, so nothing can leave even if a request
# escapes Playwright's routing (a worker, a browser-internal fetch).
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {LOCAL_HOST}",
    "--proxy-server=http://127.0.0.1:9",
)
# Schemes that never touch the network.
LOCAL_SCHEMES = ("data", "blob", "about", "chrome-error")
# Directories of the built site that hold no pages of their own.
NON_PAGE_DIRS = ("assets", "search", "javascripts", "stylesheets", "notebooks")
MATH_TIMEOUT_MS = 15_000
# Give up waiting for math that has not progressed for this long.
MATH_STALL_MS = 5_000

# Runs in the page: wait for MathJax to start and for every arithmatex element to be typeset (or
# for the time limit), then report what the page holds. Typeset calls made by the theme's
# `document$` subscription are not chained on `MathJax.startup.promise` in MathJax 3.2, hence
# the polling after it (kept for MathJax 4, whose `document$` typesets are not chained either).
MATH_STATE_JS = r"""
async ([timeoutMs, stallMs]) => {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const deadline = Date.now() + timeoutMs;
  const nodes = () => Array.from(document.querySelectorAll(".arithmatex"));
  // A formula waiting for ui/lazy holds an empty <mjx-lazy> placeholder until typeset.
  const pending = () => nodes().filter(
    (el) => !el.querySelector("mjx-container") || el.querySelector("mjx-lazy"));
  let mathjax = false;
  if (nodes().length > 0) {
    // The theme loads MathJax with plain script tags: it exists soon after the load event.
    const startBy = Math.min(deadline, Date.now() + stallMs);
    while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
      if (Date.now() > startBy) break;
      await sleep(50);
    }
    mathjax = Boolean(window.MathJax && MathJax.startup && MathJax.startup.promise);
    if (mathjax) {
      await Promise.race([MathJax.startup.promise.catch(() => null), sleep(timeoutMs)]);
      // The checks read every formula, as a reader who scrolls through the page sees it:
      // typeset those ui/lazy left for later (the loop below waits for them).
      const doc = MathJax.startup.document;
      if (doc && doc.lazyTypesetAll) doc.lazyTypesetAll().catch(() => null);
      // Wait while typesetting progresses; a formula MathJax never finds stalls the count.
      let left = pending().length, changed = Date.now();
      while (left > 0 && Date.now() < deadline && Date.now() - changed < stallMs) {
        await sleep(50);
        if (pending().length !== left) [left, changed] = [pending().length, Date.now()];
      }
      await sleep(50);
    }
  }
  const images = Array.from(document.images);
  images.forEach((img) => { img.loading = "eager"; });
  await Promise.race([
    Promise.all(images.map((img) => img.complete ? null
      : new Promise((resolve) => { img.onload = img.onerror = resolve; }))),
    sleep(Math.max(0, deadline - Date.now())),
  ]);
  // Each typeset formula as MathML: TeX errors become <merror>, unknown macros red <mtext>,
  // and a macro inside \text{...} (`\_`) that MathJax prints as it is shows in an <mtext>.
  const mathErrors = [];
  const items = mathjax && MathJax.startup.document ? Array.from(MathJax.startup.document.math)
    : [];
  for (const item of items) {
    const mml = MathJax.startup.toMML(item.root);
    const source = item.math.trim().slice(0, 80);
    const error = mml.match(/data-mjx-error="([^"]*)"/);
    // (MathJax 4 adds attributes of its own: data-latex, data-semantic-*.)
    const macro = mml.match(/<mtext mathcolor="red"[^>]*>(\\[^<]*)<\/mtext>/);
    const literal = mml.match(/<mtext(?: [^>]*)?>([^<]*\\[^<]*)<\/mtext>/);
    if (error) mathErrors.push(`${error[1]} in ${source}`);
    else if (macro) mathErrors.push(`undefined ${macro[1]} in ${source}`);
    else if (literal) mathErrors.push(`backslash shown in text "${literal[1]}" in ${source}`);
  }
  // Typesetting a page twice also typesets the hidden MathML copy kept for screen readers.
  const nested = document.querySelectorAll("mjx-container mjx-container").length;
  if (nested) mathErrors.push(`${nested} formulas typeset twice (nested mjx-container)`);
  if (mathErrors.length === 0) {
    document.querySelectorAll("mjx-merror, [data-mjx-error]").forEach((el) => {
      mathErrors.push(el.getAttribute("data-mjx-error") || el.textContent.slice(0, 80));
    });
  }
  // TeX left as text where a reader sees it (a heading's math in the table of contents, a
  // formula outside any arithmatex element): the page shows backslashes instead of math.
  const skip = "pre, code, script, style, textarea, mjx-container, .md-search, .arithmatex";
  const rawTex = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent;
    if (!/\\\(|\\\[|\$\$|\\begin\{/.test(text)) continue;
    const parent = node.parentElement;
    if (!parent || parent.closest(skip) || !parent.checkVisibility()) continue;
    rawTex.push(text.trim().slice(0, 80));
  }
  return {
    mathjax: mathjax,
    rawTex: rawTex,
    arithmatex: nodes().length,
    untypeset: pending().map((el) => el.textContent.trim().slice(0, 80)),
    mathErrors: mathErrors,
    brokenImages: images.filter((img) => !(img.complete && img.naturalWidth > 0))
      .map((img) => img.currentSrc || img.src),
    viewportWidth: document.documentElement.clientWidth,
  };
}
"""
# Runs in the page: how far it scrolls sideways, and which elements (outside any scroll box) stick
# out to the right, so a failure names the culprit.
SIDEWAYS_JS = """
() => {
  const y = window.scrollY;
  window.scrollTo(100000, y);
  const distance = window.scrollX;
  window.scrollTo(0, y);
  if (distance === 0) return {distance: 0, culprits: []};
  const width = document.documentElement.clientWidth;
  const boxed = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") return true;
    }
    return false;
  };
  const culprits = Array.from(document.querySelectorAll("body *"))
    .filter((el) => el.getBoundingClientRect().right > width + 1 && !boxed(el))
    .map((el) => `<${el.tagName.toLowerCase()} class="${el.className}"> `
      + el.textContent.trim().slice(0, 60));
  return {distance: distance, culprits: culprits.slice(0, 5)};
}
"""


# Runs in the page: every display formula, measured against its column (folded `<details>`
# opened first: MathJax broke their formulas while they were hidden). One fits, or scrolls inside
# its own box (a box between it and the column that clips sideways); any other is wider than its
# column and sticks out.
DISPLAY_MATH_JS = """
async () => {
  document.querySelectorAll("details:not([open])").forEach((el) => { el.open = true; });
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  // The nearest box between a formula and its column that clips sideways (the site's CSS gives
  // div.arithmatex `overflow-x: auto`): the formula cannot stick out of it, at most scroll in it.
  const clipping = (el, column) => {
    for (let up = el.parentElement; up && up !== column; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") return up;
    }
    return null;
  };
  const out = {count: 0, scrolling: [], outside: []};
  for (const math of document.querySelectorAll("mjx-container[display]")) {
    if (!math.checkVisibility()) continue;
    out.count += 1;
    const column = math.closest("article, .md-content, body");
    const box = math.closest(".arithmatex") || math;
    const tex = (box.querySelector("mjx-assistive-mml math") || box).textContent.trim();
    const clip = clipping(math, column);
    if (clip) {
      if (clip.scrollWidth > clip.clientWidth + 1) out.scrolling.push(tex.slice(0, 60));
      continue;
    }
    const frame = column.getBoundingClientRect();
    const style = getComputedStyle(column);
    const left = frame.left + parseFloat(style.paddingLeft);
    const right = frame.right - parseFloat(style.paddingRight);
    // The typeset formula itself: its container may be wider (MathJax 4 centres it in the box).
    const drawn = (math.querySelector("mjx-math") || math).getBoundingClientRect();
    const outBy = Math.max(drawn.right - right, left - drawn.left);
    if (outBy > 1) out.outside.push(`${Math.round(outBy)}px: ${tex.slice(0, 60)}`);
  }
  return out;
}
"""


def is_local(url: str) -> bool:
    """True when loading `url` does not leave the machine (127.0.0.1 or a data/blob URL)."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname == LOCAL_HOST


def sitemap_base(sitemap: str) -> str | None:
    """The site's own URL (`site_url`) as the sitemap spells it: the shortest `<loc>`."""
    locations = re.findall(r"<loc>\s*([^<\s]+)\s*</loc>", sitemap)
    return min(locations, key=len) if locations else None


class _SiteHandler(SimpleHTTPRequestHandler):
    """Files of the built site; the sitemap as the site's host would serve it.

    The theme's instant navigation only intercepts links listed in `sitemap.xml`, matched on
    path and port (it rewrites only scheme and host name), so the sitemap is served with
    `site_url` replaced by this server's URL: what `mkdocs serve` does by rebuilding.
    """

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        if self.path.split("?")[0] != "/sitemap.xml":
            super().do_GET()
            return
        sitemap = (Path(self.directory) / "sitemap.xml").read_text(encoding="utf-8")
        base = sitemap_base(sitemap)
        if base and base.startswith(("http://", "https://")):
            host, port = self.server.server_address[:2]
            sitemap = sitemap.replace(base, f"http://{host}:{port}/")
        body = sitemap.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


@contextmanager
def serve_site(root: Path) -> Iterator[str]:
    """Serve the directory `root` on 127.0.0.1 on a free port; yields the base URL."""
    handler = functools.partial(_SiteHandler, directory=str(root))
    server = ThreadingHTTPServer((LOCAL_HOST, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://{LOCAL_HOST}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def site_pages(root: Path) -> list[str]:
    """The path of every page of a built MkDocs site (`""` for home, `"lessons/01-x/"` ...)."""
    pages = []
    for index in root.rglob("index.html"):
        relative = index.parent.relative_to(root)
        if relative.parts and relative.parts[0] in NON_PAGE_DIRS:
            continue
        pages.append("" if not relative.parts else relative.as_posix() + "/")
    return sorted(pages, key=lambda page: (page != "", page))


def pages_under(root: Path, section: str) -> list[str]:
    """The pages of one section of the site (`"lessons"`, `"models"`), in file order."""
    return [page for page in site_pages(root) if page.startswith(section + "/")]


def math_count(root: Path, page: str) -> int:
    """How many arithmatex elements the static HTML of `page` holds."""
    return (root / page / "index.html").read_text(encoding="utf-8").count('class="arithmatex"')


def display_math(root: Path, page: str) -> list[str]:
    """The TeX of each display formula (`div.arithmatex`) in the static HTML of `page`."""
    text = (root / page / "index.html").read_text(encoding="utf-8")
    return [
        html.unescape(tex) for tex in re.findall(r'<div class="arithmatex">(.*?)</div>', text, re.S)
    ]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"a": "href", "img": "src", "script": "src", "link": "href"}.get(tag)
        self.targets += [value for name, value in attrs if name == wanted and value]


def broken_links(root: Path, page: str) -> list[str]:
    """Links and sources of `page` into the site itself that name no file of the built site."""
    parser = _Links()
    parser.feed((root / page / "index.html").read_text(encoding="utf-8"))
    base = f"http://{LOCAL_HOST}/{page}"
    broken = []
    for target in parser.targets:
        parts = urlsplit(urljoin(base, target))
        if parts.scheme != "http" or parts.hostname != LOCAL_HOST:
            continue  # outside links are only followed by a reader, never loaded by the page
        path = root / unquote(parts.path).lstrip("/")
        if not (path / "index.html" if parts.path.endswith("/") else path).is_file():
            broken.append(target)
    return broken


def search_index(root: Path) -> list[dict]:
    """The entries (`location`, `title`, `text`) of the site's search index: MkDocs writes
    `search/search_index.json` (`docs`), Zensical `search.json` (`items`)."""
    mkdocs, zensical = root / "search" / "search_index.json", root / "search.json"
    if mkdocs.is_file():
        return json.loads(mkdocs.read_text(encoding="utf-8"))["docs"]
    return json.loads(zensical.read_text(encoding="utf-8"))["items"]


def search_word(root: Path, page: str) -> str:
    """A word from the body of `page` that no other page of the site contains.

    Read from the theme's own search index, so the word is one the search can find.
    """
    index = search_index(root)

    def words(text: str) -> set[str]:
        # Whole words between spaces: the index splits on spaces and hyphens only.
        plain = f" {re.sub(r'<[^>]+>', ' ', text).lower()} "
        return set(re.findall(r"(?<=\s)[a-z]{6,}(?=\s)", plain))

    own, other = set(), set()
    for doc in index:
        location = doc["location"].split("#")[0]
        target = own if location == page else other
        target |= words(doc.get("title", "")) | words(doc.get("text", ""))

    # Search engines match a word's stem or prefix too (Zensical finds "architecture" for
    # "architectures"): no other page may hold a word that starts with this one's stem.
    def alone(word: str) -> bool:
        stem = word[: max(6, len(word) - 3)]
        return not any(o.startswith(stem) for o in other)

    unique = sorted(filter(alone, own - other), key=lambda word: (-len(word), word))
    if not unique:
        raise AssertionError(f"{page}: no word of it is absent from every other page")
    return unique[0]


@dataclass
class OfflineGuard:
    """Routes every request of a browser context: 127.0.0.1 passes, anything else is blocked."""

    blocked: list[str] = field(default_factory=list)

    def attach(self, context) -> None:
        """Install the router on a Playwright `BrowserContext`."""
        context.route("**/*", self._route)
        context.on("request", self._seen)

    def _seen(self, request) -> None:
        if not is_local(request.url) and request.url not in self.blocked:
            self.blocked.append(request.url)

    def _route(self, route) -> None:
        if is_local(route.request.url):
            route.continue_()
            return
        if route.request.url not in self.blocked:
            self.blocked.append(route.request.url)
        route.abort("blockedbyclient")


# Runs before each page's scripts: MathJax's menu settings, as a reader who turned speech and
# Braille off in MathJax's menu has them. Speech and Braille are made in a worker after each
# formula is shown and change nothing drawn, but they took a quarter of a page sweep's processor
# time (116 against 83 CPU-seconds for one pass at 390 px) and a third of a chart test's;
# `test_browser.py` checks that a reader's formulas get their speech.
NO_SPEECH_JS = """
localStorage.setItem("MathJax-Menu-Settings", JSON.stringify({speech: false, braille: false}));
"""


def offline_context(browser, speech: bool = False, **options) -> tuple:
    """A fresh browser context (Playwright's `new_context(**options)`) that lets no request leave
    127.0.0.1, with MathJax's speech and Braille off unless `speech`; returns (context, guard)."""
    context = browser.new_context(**options)
    if not speech:
        context.add_init_script(NO_SPEECH_JS)
    guard = OfflineGuard()
    guard.attach(context)
    return context, guard


@dataclass
class ConsoleLog:
    """Console errors and uncaught exceptions of one page."""

    errors: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        """Listen to a Playwright `Page`."""
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _console(self, message) -> None:
        if message.type == "error":
            location = message.location.get("url", "") if message.location else ""
            self.errors.append(f"{message.text} ({location})" if location else message.text)


@dataclass(frozen=True)
class PageReport:
    """What one rendered page holds, as seen by the browser."""

    page: str
    arithmatex: int
    mathjax: bool
    untypeset: tuple[str, ...]
    raw_tex: tuple[str, ...]
    math_errors: tuple[str, ...]
    broken_images: tuple[str, ...]
    console_errors: tuple[str, ...]
    viewport_width: int
    sideways: int
    culprits: tuple[str, ...]
    display_math: int = 0
    display_scrolling: tuple[str, ...] = ()
    display_outside: tuple[str, ...] = ()

    def problems(self) -> list[str]:
        """One line per thing wrong with the page; empty when it rendered."""
        name = self.page or "(home)"
        lines = []
        if self.arithmatex and not self.mathjax:
            lines.append(f"{name}: MathJax never started ({self.arithmatex} formulas on the page)")
        lines += [f"{name}: formula not typeset: {tex}" for tex in self.untypeset]
        lines += [f"{name}: TeX shown as text: {text}" for text in self.raw_tex]
        lines += [f"{name}: MathJax error: {error}" for error in self.math_errors]
        lines += [f"{name}: image did not load: {src}" for src in self.broken_images]
        lines += [f"{name}: console error: {error}" for error in self.console_errors]
        lines += [
            f"{name}: display equation wider than its column by {tex}"
            for tex in self.display_outside
        ]
        return lines

    def overflow(self) -> list[str]:
        """What sticks out sideways; empty when the page does not scroll sideways."""
        if not self.sideways:
            return []
        name = self.page or "(home)"
        return [
            f"{name}: scrolls {self.sideways}px sideways at {self.viewport_width}px wide; "
            "sticking out: " + ("; ".join(self.culprits) or "?")
        ]


def inspect_page(page, name: str, console: ConsoleLog) -> PageReport:
    """Wait for a loaded page's math and images, then report on it."""
    state = page.evaluate(MATH_STATE_JS, [MATH_TIMEOUT_MS, MATH_STALL_MS])
    sideways = page.evaluate(SIDEWAYS_JS)
    display = page.evaluate(DISPLAY_MATH_JS)
    return PageReport(
        page=name,
        arithmatex=state["arithmatex"],
        mathjax=state["mathjax"],
        untypeset=tuple(state["untypeset"]),
        raw_tex=tuple(state["rawTex"]),
        math_errors=tuple(state["mathErrors"]),
        broken_images=tuple(state["brokenImages"]),
        console_errors=tuple(console.errors),
        viewport_width=state["viewportWidth"],
        sideways=sideways["distance"],
        culprits=tuple(sideways["culprits"]),
        display_math=display["count"],
        display_scrolling=tuple(display["scrolling"]),
        display_outside=tuple(display["outside"]),
    )


#: A missing browser skips, except where the browser tests must run (.ci/run sets this).
REQUIRE_BROWSER = os.environ.get("COURSE_REQUIRE_BROWSER") == "1"


def unavailable(reason: str) -> None:
    """Skip the test, or fail it where the browser is required (`COURSE_REQUIRE_BROWSER=1`)."""
    import pytest

    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} (COURSE_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


@contextmanager
def launched_chromium() -> Iterator:
    """Debian's Chromium driven by Playwright, with a fresh profile; closed on exit.

    Use it from a module-scoped fixture: Playwright's event loop must be gone before other
    modules run asyncio.
    """
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (pip install -e .[dev])")
    if not CHROMIUM.exists():
        unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium-headless-shell)")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
            )
        except Error as error:
            unavailable(f"Chromium at {CHROMIUM} does not start: {error}")
        try:
            yield chromium
        finally:
            chromium.close()
