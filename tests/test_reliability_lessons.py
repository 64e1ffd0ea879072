"""What lessons can do to a build: name clashes, files they read, and the messages they get."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.site import cache as cache_module
from generator.site.build import build_course
from generator.site.execute import KernelError
from tests.pipeline_support import (
    Events,
    course_cli,
    fake_model_lesson,
    make_course,
    notebook,
    write_notebook,
)

pytestmark = [pytest.mark.slow, pytest.mark.kernel]


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(cache_module, "generator_digest", lambda: "pinned")
    return make_course(tmp_path)


def _started(course: Path) -> list[str]:
    events = Events()
    build_course(course, jobs=2, progress=events)
    return events.started()


def _page(course: Path, stem: str) -> str:
    return (course / "build" / "docs" / "lessons" / f"{stem}.md").read_text()


# 3. Two models of one lesson with one file name --------------------------------------------


@pytest.mark.tensorflow
@pytest.mark.site
def test_two_models_of_one_lesson_with_one_file_name(tmp_path: Path) -> None:
    course = make_course(tmp_path)
    write_notebook(
        course / "lessons" / "03-two-nets.ipynb",
        notebook(
            ("markdown", "# Two nets"),
            (
                "code",
                "import keras\nfrom generator import publish\n"
                "a = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])\n"
                "b = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])",
            ),
            ("code", "publish(a, name='net 1')\npublish(b, name='net-1')"),
        ),
    )
    done = course_cli("build", cwd=course)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert (
        "03-two-nets.ipynb, cell 3, line 2: NameClash: models 'net 1' and 'net-1' both make "
        "the file name 'net-1'; give one of them another name"
    ) in done.stderr
    assert not (course / "site").exists()  # nothing half-built took its place


# 7. Files a lesson reads or imports --------------------------------------------------------


def test_helper_module_next_to_the_lessons_is_in_the_key(course: Path) -> None:
    (course / "lessons" / "helpers.py").write_text("def answer():\n    return 41\n")
    write_notebook(
        course / "lessons" / "03-helper.ipynb",
        notebook(
            ("markdown", "# Helper"), ("code", "import helpers\nprint('answer', helpers.answer())")
        ),
    )
    _started(course)
    assert "answer 41" in _page(course, "03-helper")
    (course / "lessons" / "helpers.py").write_text("def answer():\n    return 42\n")
    assert "03-helper.ipynb" in _started(course)
    assert "answer 42" in _page(course, "03-helper")


def test_undeclared_data_file_in_the_lessons_folder_is_in_the_key(course: Path) -> None:
    (course / "lessons" / "notes.txt").write_text("old words")
    write_notebook(
        course / "lessons" / "03-notes.ipynb",
        notebook(("markdown", "# Notes"), ("code", "print(open('notes.txt').read())")),
    )
    _started(course)
    assert "old words" in _page(course, "03-notes")
    (course / "lessons" / "notes.txt").write_text("new words")
    assert "03-notes.ipynb" in _started(course)
    assert "new words" in _page(course, "03-notes")


def test_declared_data_file_outside_the_lessons_folder_is_in_the_key(course: Path) -> None:
    (course / "data").mkdir()
    (course / "data" / "far.txt").write_text("far away")
    write_notebook(
        course / "lessons" / "03-far.ipynb",
        notebook(
            ("markdown", "# Far"),
            ("code", "print(open('../data/far.txt').read())"),
            data=["../data/far.txt"],
        ),
    )
    _started(course)
    (course / "data" / "far.txt").write_text("moved closer")
    assert _started(course) == ["03-far.ipynb"]
    assert "moved closer" in _page(course, "03-far")


def test_the_lesson_template_documents_course_data(tmp_path: Path) -> None:
    done = course_cli("new", "Reading files", "--lessons", str(tmp_path / "l"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "l" / "01-reading-files.ipynb").read_text()
    assert '\\"course\\": {\\"data\\": [\\"../data/points.csv\\"]}' in text
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert '"course": {"data": [' in readme


@pytest.mark.tensorflow
def test_the_lesson_template_publishes_nothing_until_its_model_is_named(course: Path) -> None:
    """Defect 3 of issue 20: `course new` then `course build` puts no model page and no Models
    nav on the site; naming the model (and dropping `draft=True`) publishes it."""
    done = course_cli("new", "Batch norm", cwd=course)
    assert done.returncode == 0, done.stderr
    lesson = course / "lessons" / "03-batch-norm.ipynb"
    code = "".join("".join(c["source"]) for c in json.loads(lesson.read_text())["cells"])
    assert 'publish(model, name="name-me", draft=True)' in code
    assert _started(course) == ["01-adding-numbers.ipynb", "02-reading-data.ipynb", lesson.name]
    page = (course / "site" / "lessons" / "03-batch-norm" / "index.html").read_text()
    assert "Draft model" in page and "checks passed" in page
    assert not (course / "site" / "models").exists()
    assert "Models" not in (course / "build" / "mkdocs.yml").read_text()

    nb = json.loads(lesson.read_text())
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        cell["source"] = text.replace('name="name-me", draft=True', 'name="dense-4-2"')
    write_notebook(lesson, nb)
    assert _started(course) == [lesson.name]
    assert (course / "site" / "models" / "dense-4-2" / "index.html").is_file()
    assert "models/dense-4-2" in (course / "build" / "mkdocs.yml").read_text()


# 8. Smaller items ---------------------------------------------------------------------------


def test_unknown_kernel_names_the_installed_ones_and_no_empty_log(course: Path) -> None:
    write_notebook(
        course / "lessons" / "03-odd.ipynb",
        notebook(("markdown", "# Odd"), ("code", "1"), kernel="no-such-kernel"),
    )
    with pytest.raises(KernelError) as info:
        build_course(course, jobs=2)
    message = info.value.format_message()
    assert "03-odd.ipynb: kernel 'no-such-kernel' cannot start: no such kernel is installed" in (
        message
    )
    assert "python3" in message and "full traceback" not in message and ".log" not in message


def test_error_page_shows_no_path_of_the_machine(course: Path) -> None:
    write_notebook(
        course / "lessons" / "03-broken.ipynb",
        notebook(("markdown", "# Broken"), ("code", "import json\njson.loads('{')")),
    )
    done = course_cli("build", "--keep-going", cwd=course)
    assert done.returncode == 1
    html = (course / "site" / "lessons" / "03-broken" / "index.html").read_text()
    assert "This lesson failed to build" in html and "JSONDecodeError" in html
    for private in (str(course), sys.prefix, str(Path.home())):
        assert private not in html, private
    assert "full traceback" not in html


def test_removed_site_folder_is_rebuilt_not_up_to_date(course: Path) -> None:
    write_notebook(course / "lessons" / "03-fake-model.ipynb", fake_model_lesson())
    assert course_cli("build", cwd=course).returncode == 0
    shutil.rmtree(course / "site" / "models")
    done = course_cli("build", cwd=course)
    assert done.returncode == 0
    assert "built site/" in done.stderr and "up to date" not in done.stderr
    assert "executed" not in done.stderr  # from the cache: no kernel
    assert (
        "The page of <strong>tiny</strong>"
        in (course / "site" / "models" / "tiny" / "index.html").read_text()
    )
    assert "up to date" in course_cli("build", cwd=course).stderr


def test_notebook_without_cell_ids_prints_no_warning(course: Path) -> None:
    nb = notebook(("markdown", "# No ids"), ("code", "print('ran')"))
    for cell in nb["cells"]:
        del cell["id"]
    nb["nbformat_minor"] = 5
    write_notebook(course / "lessons" / "03-no-ids.ipynb", nb)
    done = course_cli("build", cwd=course)
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr and "id field" not in done.stderr
    assert "ran" in _page(course, "03-no-ids")


def test_failing_cell_quotes_the_lines_around_the_failing_one(course: Path) -> None:
    code = "a = 1\nb = 2\nc = 3\nd = a / 0\ne = 5\nf = 6\ng = 7"
    write_notebook(
        course / "lessons" / "03-late.ipynb", notebook(("markdown", "# Late"), ("code", code))
    )
    done = course_cli("build", cwd=course)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    expected = (
        "03-late.ipynb, cell 2, line 4: ZeroDivisionError: division by zero\n"
        "    ...\n    c = 3\n->  d = a / 0\n    e = 5\n    ...\n"
    )
    assert expected in done.stderr


def test_kernel_that_dies_on_start_is_one_line(course: Path, tmp_path: Path) -> None:
    spec = tmp_path / "jupyter" / "kernels" / "dies"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-c", "import sys; sys.exit(3)", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Dies", "language": "python"})
    )
    write_notebook(
        course / "lessons" / "03-dies.ipynb",
        notebook(("markdown", "# Dies"), ("code", "1"), kernel="dies"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "generator.cli", "build"],
        cwd=course,
        env={**os.environ, "JUPYTER_PATH": str(tmp_path / "jupyter")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: lessons/03-dies.ipynb: kernel 'dies' cannot start: "
        "RuntimeError: Kernel died before replying to kernel_info"
    )
