"""Incremental Zensical builds: the changed pages rebuilt beside stubs of the others, then a swap.

As for MkDocs (`incremental.py`), the site is double-buffered: `site/` is served, and
`build/zensical/next-site/` is the site before it, set aside by the last swap. Zensical has no
dirty mode, and a cached build still renders and writes every page, so a markdown-only edit is
built on a reduced project, `build/zensical-partial/`: the changed pages in full; the pages
whose nav title Zensical reads from the page itself in full; every other page a stub holding
only the anchors of its built HTML (so links from a changed page into it still resolve, and are
still checked). The changed pages' HTML and search entries then replace theirs in `next-site/`,
the changed static files are copied, and the two sites are exchanged.

The partial update is used only when it gives the site a full build would (`can_update`: same
config, nav and Zensical version, the same set of staged files, every changed page titled by the
nav, `next-site/` as its build left it); and only when the partial build passed strict mode and
no changed page lost an anchor (a page not rebuilt could link to it). Otherwise `next-site/` is
built from scratch, from `build/zensical/`: a stable project of its own (its docs hard links to
the staged ones), so Zensical's cache (`build/zensical/.cache/`, keyed on the config) hits, and
a bare `zensical build -f build/zensical.yml` keeps a cache of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from generator.site.engines import SiteError, build_with_zensical, write_config
from generator.site.incremental import (
    SpareBuild,
    can_update,
    explicit_titles,
    files_in,
    read_record,
    staged_files,
    write_record,
)
from generator.site.publish import write_atomic
from generator.site.search_index import tidy_search_index

PROJECT = "zensical"  # build/zensical/: the full build's project, its cache and the spare
PARTIAL = "zensical-partial"  # build/zensical-partial/: changed pages beside stubs
SPARE = "next-site"
CONFIG = "zensical.yml"
SEARCH_INDEX = "search.json"
#: An element's `id` or an `<a name>`: what Zensical's link check takes for an anchor.
ANCHOR = re.compile(
    r"""<[a-zA-Z][^>]*\sid=["'](?P<id>[^"']+)["'][^>]*>|<a\s[^>]*name=["'](?P<name>[^"']+)["'][^>]*>"""
)
#: The page's content in the theme's page: after the article's "skip to content" target.
ARTICLE = re.compile(
    r'<article class="md-content__inner[^"]*">\s*(?:<a id="__skip"[^>]*></a>)?(.*)</article>', re.S
)


def page_path(name: str) -> str:
    """Where Zensical writes the page `name` (`a/b.md` -> `a/b/index.html`, `index.md` stays)."""
    stem = name.removesuffix(".md")
    if stem == "index" or stem.endswith("/index"):
        return f"{stem}.html"
    return f"{stem}/index.html"


def page_url(name: str) -> str:
    """The page's location in the search index (`a/b.md` -> `a/b/`, `index.md` -> ``)."""
    return page_path(name).removesuffix("index.html")


class UnknownLayout(Exception):
    """A built page whose content cannot be told from the theme around it (a new theme)."""


def anchors(page: Path) -> set[str]:
    """The anchors in the content of a built page (not in the theme around it).

    Raises:
        UnknownLayout: the page has no content where the theme puts it.
    """
    article = ARTICLE.search(page.read_text(encoding="utf-8"))
    if article is None:
        raise UnknownLayout(page)
    return {m.group("id") or m.group("name") for m in ANCHOR.finditer(article.group(1))}


def stub(page: Path) -> str:
    """A page's stand-in for the partial build: its anchors and nothing else."""
    return "".join(f'<a id="{anchor}"></a>\n' for anchor in sorted(anchors(page)))


def config_fingerprint(config_file: Path) -> str:
    """Hash of the full build's config (nav included) and of Zensical's version."""
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256(config_file.read_bytes())
    try:
        digest.update(f"\0zensical={version('zensical')}".encode())
    except PackageNotFoundError:
        digest.update(b"\0zensical=-")
    return digest.hexdigest()


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _replace_tree(staging: Path, docs: Path, names: list[str]) -> None:
    """`docs` made to hold exactly `names` from `staging`, as hard links (copies where links
    are not possible)."""
    shutil.rmtree(docs, ignore_errors=True)
    for name in names:
        _link(staging / name, docs / name)


def _copy_into(source: Path, target: Path) -> None:
    """Replace `target` by a copy of `source`, in one rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def full_build(project: Path, staging: Path, base_config: Path, nav: list) -> None:
    """`next-site/` built from scratch from the staged docs, search index tidied.

    Raises:
        SiteError: Zensical reported a warning or an error.
    """
    spare = project / SPARE
    shutil.rmtree(spare, ignore_errors=True)
    _replace_tree(staging, project / "docs", list(staged_files(staging)))
    config = write_config(base_config, project / CONFIG, project / "docs", spare, nav)
    build_with_zensical(config)
    tidy_search_index(spare)  # search snippets show formulas as text, not raw TeX


def partial_build(
    project: Path,
    partial: Path,
    staging: Path,
    base_config: Path,
    nav: list,
    changed: list[str],
) -> bool:
    """Bring `next-site/` up to the staged docs by rebuilding only the `changed` files' pages;
    False (with `next-site/` untouched) when that cannot be trusted to give the full site."""
    try:
        return _partial_build(project, partial, staging, base_config, nav, changed)
    except UnknownLayout:
        return False  # stubs would lack anchors or have the theme's: check every page


def _partial_build(
    project: Path,
    partial: Path,
    staging: Path,
    base_config: Path,
    nav: list,
    changed: list[str],
) -> bool:
    spare = project / SPARE
    pages = [name for name in staged_files(staging) if name.endswith(".md")]
    changed_pages = [name for name in changed if name.endswith(".md")]
    if any(not (spare / page_path(name)).is_file() for name in pages):
        return False
    if changed_pages:
        titled = explicit_titles(nav)
        docs = partial / "docs"
        shutil.rmtree(docs, ignore_errors=True)
        shutil.rmtree(partial / "site", ignore_errors=True)
        for name in pages:
            if name in changed_pages or name not in titled:
                _link(staging / name, docs / name)
            else:
                (docs / name).parent.mkdir(parents=True, exist_ok=True)
                (docs / name).write_text(stub(spare / page_path(name)), encoding="utf-8")
        config = write_config(base_config, partial / CONFIG, docs, partial / "site", nav)
        try:
            build_with_zensical(config)
        except SiteError:
            return False  # the full build tells whether the warning is real
        built = partial / "site"
        if any(
            not anchors(spare / page_path(name)) <= anchors(built / page_path(name))
            for name in changed_pages
        ):
            return False  # a page not rebuilt may link to the lost anchor: check them all
        tidy_search_index(built)
        for name in changed_pages:
            _copy_into(built / page_path(name), spare / page_path(name))
        merge_search_index(spare / SEARCH_INDEX, built / SEARCH_INDEX, changed_pages)
    for name in changed:
        if not name.endswith(".md"):
            _copy_into(staging / name, spare / name)  # static files are copied as they are
    return True


def merge_search_index(index: Path, rebuilt: Path, pages: list[str]) -> None:
    """The entries of the rebuilt `pages` (from the index `rebuilt`) in place of theirs in
    `index`; the other pages' entries kept, in their order."""
    old = json.loads(index.read_text(encoding="utf-8"))
    new = json.loads(rebuilt.read_text(encoding="utf-8"))
    urls = {page_url(name) for name in pages}

    def page(item: dict) -> str:
        return str(item.get("location", "")).split("#", 1)[0]

    fresh: dict[str, list[dict]] = {}
    for item in new.get("items", []):
        if page(item) in urls:
            fresh.setdefault(page(item), []).append(item)
    items: list[dict] = []
    for item in old.get("items", []):
        location = page(item)
        if location not in urls:
            items.append(item)
        elif location in fresh:
            items.extend(fresh.pop(location))
    for entries in fresh.values():  # a page the old index had no entry for
        items.extend(entries)
    write_atomic(index, json.dumps({**old, "items": items}, ensure_ascii=False))


def build_spare(staging: Path, build_dir: Path, base_config: Path, nav: list) -> SpareBuild:
    """Bring `build/zensical/next-site/` up to the staged docs: a partial build when it gives
    the full site, else a full one. Leaves `build/zensical/sites.json` empty (neither site
    trusted) until `record_swap(build/zensical, ...)` runs.

    Raises:
        SiteError: Zensical reported a warning or an error.
    """
    project = build_dir / PROJECT
    project.mkdir(parents=True, exist_ok=True)
    spare = project / SPARE
    record = read_record(project)
    config = write_config(base_config, project / CONFIG, project / "docs", spare, nav)
    fingerprint = config_fingerprint(config)
    files = staged_files(staging)
    previous = record.get("next")
    write_record(project, {})
    done = False
    if can_update(previous, fingerprint, files, nav, spare):
        before = previous["files"]
        changed = [name for name, stat in files.items() if before[name] != stat]
        done = partial_build(project, build_dir / PARTIAL, staging, base_config, nav, changed)
    if not done:
        full_build(project, staging, base_config, nav)
    built = {"config": fingerprint, "files": files, "site": files_in(spare)}
    return SpareBuild(spare, record.get("site"), built)
