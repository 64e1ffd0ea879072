"""Incremental MkDocs builds: only the pages whose staged source changed, then a whole-site swap.

The site is double-buffered. `site/` is the site being served; `build/next-site/` is the one
before it, set aside by the last swap. A build updates `next-site/` in MkDocs' dirty mode (a page
is rebuilt when its staged source is newer than its HTML; `stage()` rewrites only files whose
content changed, so that is exactly the changed pages) and then exchanges it with `site/`. A
dirty update is used only when it gives the site a full build would: same configuration, nav
and engine versions, the same set of staged files, no changed page whose nav title MkDocs reads
from the page itself, and `next-site/` exactly as the build that made it left it. Otherwise
`next-site/` is built from scratch. `build/sites.json` records what each of the two was built
from, and is cleared before either is touched, so an interrupted build leads to a full one.

A dirty MkDocs build indexes only the pages it rebuilt for search; the index of the rest is
taken from the previous one. Nav titles that MkDocs takes from unchanged pages (which a dirty
build never reads) are the ones the previous build recorded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.site.publish import write_atomic
from generator.site.search_index import tidy_search_index

SPARE = "next-site"
RECORD = "sites.json"
SEARCH_INDEX = Path("search") / "search_index.json"


def _files(root: Path) -> list[tuple[str, os.stat_result]]:
    """Every file under `root` with its stat, by path relative to it, in sorted order."""
    found: list[tuple[str, os.stat_result]] = []
    stack = [(str(root), "")]
    while stack:
        directory, prefix = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append((entry.path, f"{prefix}{entry.name}/"))
            elif entry.is_file():
                found.append((f"{prefix}{entry.name}", entry.stat()))
    return sorted(found, key=lambda item: item[0])


def staged_files(staging: Path) -> dict[str, list[int]]:
    """Every staged file: its size and modification time (ns), by path relative to `staging`."""
    return {name: [stat.st_size, stat.st_mtime_ns] for name, stat in _files(staging)}


def files_in(site: Path) -> str:
    """Hash of the names, sizes and times of the files under `site`: any change makes it differ."""
    digest = hashlib.sha256()
    for name, stat in _files(site):
        digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def config_fingerprint(config_file: Path) -> str:
    """Hash of the engine's config (nav included) and of the versions of MkDocs and its theme."""
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256(config_file.read_bytes())
    for package in ("mkdocs", "mkdocs-material", "pymdown-extensions", "markdown"):
        try:
            digest.update(f"\0{package}={version(package)}".encode())
        except PackageNotFoundError:
            digest.update(f"\0{package}=-".encode())
    return digest.hexdigest()


def explicit_titles(nav: list) -> set[str]:
    """The pages the nav gives a title (`{"Title": "page.md"}`); the others take theirs from
    the page itself."""
    found: set[str] = set()
    for item in nav:
        for value in item.values() if isinstance(item, dict) else ():
            found |= {value} if isinstance(value, str) else explicit_titles(value)
    return found


def can_update(
    previous: dict | None, fingerprint: str, files: dict, nav: list, spare: Path
) -> bool:
    """Whether a dirty build of `spare`, built from `previous`, gives the site a full build
    of the staged `files` would."""
    if not previous or previous.get("config") != fingerprint or not spare.is_dir():
        return False
    before = previous.get("files") or {}
    if before.keys() != files.keys() or previous.get("site") != files_in(spare):
        return False
    titled = explicit_titles(nav)
    changed = [name for name, stat in files.items() if before[name] != stat]
    return all(not name.endswith(".md") or name in titled for name in changed)


def read_record(paths_build: Path) -> dict[str, Any]:
    """`build/sites.json`: what `site/` ("site") and `build/next-site/` ("next") were built from."""
    try:
        record = json.loads((paths_build / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def write_record(paths_build: Path, record: dict[str, Any]) -> None:
    write_atomic(paths_build / RECORD, json.dumps(record))


class _Titles:
    """A plugin added to the build: records every page's title, and gives the pages a dirty
    build does not read the titles recorded last time (MkDocs reads a title from the page)."""

    def __init__(self, known: dict[str, str]) -> None:
        self.known = known
        self.titles: dict[str, str] = {}

    def on_env(self, env, *, config, files):  # noqa: ANN001, ANN201 - MkDocs' event signature
        for file in files.documentation_pages():
            page = file.page
            if page is None:
                continue
            if page.markdown is None and file.src_uri in self.known:
                page.title = self.known[file.src_uri]
            if page.title is not None:
                self.titles[file.src_uri] = page.title
        return env


class _NoDirtyWarning(logging.Filter):
    """MkDocs warns that a dirty build may leave the nav inaccurate; `can_update` rules that
    out, and in strict mode the warning would abort the build."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "A 'dirty' build is being performed" not in record.getMessage()


def mkdocs_build(config_file: Path, dirty: bool, known_titles: dict[str, str]) -> dict[str, str]:
    """`mkdocs build --strict` (`--dirty` when `dirty`), in this process; returns the titles of
    the pages.

    Raises:
        SiteError: MkDocs reported a warning or an error.
    """
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    from generator.site.engines import SiteError, collect_warnings

    titles = _Titles(known_titles)
    quiet = _NoDirtyWarning()
    emitter = logging.getLogger("mkdocs.commands.build")
    emitter.addFilter(quiet)
    try:
        with collect_warnings() as messages:
            config = load_config(config_file=str(config_file), strict=True)
            config.plugins["course-titles"] = titles
            try:
                build(config, dirty=dirty)
            except MkDocsException as err:
                detail = "; ".join(messages[:3]) or str(err)
                raise SiteError(f"mkdocs build --strict failed: {detail}") from None
    finally:
        emitter.removeFilter(quiet)
    return titles.titles


def merge_search_index(site: Path, before: bytes | None) -> None:
    """After a dirty build: the search index of the rebuilt pages, in place of their entries in
    the index `before` the build; the entries of the other pages kept, in their order."""
    if before is None:
        return
    path = site / SEARCH_INDEX
    new = json.loads(path.read_text(encoding="utf-8"))
    old = json.loads(before)

    def page(entry: dict) -> str:
        return str(entry.get("location", "")).split("#", 1)[0]

    rebuilt: dict[str, list[dict]] = {}
    for entry in new.get("docs", []):
        rebuilt.setdefault(page(entry), []).append(entry)
    docs: list[dict] = []
    for entry in old.get("docs", []):
        location = page(entry)
        if location not in rebuilt:
            docs.append(entry)
        elif rebuilt[location]:
            docs.extend(rebuilt[location])
            rebuilt[location] = []
    for entries in rebuilt.values():  # a page the old index did not have
        docs.extend(entries)
    write_atomic(path, json.dumps({**new, "docs": docs}, separators=(",", ":")))


@dataclass(frozen=True)
class SpareBuild:
    """`build/next-site/` brought up to date, and the records of both sites for the swap."""

    path: Path
    old_site: dict | None  # what `site/` was built from, before the swap
    new_site: dict  # what `path` was built from


def build_spare(staging: Path, build_dir: Path, config_file: Path, nav: list) -> SpareBuild:
    """Bring `build/next-site/` up to the staged docs (dirty when `can_update`, else from
    scratch) with the config `config_file`, whose site_dir it is.

    Leaves `build/sites.json` empty (neither site trusted) until `record_swap` runs.

    Raises:
        SiteError: MkDocs reported a warning or an error.
    """
    spare = build_dir / SPARE
    record = read_record(build_dir)
    fingerprint = config_fingerprint(config_file)
    files = staged_files(staging)
    previous = record.get("next")
    dirty = can_update(previous, fingerprint, files, nav, spare)
    write_record(build_dir, {})
    index = spare / SEARCH_INDEX
    before = index.read_bytes() if dirty and index.is_file() else None
    if before is None:
        dirty = False
        shutil.rmtree(spare, ignore_errors=True)
    titles = mkdocs_build(config_file, dirty, previous.get("titles", {}) if dirty else {})
    merge_search_index(spare, before)
    tidy_search_index(spare)  # before the fingerprint below: the tidied index is the site's
    built = {"config": fingerprint, "files": files, "titles": titles, "site": files_in(spare)}
    return SpareBuild(spare, record.get("site"), built)


def record_swap(build_dir: Path, built: SpareBuild, exchanged: bool) -> None:
    """Record the swap `built` went through: it is `site/` now, and when the two were
    exchanged (not renamed), `next-site/` holds what `site/` held."""
    write_record(build_dir, {"site": built.new_site, "next": built.old_site if exchanged else None})
