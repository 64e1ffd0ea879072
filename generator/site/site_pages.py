"""The generated pages of the site: lessons, models, downloadable notebooks, home page and nav."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from generator.exceptions import NameClash
from generator.site import publish as publishing
from generator.site.execute import LessonRun
from generator.site.lessons import BrokenLesson, Lesson
from generator.site.mkdocs import OUTLINE_MARKER, Content, CoursePaths, SiteError
from generator.site.pages import lesson_page
from generator.site.publish import DISPLAY_KEY, MATH_SUFFIX, no_keras_note, write_atomic

SUPPORTED_LAYERS = "supported-layers.md"  # generated from the handler registry


def _published(run: LessonRun) -> list[dict[str, Any]]:
    """The models a lesson published: each `<stem>.json` in its artifacts (written last).

    A lesson that fails now keeps the models of its last successful run (marked `stale`).
    """
    entry = run.artifacts_entry
    if entry is None or not entry.artifacts.is_dir():
        return []
    models = []
    for path in sorted(entry.artifacts.glob("*.json"), key=lambda p: p.stat().st_mtime_ns):
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        info["stem"] = path.stem
        info["directory"] = path.parent
        info["stale"] = run.entry is None
        models.append(info)
    return models


def rendered_model(
    info: dict[str, Any], memo: Path | None = None, code: str | None = None
) -> str | None:
    """The page `publish()` shows for a model, rendered here from its saved math
    (`<stem>.math.pickle`); `None` when the lesson saved no math (a page it wrote itself).

    The pickle is the cache's own file, written by the lesson's run and checked against its
    digest when the entry was read; it is never taken from elsewhere. `code` is the
    generator's `package_digest()`, when the caller has it.
    """
    import pickle

    path = info["directory"] / f"{info['stem']}{MATH_SUFFIX}"
    if not path.is_file():
        return None
    title = str(info.get("name", info["stem"]))
    memo_file = None
    if memo is not None:
        # A page already rendered from the same math by the same code: no sympy import, no
        # rendering (a markdown-only edit of a lesson stays quick).
        from generator.site.cache import package_digest

        key = f"{code or package_digest()}\0{title}\0{publishing.MAX_LAYER_SECTIONS}\0"
        memo_file = memo / f"{hashlib.sha256((key + _math_digest(path)).encode()).hexdigest()}.md"
        if memo_file.is_file():
            return memo_file.read_text(encoding="utf-8")
    saved = path.read_bytes()
    try:
        math = pickle.loads(saved)  # noqa: S301 - the build's own cache entry
    except Exception as err:  # noqa: BLE001 - e.g. a class renamed since the lesson ran
        raise SiteError(
            f"{path.name}: the saved math of model {info.get('name', info['stem'])!r} cannot "
            f"be read ({type(err).__name__}: {err}); `course clean` and build again"
        ) from None
    from generator.render.markdown import model_page  # sympy: only when a page is rendered

    page = model_page(math, title=title, max_layer_sections=publishing.MAX_LAYER_SECTIONS)
    if memo_file is not None:
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(memo_file, page)
    return page


def _math_digest(path: Path) -> str:
    """The digest of a saved math file: the one its cache entry lists (checked when the build
    read the entry; a resnet's math is 100 MB, slow to hash twice), else its own."""
    from generator.site.cache import file_digest

    entry = path.parent.parent / "entry.json"
    name = f"{path.parent.name}/{path.name}"
    try:
        digest = json.loads(entry.read_text(encoding="utf-8"))["files"][name]
    except (OSError, ValueError, KeyError, TypeError):
        return file_digest(path)
    return digest if isinstance(digest, str) else file_digest(path)


def published_page(directory: Path, stem: str) -> str:
    """The page of the model published as `directory/<stem>.json`, without the site's footer:
    rendered from its saved math, with the note on a missing `.keras` where it has one."""
    info = json.loads((directory / f"{stem}.json").read_text(encoding="utf-8"))
    return _page_body({**info, "stem": stem, "directory": directory, "page": None})


def _page_body(info: dict[str, Any]) -> str:
    page = info.get("page") or rendered_model(info)
    if page is None:  # a lesson that wrote its page itself
        page = (info["directory"] / f"{info['stem']}.md").read_text(encoding="utf-8")
    page = page.rstrip()
    note = no_keras_note(int(info.get("weight_bytes", 0) or 0))
    if note:
        page += "\n\n" + note.rstrip()
    return page


def _model_page(info: dict[str, Any], lesson: Lesson) -> str:
    directory: Path = info["directory"]
    stem = info["stem"]
    page = _page_body(info)
    if info.get("stale"):
        page += (
            '\n\n!!! warning "From the last successful run of the lesson"\n'
            f"    Lesson {lesson.number} fails now (its page says why); this page is the model "
            "as that lesson last published it."
        )
    links = [f"[its math as JSON]({stem}.json)"]
    if (directory / f"{stem}.keras").is_file():
        links.append(f"[the saved Keras model]({stem}.keras)")
    if (directory / f"{stem}.pt2").is_file():
        links.append(f"[the saved PyTorch model]({stem}.pt2), for `course math`")
    return (
        f"{page}\n\n---\n\nPublished by lesson "
        f"[{lesson.number}. {lesson.title}](../lessons/{lesson.stem}.md). "
        f"Download {' and '.join(links)}.\n"
    )


def broken_page(paths: CoursePaths, bad: BrokenLesson) -> str:
    """The error page of a notebook that cannot be read (shown by `course serve`)."""
    error = bad.error.replace(f"{paths.root}/", "")
    note = "\n".join(f"    {line}" for line in f"```text\n{error}\n```".splitlines())
    return f'# {bad.path.name}\n\n!!! failure "This lesson cannot be read"\n\n{note}\n'


def generated_pages(
    paths: CoursePaths, runs: list[LessonRun], broken: list[BrokenLesson] = ()
) -> tuple[dict[str, Content], dict[str, list[dict[str, Any]]]]:
    """Every generated file (site path -> content) and the models each lesson published, and
    an error page for each notebook in `broken`."""
    from generator.site.cache import package_digest

    code = package_digest()
    files: dict[str, Content] = {}
    models: dict[str, list[dict[str, Any]]] = {}
    owner: dict[str, str] = {}
    for run in runs:
        lesson = run.lesson
        executed = run.entry.notebook() if run.entry is not None else run.partial
        if executed is not None:
            check_model_names(lesson, executed)
            executed = _redacted(executed, paths.root)
        failure = run.failure.message(paths.root) if run.failure is not None else None
        models[lesson.stem] = _published(run)
        for info in models[lesson.stem]:
            info["page"] = rendered_model(info, paths.cache / "pages", code)
        page = lesson_page(
            lesson,
            executed,
            f"../notebooks/{lesson.path.name}",
            "../models",
            failure=failure,
            published={info["stem"]: info["page"] for info in models[lesson.stem]},
            memo=paths.cache / "pages",
            code=code,
        )
        files[f"lessons/{lesson.stem}.md"] = page.markdown
        for name, data in page.images.items():
            files[f"lessons/{name}"] = data
        files[f"notebooks/{lesson.path.name}"] = lesson.raw
        for info in models[lesson.stem]:
            stem = info["stem"]
            if stem in owner:
                raise SiteError(
                    f"{lesson.path}: model {info.get('name', stem)!r} is also "
                    f"published by {owner[stem]}; give it another name"
                )
            owner[stem] = lesson.path.name
            files[f"models/{stem}.md"] = _model_page(info, lesson)
            for ext in ("json", "keras", "pt2"):
                if (info["directory"] / f"{stem}.{ext}").is_file():
                    files[f"models/{stem}.{ext}"] = info["directory"] / f"{stem}.{ext}"
    for bad in broken:
        files[f"lessons/{bad.stem}.md"] = broken_page(paths, bad)
    files["index.md"] = home_page(paths, [run.lesson for run in runs], models)
    files[SUPPORTED_LAYERS] = _supported_layers(paths.cache / "pages", code)
    return files, models


def _supported_layers(memo: Path, code: str) -> str:
    """The supported-layers page, rendered once per version of the generator's code (reading
    the layer registry imports sympy, slow next to a markdown-only rebuild)."""
    memo_file = memo / f"supported-layers-{code}.md"
    if memo_file.is_file():
        return memo_file.read_text(encoding="utf-8")
    from generator.render.supported import supported_layers_page

    page = supported_layers_page()
    memo_file.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(memo_file, page)
    return page


def check_model_names(lesson: Lesson, executed: dict[str, Any]) -> None:
    """Two models of one lesson must not share a file name ("net 1" and "net-1" both make
    `net-1`): the second would overwrite the first's page and both boxes would link to it.

    Raises:
        NameClash: naming the lesson and both model names.
    """
    names: dict[str, str] = {}
    for cell in executed.get("cells", []):
        for output in cell.get("outputs", []) if isinstance(cell, dict) else []:
            info = output.get("metadata", {}).get(DISPLAY_KEY) if isinstance(output, dict) else None
            if not isinstance(info, dict):
                continue
            name, stem = str(info.get("name")), str(info.get("stem"))
            if stem in names and names[stem] != name:
                raise NameClash(
                    f"{lesson.path.name}: models {names[stem]!r} and {name!r} both make the file "
                    f"name {stem!r}; give one of them another name"
                )
            names[stem] = name


def _redacted(executed: dict[str, Any], root: Path) -> dict[str, Any]:
    """The notebook with the machine's paths (project, home, Python) cut out of tracebacks."""
    prefixes = sorted(
        {(str(root), "."), (sys.prefix, "<python>"), (str(Path.home()), "~")},
        key=lambda pair: -len(pair[0]),
    )

    def clean(text: str) -> str:
        for prefix, replacement in prefixes:
            if len(prefix) > 1:
                text = text.replace(prefix, replacement)
        return text

    cells = []
    for cell in executed.get("cells", []):
        outputs = cell.get("outputs") if isinstance(cell, dict) else None
        if isinstance(outputs, list) and any(
            isinstance(o, dict) and o.get("output_type") == "error" for o in outputs
        ):
            outputs = [
                {**o, "traceback": [clean(str(t)) for t in o.get("traceback", [])]}
                if isinstance(o, dict) and o.get("output_type") == "error"
                else o
                for o in outputs
            ]
            cell = {**cell, "outputs": outputs}
        cells.append(cell)
    return {**executed, "cells": cells}


def outline(lessons: list[Lesson], models: dict[str, list[dict[str, Any]]]) -> str:
    """The course outline: each lesson with the models it publishes."""
    lines = []
    for lesson in lessons:
        line = f"{lesson.number}. [{lesson.title}](lessons/{lesson.stem}.md)"
        published = models.get(lesson.stem, [])
        if published:
            names = ", ".join(
                f"[`{m.get('name', m['stem'])}`](models/{m['stem']}.md)" for m in published
            )
            line += f"  \n   Models: {names}"
        lines.append(line)
    return "\n".join(lines)


def home_page(
    paths: CoursePaths, lessons: list[Lesson], models: dict[str, list[dict[str, Any]]]
) -> str:
    """`docs/index.md` with its outline marker replaced, or a plain home page without one."""
    text = outline(lessons, models)
    source = paths.docs / "index.md"
    if source.is_file():
        page = source.read_text(encoding="utf-8")
        if OUTLINE_MARKER in page:
            return page.replace(OUTLINE_MARKER, text)
        return f"{page.rstrip()}\n\n## Course outline\n\n{text}\n"
    return f"# Networks as Functions\n\n## Course outline\n\n{text}\n"


def nav_for(
    paths: CoursePaths,
    lessons: list[Lesson],
    models: dict[str, list[dict[str, Any]]],
    broken: list[BrokenLesson] = (),
) -> list:
    """Home, the hand-written top-level pages, the lessons in order, then the models."""
    nav: list = [{"Home": "index.md"}]
    docs = paths.docs
    extra = sorted(p for p in docs.glob("*.md") if p.name != "index.md") if docs.is_dir() else []
    order = {"notation.md": 0}
    for page in sorted(extra, key=lambda p: (order.get(p.name, 1), p.name)):
        nav.append(page.name)
    entries = [(x.number, f"{x.number}. {x.title}", x.stem) for x in lessons]
    entries += [(b.number or 0, f"{b.path.name} (cannot be read)", b.stem) for b in broken]
    nav.append({"Lessons": [{title: f"lessons/{stem}.md"} for _, title, stem in sorted(entries)]})
    model_nav = [
        {m.get("name", m["stem"]): f"models/{m['stem']}.md"}
        for lesson in lessons
        for m in models.get(lesson.stem, [])
    ]
    if model_nav:
        nav.append({"Models": model_nav})
    nav.append({"Supported layers": SUPPORTED_LAYERS})
    return nav
