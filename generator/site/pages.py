"""Lesson pages: an executed notebook as Markdown (prose, code, outputs, images) for MkDocs."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.render.exercise import EXERCISE_KEY, exercise_markdown
from generator.site.lessons import Lesson, source
from generator.site.publish import DISPLAY_KEY, write_atomic

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: stderr lines from TensorFlow's C++ start-up, not the learner's business.
STDERR_NOISE = re.compile(
    r"(absl::InitializeLog|oneDNN custom operations|TF_ENABLE_ONEDNN_OPTS|cuda_|"
    r"port\.cc:\d+|cpu_feature_guard|This TensorFlow binary is optimized|"
    r"rebuild TensorFlow with the appropriate compiler flags|Debugger warning|"
    r"PYDEVD_DISABLE_FILE_VALIDATION|frozen modules|-Xfrozen_modules|"
    r"Unable to register cu|computation placer|E0000 00:00|W0000 00:00|I0000 00:00|"
    r"triggered tf\.function retracing)"
)
IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/svg+xml": "svg"}


@dataclass
class LessonPage:
    """A rendered lesson: its Markdown and the image files it refers to (name -> bytes)."""

    markdown: str
    images: dict[str, bytes] = field(default_factory=dict)


def merge_outputs(lesson: Lesson, executed: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The lesson's current cells with the outputs of the executed notebook's code cells.

    The code cells of both are the same (the cache key says so), so they pair up in order;
    markdown cells come from the current notebook, which is how a prose edit shows up without
    running a kernel.
    """
    if executed is None:
        return list(lesson.cells)
    ran = [cell for cell in executed.get("cells", []) if cell.get("cell_type") == "code"]
    cells, i = [], 0
    for cell in lesson.cells:
        if cell.get("cell_type") == "code" and i < len(ran):
            cell = {
                **cell,
                "outputs": ran[i].get("outputs", []),
                "execution_count": ran[i].get("execution_count"),
            }
            i += 1
        cells.append(cell)
    return cells


def _fence(text: str, lang: str = "") -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line.strip() else "" for line in text.splitlines())


def _text(data: Any) -> str:
    return "".join(data) if isinstance(data, list) else str(data)


def _flatten_headings(markdown: str) -> str:
    """Headings of an embedded page become bold lines (they must not enter the page's TOC)."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else re.match(r"^#{1,6}\s+(.*)$", line)
        lines.append(f"**{match.group(1)}**" if match else line)
    return "\n".join(lines)


def dark_version(png: bytes, memo: Path | None = None, code: str = "") -> bytes | None:
    """`dark_rendering(png)`, kept in the directory `memo` per image and version `code` of the
    generator (redrawing every chart of every lesson is slow next to a markdown-only edit)."""
    key = hashlib.sha256(code.encode() + b"\0" + png).hexdigest()[:32]
    kept = memo / f"dark-{key}.png" if memo else None
    not_chart = memo / f"dark-{key}.none" if memo else None
    if kept is not None and kept.is_file():
        return kept.read_bytes()
    if not_chart is not None and not_chart.is_file():
        return None
    from generator.render.plots import dark_rendering  # imports the equation package: slow

    dark = dark_rendering(png)
    if memo is not None:
        memo.mkdir(parents=True, exist_ok=True)
        write_atomic(kept if dark is not None else not_chart, dark or b"")
    return dark


class _Renderer:
    def __init__(
        self,
        lesson: Lesson,
        models_url: str,
        published: dict[str, str | None] | None = None,
        memo: Path | None = None,
        code: str = "",
    ):
        self.lesson = lesson
        self.models_url = models_url
        self.published = published
        self.memo = memo
        self.code = code
        self.images: dict[str, bytes] = {}
        self.exercises = 0

    def output(self, output: dict[str, Any], cell_number: int, index: int) -> str:
        kind = output.get("output_type")
        if kind == "stream":
            text = ANSI.sub("", _text(output.get("text", "")))
            if output.get("name") == "stderr":
                text = "\n".join(
                    line for line in text.splitlines() if not STDERR_NOISE.search(line)
                )
            return _fence(text, "text") if text.strip() else ""
        if kind == "error":
            return _fence(ANSI.sub("", "\n".join(output.get("traceback", []))), "text")
        data = output.get("data", {})
        meta = output.get("metadata", {})
        if DISPLAY_KEY in meta:
            return self.model(meta[DISPLAY_KEY], _text(data.get("text/markdown", "")))
        if EXERCISE_KEY in meta:  # a form that checks the answer by its hash
            self.exercises += 1
            return exercise_markdown(meta[EXERCISE_KEY], self.exercises)
        for mime, ext in IMAGE_TYPES.items():
            if mime in data:
                name = f"{self.lesson.stem}/cell-{cell_number}-{index}.{ext}"
                raw = _text(data[mime])
                self.images[name] = raw.encode() if ext == "svg" else base64.b64decode(raw)
                return self.image(name, f"Output of cell {cell_number}")
        if "text/markdown" in data:
            return _text(data["text/markdown"])
        if "text/latex" in data:
            return _text(data["text/latex"])
        if "text/html" in data and "<table" in _text(data["text/html"]):
            return f'<div class="output-table" markdown="0">\n{_text(data["text/html"])}\n</div>'
        if "text/plain" in data:
            return _fence(ANSI.sub("", _text(data["text/plain"])), "text")
        return ""

    def image(self, name: str, alt: str) -> str:
        """An image output; a chart also as a dark rendering, each shown in its own colour
        scheme (`naf-light`, `naf-dark`: stylesheets/extra.css)."""
        png = self.images[name]
        dark = dark_version(png, self.memo, self.code) if name.endswith(".png") else None
        if dark is None:
            return f"![{alt}]({name})"
        dark_name = name.removesuffix(".png") + "-dark.png"
        self.images[dark_name] = dark
        return f"![{alt}]({name}){{ .naf-light }}![{alt}]({dark_name}){{ .naf-dark }}"

    def model(self, info: dict[str, Any], page: str) -> str:
        name, stem = info.get("name", "model"), info.get("stem", "model")
        passed, total = info.get("checks_passed", 0), info.get("checks", 0)
        if info.get("draft"):
            head = (
                f'!!! note "Draft model `{name}`: {passed} of {total} checks passed"\n'
                "    A draft has no page on the site: the lesson publishes it once it drops "
                "`draft=True`."
            )
        elif self.published is not None and stem not in self.published:
            # A failed run showed it, but no page of it exists (a strict build would fail on
            # the link): say so instead of linking.
            head = (
                f'!!! warning "Model `{name}`: not on the site"\n'
                "    The lesson failed before its model page was written."
            )
        else:
            head = (
                f'!!! success "Model `{name}`: {passed} of {total} checks passed"\n'
                f"    Its full derivation is on [the model's page]({self.models_url}/{stem}.md)."
            )
        if self.published and self.published.get(stem):
            page = self.published[stem]  # rendered by the build, not as the kernel showed it
        if not page.strip():
            return head
        body = _indent(_flatten_headings(page))
        return f'{head}\n\n??? abstract "What `publish()` showed for `{name}`"\n\n{body}'

    def cell(self, cell: dict[str, Any], number: int) -> list[str]:
        tags = set(cell.get("metadata", {}).get("tags", []))
        kind = cell.get("cell_type")
        if "remove-cell" in tags:
            return []
        if kind == "markdown":
            return [source(cell)]
        if kind != "code":
            return []
        parts = []
        if source(cell).strip() and "remove-input" not in tags:
            parts.append(_fence(source(cell), "python"))
        if "remove-output" not in tags:
            for index, output in enumerate(cell.get("outputs", [])):
                text = self.output(output, number, index)
                if text.strip():
                    parts.append(text)
        return parts


def lesson_page(
    lesson: Lesson,
    executed: dict[str, Any] | None,
    notebook_url: str,
    models_url: str,
    failure: str | None = None,
    published: dict[str, str | None] | None = None,
    memo: Path | None = None,
    code: str = "",
) -> LessonPage:
    """The Markdown page of a lesson, with a download link to its notebook.

    Args:
        lesson: the lesson as it is now (its markdown cells are used as they are).
        executed: the executed notebook (from the cache), or `None` to show code only.
        notebook_url: link to the downloadable notebook, relative to the page.
        models_url: the models directory relative to the page.
        failure: a failure message: the page then opens with it (`--keep-going`).
        published: the models that have a page, by stem, each with its page as the build
            rendered it (shown in the model's box instead of what the kernel showed; `None`
            where the lesson wrote its page itself); a box for any other model links nowhere
            (`None`: link every box, show what the kernel showed).
        memo: a directory keeping the dark renderings of charts, for the generator's code
            version `code` (see `dark_version`); `None` to redraw them.
    """
    renderer = _Renderer(lesson, models_url, published, memo, code)
    blocks: list[str] = []
    download = f"[Download this lesson as a notebook]({notebook_url}){{ .md-button }}"
    for number, cell in enumerate(merge_outputs(lesson, executed), start=1):
        blocks += renderer.cell(cell, number)
        if len(blocks) and number == 1 and cell.get("cell_type") == "markdown":
            blocks.append(download)
    if download not in blocks:
        blocks.insert(0, download)
    if failure is not None:
        note = '!!! failure "This lesson failed to build"\n\n' + _indent(_fence(failure, "text"))
        blocks.insert(1, note)
    return LessonPage(
        "\n\n".join(b.strip("\n") for b in blocks if b.strip()) + "\n", renderer.images
    )
