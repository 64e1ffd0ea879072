"""LaTeX documents the tests write: compiled where TeX is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def assert_compiles_where_tex_is(document: str, folder: Path) -> None:
    """`pdflatex` compiles `document` without an error, where `pdflatex` is installed (the
    structure of the document is tested without it; TeX is not a dependency)."""
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        return
    (folder / "model.tex").write_text(document, encoding="utf-8")
    done = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "model.tex"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:]
