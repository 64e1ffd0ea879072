"""Lesson pages: cell tags, in-page exercises, numbered exercises (no kernel, no Keras)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import markdown
import pytest

from generator.render.exercise import EXERCISE_KEY, answer_hash, normalise
from generator.site.lessons import read_lesson
from generator.site.pages import lesson_page
from tests.pipeline_support import notebook, write_notebook

LESSONS = sorted((Path(__file__).resolve().parent.parent / "lessons").glob("*.ipynb"))
lesson = pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])


def _stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _tagged(tmp_path: Path, outputs: list[list[dict]], tags: list[list[str]]) -> str:
    """The page of a lesson whose code cells carry `tags` and show `outputs`."""
    cells = [("markdown", "# Tags\n\nProse.")]
    cells += [("code", f"print('source {n}')") for n in range(len(tags))]
    nb = notebook(*cells)
    for cell, cell_tags in zip(nb["cells"][1:], tags, strict=True):
        cell["metadata"]["tags"] = cell_tags
    path = write_notebook(tmp_path / "01-tags.ipynb", nb)
    executed = json.loads(path.read_text())
    for cell, cell_outputs in zip(executed["cells"][1:], outputs, strict=True):
        cell["outputs"] = cell_outputs
    return lesson_page(read_lesson(path), executed, "n.ipynb", "../models").markdown


def test_remove_input_output_and_cell_tags_are_honoured(tmp_path: Path) -> None:
    outputs = [[_stream(f"output {n}\n")] for n in range(4)]
    page = _tagged(tmp_path, outputs, [[], ["remove-input"], ["remove-output"], ["remove-cell"]])
    assert "source 0" in page and "output 0" in page
    assert "source 1" not in page and "output 1" in page  # the setup cell's way
    assert "source 2" in page and "output 2" not in page
    assert "source 3" not in page and "output 3" not in page  # the checks cell's way
    both = _tagged(tmp_path, [[_stream("quiet\n")]], [["remove-input", "remove-output"]])
    assert "source 0" not in both and "quiet" not in both


def _exercise_output(answer: str, kind: str, question: str) -> dict:
    info = {"question": question, "kind": kind, "salt": "s1", "hint": "(8, 8, 4)"}
    info["hash"] = answer_hash(answer, kind, "s1")
    return {
        "output_type": "execute_result",
        "data": {"text/markdown": f"**Try it:** {question}", "text/plain": question},
        "metadata": {EXERCISE_KEY: info},
        "execution_count": 1,
    }


def test_an_exercise_becomes_a_form_that_holds_only_the_hash(tmp_path: Path) -> None:
    outputs = [
        [_exercise_output("(41, 43, 47)", "shape", r"Which shape, $n \times n$?")],
        [_exercise_output("987654", "count", "How many parameters?")],
    ]
    page = _tagged(tmp_path, outputs, [["remove-input"], ["remove-input"]])
    assert page.count('!!! question "Check your answer"') == 2
    assert 'id="try-1"' in page and 'id="try-2"' in page
    assert r"Which shape, $n \times n$?" in page
    assert page.count('<form class="naf-exercise"') == 2
    assert answer_hash("41, 43, 47", "shape", "s1") in page
    shown = re.sub(r"[0-9a-f]{64}", "", page)  # the hashes aside, no digit of an answer
    for answer in ("41", "43", "47", "987654", "987,654"):
        assert answer not in shown, answer
    html = markdown.markdown(page, extensions=["admonition", "attr_list", "md_in_html"])
    assert html.count("<form") == 2 and 'data-kind="shape"' in html


@pytest.mark.parametrize(
    "written, kind, canonical",
    [
        ("(16, 14, 14)", "shape", "16,14,14"),
        ("16x14x14", "shape", "16,14,14"),
        ("16 × 14 × 14", "shape", "16,14,14"),
        ("16,14,14", "shape", "16,14,14"),
        ("[16, 14, 14]", "shape", "16,14,14"),
        ("(None, 16, 14, 14)", "shape", "16,14,14"),
        ("(4096,)", "shape", "4096"),
        ("1,234", "count", "1234"),
        ("1 234", "count", "1234"),
        ("1_234", "count", "1234"),
        ("1{,}234", "count", "1234"),
    ],
)
def test_answers_are_normalised_before_hashing(written: str, kind: str, canonical: str) -> None:
    assert normalise(written, kind) == canonical
    assert answer_hash(written, kind, "x") == answer_hash(canonical, kind, "x")


def test_the_hash_depends_on_the_salt_and_the_answer() -> None:
    assert answer_hash("7", "count", "a") != answer_hash("7", "count", "b")
    assert answer_hash("7", "count", "a") != answer_hash("8", "count", "a")


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


@lesson
def test_setup_cell_hidden_on_the_site_and_kept_in_the_notebook(path: Path) -> None:
    first = next(cell for cell in _cells(path) if cell["cell_type"] == "code")
    assert "os.environ" in _source(first) and "logging" in _source(first)
    assert {"remove-input", "remove-output"} <= set(first["metadata"].get("tags", []))


@lesson
def test_checks_for_the_solutions_hidden_on_the_site(path: Path) -> None:
    last = _cells(path)[-1]
    assert _source(last).startswith("# Checks for the solutions above.")
    assert last["metadata"].get("tags") == ["remove-cell"]


@lesson
def test_exercises_numbered_one_two_three_on_the_page(path: Path) -> None:
    """Rendered as the site renders Markdown: the exercises are `Exercise 1`, `2`, `3`, not a
    list that the solution boxes between its items restart at 1."""
    text = "\n\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "markdown")
    section = text[text.index("## Exercises") :]
    html = markdown.markdown(section, extensions=["admonition", "pymdownx.details"])
    numbers = [int(n) for n in re.findall(r"<h3[^>]*>Exercise (\d+)</h3>", html)]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 2, numbers
    assert "<ol>" not in html  # no list for the solutions to restart


@lesson
def test_at_least_two_in_page_exercises_hidden_code(path: Path) -> None:
    tries = [c for c in _cells(path) if c["cell_type"] == "code" and "exercise(" in _source(c)]
    assert len(tries) >= 2
    for cell in tries:
        assert "remove-input" in cell["metadata"].get("tags", []), _source(cell)[:60]


def test_the_lessons_ask_for_shapes_and_counts() -> None:
    asks = set()
    for path in LESSONS:
        for cell in _cells(path):
            asks |= set(re.findall(r'exercise\([^"]*"(shape|count)"', _source(cell), re.S))
    assert asks == {"shape", "count"}


def test_lesson_6_states_the_general_formula_with_a_worked_number() -> None:
    six = next(p for p in LESSONS if p.name.startswith("06-"))
    text = "\n".join(_source(c) for c in _cells(six))
    assert r"n + p^{b} + p^{e} - d\,(k - 1) - 1" in text
    assert "(n + p_begin + p_end - d * (k - 1) - 1) // s + 1" in text
    assert "assert len(a_gapped) == output_size_general(7, 2, d=3, p_begin=1, p_end=2) == 7" in text
