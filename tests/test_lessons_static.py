"""Static checks of the lesson notebooks: format, stripped outputs, title, exercises (no kernel)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

LESSONS_DIR = Path(__file__).resolve().parent.parent / "lessons"
LESSONS = sorted(LESSONS_DIR.glob("*.ipynb"))
NAME = re.compile(r"^(\d{2})-[a-z0-9]+(?:-[a-z0-9]+)*\.ipynb$")
SOLUTION = '??? success "Solution"'
NOTATION = Path(__file__).resolve().parent.parent / "docs" / "notation.md"
#: The first cell's line that keeps TensorFlow's retracing warnings (with memory addresses) off
#: the pages.
QUIET_TENSORFLOW = 'logging.getLogger("tensorflow").setLevel(logging.ERROR)'
#: A `keras.Input(...)` without a name: pages would show `input_layer_3`.
UNNAMED_INPUT = re.compile(r"keras\.Input\((?:(?!name=)[^()]|\([^()]*\))*\)")
#: Code that would fetch something at run time: lessons build their data themselves.
DOWNLOADS = ("http://", "https://", "urlopen", "get_file(", "load_data(", 'weights="imagenet"')


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _markdown(nb: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "markdown"]


def _code(nb: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def _exercises(nb: nbformat.NotebookNode) -> str:
    """The markdown from the `## Exercises` heading to the end of the notebook."""
    text = "\n\n".join(_markdown(nb))
    match = re.search(r"^## Exercises\s*$", text, flags=re.MULTILINE)
    assert match, "no '## Exercises' section"
    return text[match.end() :]


lesson = pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])


def test_eight_lessons_numbered_in_order():
    assert len(LESSONS) == 8
    names = [p.name for p in LESSONS]
    assert all(NAME.match(n) for n in names), names
    assert [int(NAME.match(n).group(1)) for n in names] == list(range(1, len(names) + 1))


@lesson
def test_valid_nbformat(path):
    nb = _read(path)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"


@lesson
def test_outputs_stripped(path):
    for i, cell in enumerate(_read(path).cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {i} has outputs"
            assert cell.execution_count is None, f"cell {i} has an execution count"


@lesson
def test_starts_with_a_title(path):
    first = _read(path).cells[0]
    assert first.cell_type == "markdown"
    assert re.match(r"^# \S", first.source), first.source[:40]
    assert sum(1 for line in first.source.splitlines() if line.startswith("# ")) == 1


@lesson
def test_two_or_three_exercises_with_collapsed_solutions(path):
    section = _exercises(_read(path))
    questions = re.findall(r"^### Exercise \d+$", section, flags=re.MULTILINE)
    solutions = section.count(SOLUTION)
    assert 2 <= len(questions) <= 3
    assert solutions == len(questions)
    # pymdownx.details: the solution's body is indented by four spaces under the marker.
    for block in section.split(SOLUTION)[1:]:
        body = block.lstrip("\n").splitlines()
        assert body and body[0].startswith("    ") and body[0].strip(), body[:1]


@lesson
def test_content_tabs_are_indented(path):
    for text in _markdown(_read(path)):
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if line.startswith('=== "'):
                following = [x for x in lines[i + 1 :] if x.strip()]
                assert following and following[0].startswith("    "), line


@lesson
def test_no_downloads_and_seeded(path):
    code = "\n".join(_code(_read(path)))
    for pattern in DOWNLOADS:
        assert pattern not in code, pattern
    if "import keras" in code:
        assert "keras.utils.set_random_seed(0)" in code
    if "publish(" in code:
        imported = r"^from generator import (?:\([^)]*|[^\n]*)\bpublish\b"
        assert re.search(imported, code, re.M), path.name


@lesson
def test_every_lesson_asserts_its_figures(path):
    code = "\n".join(_code(_read(path)))
    assert code.count("assert ") >= 5
    assert _code(_read(path))[-1].lstrip().startswith("# Checks for the solutions above.")


def test_keras_pytorch_tabs_in_lesson_4():
    nb = _read(LESSONS_DIR / "04-counting-parameters-keras-and-pytorch.ipynb")
    text = "\n".join(_markdown(nb))
    assert '=== "Keras"' in text and '=== "PyTorch"' in text
    assert "nn.Linear(14 * 14 * 16, 128)" in text
    code = "\n".join(_code(nb))
    assert "except ImportError" in code  # runs without PyTorch


@lesson
def test_first_cell_silences_tensorflow_retracing_warnings(path):
    first_code = _code(_read(path))[0]
    if "import keras" in first_code:
        assert QUIET_TENSORFLOW in first_code, path.name


@lesson
def test_only_public_generator_names(path):
    code = "\n".join(_code(_read(path)))
    assert not re.search(r"^\s*(from|import)\s+generator\.", code, re.M), path.name
    assert "generator." not in code.replace("from generator import", ""), path.name


@lesson
def test_inputs_of_the_lesson_models_are_named(path):
    """Every `keras.Input` outside the final checks cell has a name, as do the layers."""
    for source in _code(_read(path))[:-1]:
        unnamed = UNNAMED_INPUT.findall(source)
        assert not unnamed, f"{path.name}: {unnamed}"


def test_unnamed_input_pattern():
    assert UNNAMED_INPUT.search("keras.Input((32, 32, 3)),")
    assert not UNNAMED_INPUT.search('keras.Input((32, 32, 3), name="image"),')


def test_notation_gives_each_symbol_one_meaning():
    """The notation page's tables list every symbol once (a symbol in two rows is a clash)."""
    rows = [
        line.split("|")[1].strip()
        for line in NOTATION.read_text(encoding="utf-8").splitlines()
        if line.startswith("| $")
    ]
    symbols = [s.strip() for row in rows for s in re.findall(r"\$[^$]+\$", row)]
    assert len(symbols) > 40
    repeated = sorted({s for s in symbols if symbols.count(s) > 1})
    assert not repeated, repeated


def test_new_lessons_check_against_keras():
    six = "\n".join(_code(_read(LESSONS_DIR / "06-padding-strides-and-dilation.ipynb")))
    for padding in ('padding="same"', 'padding="causal"', "dilation_rate=2", "Conv1DTranspose"):
        assert padding in six
    seven = "\n".join(_code(_read(LESSONS_DIR / "07-a-network-with-branches.ipynb")))
    assert "ResNet50(weights=None" in seven and "25_636_712" in seven
    assert "show=False" in seven  # the 176-layer page is on the site, not inline


def test_lesson_eight_checks_gradients_against_tensorflow():
    eight = "\n".join(_code(_read(LESSONS_DIR / "08-training-peels-the-onion.ipynb")))
    for needle in ("tf.GradientTape", "train_on_batch", "SGD(", "Conv1DTranspose", "np.convolve"):
        assert needle in eight, needle
    assert "model_gradients(" in eight and "publish(" in eight  # by the generator, on the site
    assert "semilogy" in eight  # the measured plot over depth
