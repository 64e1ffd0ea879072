"""The `course` command. Each subcommand imports its implementation lazily, so `course --help`
never imports TensorFlow."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

FORMATS = ("json", "markdown", "latex", "numpy")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="networks-as-functions")
def main() -> None:
    """Networks as Functions: derive a network's math and build the course site."""


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@main.command("math")
@click.argument("model_path", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="markdown",
    show_default=True,
    help="What to print.",
)
@click.option(
    "--digits",
    type=int,
    default=3,
    show_default=True,
    help="Significant digits of weights in LaTeX.",
)
@click.option("--unsafe", is_flag=True, help="Allow code stored in the file to run when loading.")
def math_command(model_path: Path, fmt: str, digits: int, unsafe: bool) -> None:
    """Print the derived math of a saved Keras model (MODEL_PATH, a .keras file)."""
    _quiet_tensorflow()
    if unsafe:
        click.echo(
            f"warning: {model_path}: loading with --unsafe runs code stored in the file", err=True
        )
    from generator.equation.analyze import analyze_model
    from generator.equation.settings import MathSettings
    from generator.model.loading import load_model

    model = load_model(model_path, unsafe=unsafe)
    math = analyze_model(model, settings=MathSettings(digits=digits))
    click.echo(render_math(math, fmt, model_path))


def render_math(math, fmt: str, model_path: Path) -> str:
    """The derived math of one model in one of `FORMATS`."""
    if fmt == "json":
        from generator.render.json import dumps

        return dumps(math)
    if fmt == "markdown":
        from generator.render.markdown import model_page

        return model_page(math)
    if fmt == "latex":
        from generator.render.latex import model_latex

        return model_latex(math)
    if math.equation is None or getattr(math.equation, "numpy", None) is None:
        raise click.ClickException(
            f"{model_path}: no closed form for this model (it has layers beyond dense and "
            "element-wise ones, or the expansion is over the size limit); try --format latex"
        )
    return math.equation.numpy


@main.command("torch")
@click.argument("model_path", type=click.Path(path_type=Path))
@click.argument("outdir", type=click.Path(path_type=Path))
@click.option("--unsafe", is_flag=True, help="Allow code stored in the file to run when loading.")
def torch_command(model_path: Path, outdir: Path, unsafe: bool) -> None:
    """Write PyTorch source equal to a saved Keras model into OUTDIR/model.py."""
    _quiet_tensorflow()
    from generator.model.loading import load_model
    from generator.torch.writer import write_torch_package

    model = load_model(model_path, unsafe=unsafe)
    written = write_torch_package(model, outdir)
    click.echo(f"wrote {written}")


def _execution_options(command):
    """`--jobs`, `--timeout` and `--lessons`: how the lessons run, for `build` and `serve`."""
    for option in reversed(
        [
            click.option(
                "--jobs",
                "-j",
                type=click.IntRange(min=1),
                default=None,
                help="Lessons executed at once (default: the number of cores).",
            ),
            click.option(
                "--timeout",
                type=float,
                default=600,
                show_default=True,
                help="Seconds one cell may run.",
            ),
            click.option(
                "--lessons",
                "lessons_dir",
                type=click.Path(path_type=Path),
                default=None,
                help="The lessons directory (default: ./lessons).",
            ),
        ]
    ):
        command = option(command)
    return command


def _engine_option(command):
    """`--engine`: the site generator that turns the staged pages into HTML."""
    from generator.site.engines import DEFAULT_ENGINE, ENGINES

    return click.option(
        "--engine",
        type=click.Choice(ENGINES),
        default=DEFAULT_ENGINE,
        show_default=True,
        help="The site generator (both read the same mkdocs.yml).",
    )(command)


@main.command("build")
@_execution_options
@_engine_option
@click.option(
    "--keep-going", is_flag=True, help="Build the other lessons and an error page for a failed one."
)
def build_command(
    jobs: int | None, timeout: float, keep_going: bool, lessons_dir: Path | None, engine: str
) -> None:
    """Execute the lessons (cached) and build the site into site/."""
    from generator.site.progress import build_with_progress

    build_with_progress(Path.cwd(), lessons_dir, jobs, timeout, keep_going, engine)


@main.command("serve")
@click.option(
    "--dev-addr", default="127.0.0.1:8000", show_default=True, help="Address to serve on."
)
@_execution_options
@_engine_option
def serve_command(
    dev_addr: str, jobs: int | None, timeout: float, lessons_dir: Path | None, engine: str
) -> None:
    """Build, serve the site, and rebuild when a lesson or a page changes."""
    from generator.site.serve import serve

    serve(Path.cwd(), lessons_dir, dev_addr, jobs, timeout, engine)


@main.command("new")
@click.argument("title")
@click.option(
    "--lessons",
    "lessons_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="The lessons directory (default: ./lessons).",
)
def new_command(title: str, lessons_dir: Path | None) -> None:
    """Write a new lesson called TITLE from the template, with the next number."""
    from generator.site.lessons import new_lesson

    path = new_lesson(lessons_dir or Path.cwd() / "lessons", title)
    click.echo(f"wrote {path}")


@main.command("clean")
def clean_command() -> None:
    """Remove the build output: build/, site/ and the execution cache."""
    import shutil

    from generator.site.mkdocs import CoursePaths

    paths = CoursePaths.at(Path.cwd())
    for path in (paths.build, paths.site, paths.cache):
        if path.exists():
            shutil.rmtree(path)
            click.echo(f"removed {path}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
