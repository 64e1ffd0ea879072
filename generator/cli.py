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
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="markdown",
              show_default=True, help="What to print.")
@click.option("--digits", type=int, default=3, show_default=True,
              help="Significant digits of weights in LaTeX.")
@click.option("--unsafe", is_flag=True, help="Allow code stored in the file to run when loading.")
def math_command(model_path: Path, fmt: str, digits: int, unsafe: bool) -> None:
    """Print the derived math of a saved Keras model (MODEL_PATH, a .keras file)."""
    _quiet_tensorflow()
    if unsafe:
        click.echo(f"warning: {model_path}: loading with --unsafe runs code stored in the file",
                   err=True)
    from generator.analyze import analyze_model
    from generator.loading import load_model
    from generator.settings import MathSettings

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
    from generator.loading import load_model
    from generator.render.torch import write_torch_package

    model = load_model(model_path, unsafe=unsafe)
    written = write_torch_package(model, outdir)
    click.echo(f"wrote {written}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
