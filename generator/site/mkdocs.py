"""The site: stage hand-written and generated pages, write the engine's config, build and swap.

Hand-written pages live in `docs/`; generated ones (lessons, models, notebooks, MathJax) are
build output staged beside copies of them in `build/docs/`, so a generated page can never
overwrite a hand-written one (a clash is an error). The generated config (`build/mkdocs.yml`,
or `build/zensical.yml`) is the repository's `mkdocs.yml` flattened, plus the nav (see
`engines.py`). The site is built into a temporary directory and swapped in only when the build
succeeded, so a failed build leaves `site/` intact.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from generator.site.engines import DEFAULT_ENGINE, SiteError, write_config

#: In `docs/index.md`, replaced (in the staged copy) by the generated course outline.
OUTLINE_MARKER = "<!-- course-outline -->"


@dataclass(frozen=True)
class CoursePaths:
    """Where everything of one course lives, from its root directory."""

    root: Path
    lessons: Path

    @classmethod
    def at(cls, root: Path, lessons: Path | None = None) -> CoursePaths:
        root = root.resolve()
        return cls(root, (lessons or root / "lessons").resolve())

    @property
    def docs(self) -> Path:
        return self.root / "docs"

    @property
    def config(self) -> Path:
        return self.root / "mkdocs.yml"

    @property
    def build(self) -> Path:
        return self.root / "build"

    @property
    def staging(self) -> Path:
        return self.build / "docs"

    @property
    def build_config(self) -> Path:
        return self.build / "mkdocs.yml"

    @property
    def site(self) -> Path:
        return self.root / "site"

    @property
    def cache(self) -> Path:
        return self.root / ".course-cache"

    @property
    def logs(self) -> Path:
        return self.build / "logs"

    @property
    def state(self) -> Path:
        return self.build / "state.json"

    @property
    def lock(self) -> Path:
        return self.build / ".lock"

    def leftovers(self) -> list[Path]:
        """What interrupted builds left behind: temporary sites and old sites set aside."""
        found = sorted(self.root.glob(f".{self.site.name}.old-*"))
        if self.build.is_dir():
            found += sorted(self.build.glob("site-*"))
        cache_tmp = self.cache / "tmp"
        if cache_tmp.is_dir():
            found += sorted(cache_tmp.iterdir())
        return found


Content = bytes | str | Path


def _bytes(content: Content) -> bytes:
    if isinstance(content, Path):
        return content.read_bytes()
    return content.encode("utf-8") if isinstance(content, str) else content


def hand_written(paths: CoursePaths) -> dict[str, Path]:
    """Every file under `docs/`, by its path relative to it."""
    if not paths.docs.is_dir():
        return {}
    return {
        p.relative_to(paths.docs).as_posix(): p
        for p in sorted(paths.docs.rglob("*"))
        if p.is_file()
    }


def stage(paths: CoursePaths, generated: dict[str, Content]) -> int:
    """Make `build/docs/` hold exactly the hand-written and the generated files.

    Files whose content did not change are left alone (their times too), so a serving MkDocs
    only sees real changes. Returns the number of files written or removed.

    Raises:
        SiteError: a generated file would replace a hand-written one.
    """
    written = hand_written(paths)
    for name in generated:
        if name in written and name != "index.md":
            raise SiteError(
                f"docs/{name}: a hand-written page is in the way of a generated one; "
                "rename or move it (lessons/, models/, notebooks/ and "
                "assets/mathjax*/ are generated)"
            )
    wanted: dict[str, Content] = {**written, **generated}
    changes = 0
    for name, content in wanted.items():
        target = paths.staging / name
        data = _bytes(content)
        if target.is_file() and target.stat().st_size == len(data) and target.read_bytes() == data:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        changes += 1
    for path in sorted(paths.staging.rglob("*"), reverse=True):
        name = path.relative_to(paths.staging).as_posix()
        if path.is_file() and name not in wanted:
            path.unlink()
            changes += 1
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return changes


def engine_config(paths: CoursePaths, engine: str) -> Path:
    """The generated config an engine reads: `build/mkdocs.yml`, or `build/zensical.yml`."""
    return paths.build_config if engine == "mkdocs" else paths.build / f"{engine}.yml"


def check_site_dir(site: Path) -> None:
    """`site` must be a directory or absent: a file or a symlink there is not ours to replace.

    Raises:
        SiteError: naming the path and what is there.
    """
    if site.is_symlink():
        raise SiteError(f"{site}: is a symbolic link, not the site directory; remove it")
    if site.exists() and not site.is_dir():
        raise SiteError(f"{site}: is a file, not the site directory; remove or rename it")


def build_site(paths: CoursePaths, nav: list, engine: str = DEFAULT_ENGINE) -> None:
    """A strict build of the staged docs by `engine`, then the swap into `site/`.

    MkDocs updates the site before last (`build/next-site/`) in place, rebuilding only the pages
    that changed when that gives the same site (see `incremental.py`); Zensical does the same
    with `build/zensical/next-site/` (see `zensical_site.py`).

    Raises:
        SiteError: the engine reported a warning or an error; `site/` is left as it was.
    """
    if not paths.config.is_file():
        raise SiteError(f"{paths.config}: missing (the site's MkDocs configuration)")
    config_file = engine_config(paths, engine)
    if engine == "mkdocs":
        from generator.site.incremental import SPARE, build_spare, record_swap

        write_config(paths.config, config_file, paths.staging, paths.build / SPARE, nav)
        built = build_spare(paths.staging, paths.build, config_file, nav)  # search index tidied
        record_swap(paths.build, built, swap_in(built.path, paths.site, keep_old=True))
    else:
        from generator.site import zensical_site
        from generator.site.incremental import record_swap

        built = zensical_site.build_spare(paths.staging, paths.build, paths.config, nav)
        exchanged = swap_in(built.path, paths.site, keep_old=True)
        record_swap(paths.build / zensical_site.PROJECT, built, exchanged)
    # The config left behind serves the site (`course serve`) or rebuilds it by hand with
    # `mkdocs build -f build/mkdocs.yml`; Zensical's site_dir must stay inside build/.
    final = paths.site if engine == "mkdocs" else paths.build / f"{engine}-site"
    write_config(paths.config, config_file, paths.staging, final, nav)


def swap_in(new: Path, site: Path, keep_old: bool = False) -> bool:
    """Replace the directory `site` by `new` atomically: at every instant `site` is whole.

    Linux exchanges the two directories in one `renameat2(RENAME_EXCHANGE)`; elsewhere (or on
    a file system without it) the old site is renamed aside next to `new` first, so the gap is
    two renames long and a leftover lands under `build/`, where `course clean` removes it.
    Returns whether the two were exchanged; then `new` holds the old site, kept when
    `keep_old` (the next incremental build updates it), else removed.

    Raises:
        SiteError: `site` is a file or a symlink (never moved aside or replaced).
    """
    check_site_dir(site)
    if not site.exists():
        os.rename(new, site)
        return False
    if _exchange(new, site):
        if not keep_old:
            shutil.rmtree(new, ignore_errors=True)  # `new` now holds the old site
        return True
    old = new.with_name(f"{new.name}-old")
    os.rename(site, old)
    os.rename(new, site)
    shutil.rmtree(old, ignore_errors=True)
    return False


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step with Linux's `renameat2`; False where that is not possible."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(
        at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), ctypes.c_uint(rename_exchange)
    )
    return result == 0
