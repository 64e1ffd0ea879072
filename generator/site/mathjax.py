"""MathJax 3, served from the site itself: fetched once from the npm registry, never committed.

`npm pack mathjax@VERSION` downloads the package tarball into a per-user cache
(`$XDG_CACHE_HOME/networks-as-functions/`); the build copies the CommonHTML bundle, its fonts and
the TeX extensions it may load into the site's `assets/mathjax/`. Pages load nothing from a CDN.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from generator.exceptions import CourseError

VERSION = "3.2.2"
#: What the site needs from the package's `es5/` directory.
NEEDED = ("tex-mml-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions")


class MathJaxError(CourseError):
    """MathJax is not in the cache and cannot be fetched."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "networks-as-functions" / f"mathjax-{VERSION}"


def mathjax_es5() -> Path:
    """The unpacked `es5/` directory of MathJax, fetched with npm on first use."""
    target = cache_dir()
    es5 = target / "package" / "es5"
    if (es5 / "tex-mml-chtml.js").is_file():
        return es5
    if shutil.which("npm") is None:
        raise MathJaxError(
            f"MathJax {VERSION} is not in {target} and npm is not installed to fetch it "
            "(apt-get install npm, then run course build again)"
        )
    target.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["npm", "pack", f"mathjax@{VERSION}", "--pack-destination", str(target)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise MathJaxError(f"npm pack mathjax@{VERSION} timed out") from None
    tarball = target / f"mathjax-{VERSION}.tgz"
    if done.returncode != 0 or not tarball.is_file():
        raise MathJaxError(f"npm pack mathjax@{VERSION} failed: {done.stderr.strip()[-300:]}")
    tmp = target / "unpack.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(tarball) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith("package/es5/")]
        archive.extractall(tmp, members=members, filter="data")
    shutil.rmtree(target / "package", ignore_errors=True)
    os.rename(tmp / "package", target / "package")
    shutil.rmtree(tmp, ignore_errors=True)
    return es5


def mathjax_files() -> dict[str, Path]:
    """Site path (under `assets/mathjax/`) -> cached file, for every file the site serves."""
    es5 = mathjax_es5()
    files = {}
    for name in NEEDED:
        path = es5 / name
        paths = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for p in paths:
            files[f"assets/mathjax/{p.relative_to(es5).as_posix()}"] = p
    return files
