"""Lessons: the `lessons/NN-slug.ipynb` notebooks, their order, titles and declared inputs."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.exceptions import CourseError

LESSON_NAME = re.compile(r"^(\d{2,})-([a-z0-9][a-z0-9-]*)\.ipynb$")


class LessonError(CourseError):
    """A missing lessons directory, or a lesson notebook that cannot be read."""


@dataclass(frozen=True)
class Lesson:
    """One lesson notebook.

    Attributes:
        path: the notebook file.
        number: its number (the order in the course).
        slug: the part of the name after the number (`a-network-is-a-function`).
        title: the text of the first heading.
        raw: the file's bytes as read (hashed to detect any change).
        notebook: the notebook as plain JSON (cells, metadata).
    """

    path: Path
    number: int
    slug: str
    title: str
    raw: bytes
    notebook: dict[str, Any]

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def cells(self) -> list[dict[str, Any]]:
        return self.notebook["cells"]

    @property
    def code_cells(self) -> list[dict[str, Any]]:
        return [cell for cell in self.cells if cell.get("cell_type") == "code"]

    @property
    def options(self) -> dict[str, Any]:
        """The lesson's `course` notebook metadata: `data` (files it reads), `timeout`."""
        return self.notebook.get("metadata", {}).get("course", {}) or {}

    @property
    def data_files(self) -> list[Path]:
        """Declared data files, relative to the lessons directory."""
        return [self.path.parent / name for name in self.options.get("data", [])]

    @property
    def kernel_name(self) -> str:
        return self.notebook.get("metadata", {}).get("kernelspec", {}).get("name", "python3")


def source(cell: dict[str, Any]) -> str:
    """A cell's source as one string (notebooks may store it as a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def first_heading(notebook: dict[str, Any]) -> str | None:
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        for line in source(cell).splitlines():
            match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if match:
                return match.group(1)
    return None


def read_lesson(path: Path) -> Lesson:
    """Read one lesson; a malformed file raises `LessonError` naming it and what is wrong."""
    match = LESSON_NAME.match(path.name)
    if not match:
        raise LessonError(
            f"{path}: a lesson's file name must be NN-slug.ipynb (e.g. 01-intro.ipynb)"
        )
    raw = path.read_bytes()
    try:
        notebook = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise LessonError(f"{path}: malformed notebook, not valid JSON ({err})") from None
    if not isinstance(notebook, dict):
        raise LessonError(f"{path}: malformed notebook, not a JSON object")
    version = notebook.get("nbformat")
    if version != 4 and (version is not None or "worksheets" in notebook):
        raise LessonError(
            f"{path}: a version {version} notebook; only version 4 is supported "
            f"(convert it: jupyter nbconvert --to notebook --nbformat 4 {path.name})"
        )
    if not isinstance(notebook.get("cells"), list):
        raise LessonError(f"{path}: malformed notebook, it has no list of cells")
    if version != 4:
        raise LessonError(
            f"{path}: malformed notebook, nbformat {version!r} (only version 4 is supported)"
        )
    for index, cell in enumerate(notebook["cells"], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise LessonError(f"{path}: malformed notebook, cell {index} has no valid cell_type")
        text = cell.get("source", "")
        if not (
            isinstance(text, str)
            or (isinstance(text, list) and all(isinstance(line, str) for line in text))
        ):
            raise LessonError(f"{path}: malformed notebook, the source of cell {index} is not text")
    _check_options(path, notebook)
    title = first_heading(notebook)
    if title is None:
        raise LessonError(f"{path}: the lesson has no heading; start it with a '# Title' cell")
    return Lesson(
        path=path,
        number=int(match.group(1)),
        slug=match.group(2),
        title=title,
        raw=raw,
        notebook=notebook,
    )


def _check_options(path: Path, notebook: dict[str, Any]) -> None:
    metadata = notebook.get("metadata", {})
    course = metadata.get("course", {}) if isinstance(metadata, dict) else None
    if not isinstance(course, dict | None):
        raise LessonError(f"{path}: the notebook's course metadata must be an object")
    data = (course or {}).get("data", [])
    if not isinstance(data, list) or not all(isinstance(name, str) for name in data):
        raise LessonError(
            f"{path}: course.data must be a list of file names relative to the lessons folder"
        )


@dataclass(frozen=True)
class BrokenLesson:
    """A notebook in the lessons folder that cannot be read, kept to show as an error page."""

    path: Path
    error: str

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def number(self) -> int | None:
        match = LESSON_NAME.match(self.path.name)
        return int(match.group(1)) if match else None


def find_lessons(directory: Path, broken: list[BrokenLesson] | None = None) -> list[Lesson]:
    """Every lesson in `directory`, in course order.

    Args:
        directory: the lessons folder.
        broken: when given, a notebook that cannot be read is added to it instead of raising
            (`course serve` and `--keep-going` show it as an error page).
    """
    if not directory.is_dir():
        raise LessonError(f"{directory}: no lessons directory (expected lessons/NN-slug.ipynb)")
    lessons = []
    for path in sorted(directory.glob("*.ipynb")):
        try:
            lessons.append(read_lesson(path))
        except (LessonError, OSError) as err:
            if broken is None:
                raise
            message = err.format_message() if isinstance(err, LessonError) else str(err)
            broken.append(BrokenLesson(path, message))
    numbers: dict[int, Path] = {}
    for lesson in lessons:
        if lesson.number in numbers:
            raise LessonError(
                f"{lesson.path}: lesson number {lesson.number} is also used by "
                f"{numbers[lesson.number].name}"
            )
        numbers[lesson.number] = lesson.path
    if not lessons and not broken:
        raise LessonError(f"{directory}: no lessons (expected files named NN-slug.ipynb)")
    return sorted(lessons, key=lambda lesson: lesson.number)


def slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "lesson"


def new_lesson(directory: Path, title: str) -> Path:
    """Write a lesson from the template with the next free number; return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    matches = (LESSON_NAME.match(p.name) for p in directory.glob("*.ipynb"))
    numbers = [int(m.group(1)) for m in matches if m]
    path = directory / f"{max(numbers, default=0) + 1:02d}-{slugify(title)}.ipynb"
    if path.exists():
        raise LessonError(f"{path}: already exists")

    def cell(kind: str, text: str) -> dict[str, Any]:
        extra = {"execution_count": None, "outputs": []} if kind == "code" else {}
        return {"cell_type": kind, "metadata": {}, "source": text, **extra}

    notebook = {
        "cells": [
            cell("markdown", f"# {title}\n\nWhat this lesson answers, in one or two sentences."),
            cell(
                "code",
                "# Files this lesson reads: any file in lessons/ (data, a helper module) is\n"
                "# tracked by the build's cache. A file outside lessons/ must be listed in\n"
                '# the notebook metadata, "course": {"data": ["../data/points.csv"]},\n'
                "# or editing it will not re-run the lesson.\n"
                "import keras\nimport numpy as np\n\nfrom generator import publish",
            ),
            cell("markdown", "## The model"),
            cell(
                "code",
                "model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])\n"
                "# A draft: the math shows here and the site gets no page of it. To publish\n"
                "# the model, give it its name on the site and drop draft=True.\n"
                'math = publish(model, name="name-me", draft=True)',
            ),
            cell(
                "markdown",
                "## Exercises\n\n1. A question for the learner.\n\n"
                '??? success "Solution"\n    The answer.',
            ),
        ],
        "metadata": {
            # course.data: files outside lessons/ that the lesson reads (see the README);
            # course.timeout: seconds one cell may run.
            "course": {"data": []},
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for index, c in enumerate(notebook["cells"]):
        c["id"] = f"cell-{index}"
    path.write_text(json.dumps(notebook, indent=1) + "\n", encoding="utf-8")
    return path
