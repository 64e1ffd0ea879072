"""The `course` command. Each subcommand imports its implementation lazily, so `course --help`
never imports TensorFlow."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

FORMATS = ("json", "markdown", "latex", "numpy")
#: Exit status after Ctrl-C, as a shell reports a process ended by SIGINT.
INTERRUPTED = 130
#: Commands that run lessons and write the site.
SITE_COMMANDS = ("build", "serve")


class CourseGroup(click.Group):
    """The command group: Ctrl-C and operating-system errors end a command with one line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            command = ctx.invoked_subcommand
            after = " (kernels shut down, site/ left as it was)" if command in SITE_COMMANDS else ""
            click.echo(f"interrupted: course {command} stopped{after}", err=True)
            ctx.exit(INTERRUPTED)
        except OSError as err:
            raise click.ClickException(os_error_line(err)) from None


def os_error_line(err: OSError) -> str:
    """ "PATH: reason" for an error of the operating system (disk full, no permission, ...)."""
    reason = err.strerror or str(err) or type(err).__name__
    if err.filename is not None and err.filename2 is not None:
        return f"{err.filename} -> {err.filename2}: {reason}"
    if err.filename is not None:
        return f"{err.filename}: {reason}"
    return f"{reason} ({type(err).__name__})"


@click.group(cls=CourseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="networks-as-functions")
def main() -> None:
    """Networks as Functions: derive a network's math and build the course site."""


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # its notice ignores the log level
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _import_option(command):
    return click.option(
        "--import",
        "imports",
        multiple=True,
        metavar="MODULE_OR_FILE",
        help="Import code that registers custom objects before loading (repeatable).",
    )(command)


def _import_custom_code(imports: tuple[str, ...]) -> None:
    """Import each module (`pkg.layers`) or file (`layers.py`) so its custom objects register."""
    import importlib
    import importlib.util

    for target in imports:
        path = Path(target)
        try:
            if path.suffix == ".py" or path.exists():
                if not path.is_file():
                    raise click.ClickException(f"--import {target}: no such file")
                name = f"course_import_{path.stem}"
                spec = importlib.util.spec_from_file_location(name, path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
            else:
                # A module beside the user, as `python -m` would find it.
                if os.getcwd() not in sys.path:
                    sys.path.insert(0, os.getcwd())
                importlib.import_module(target)
        except click.ClickException:
            raise
        except Exception as error:  # noqa: BLE001 - the user's code: one line, no traceback
            raise click.ClickException(
                f"--import {target}: {type(error).__name__}: {error}"
            ) from None


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
@click.option(
    "--max-ops",
    type=click.IntRange(min=1),
    default=None,
    help="Largest expanded closed form, in operations (default: 5,000).",
)
@click.option("--unsafe", is_flag=True, help="Allow code stored in the file to run when loading.")
@click.option(
    "--sample",
    "sample_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Input for the checks and worked examples: .npy (one input) or .npz (by input name); "
    "its first item is the example.",
)
@click.option(
    "--diagrams/--no-diagrams",
    default=None,
    help="Markdown: include the inline SVG diagrams (default: only when not printing to a "
    "terminal).",
)
@click.option(
    "--gradients",
    is_flag=True,
    help="Add the gradients (backward equations, chain rule), checked against tf.GradientTape.",
)
@click.option(
    "--loss",
    default=None,
    metavar="NAME",
    help="The gradients' loss (mse, categorical_crossentropy, binary_crossentropy; default: "
    "the compiled loss, else cross-entropy after a softmax, else mse). Implies --gradients.",
)
@_import_option
def math_command(
    model_path: Path,
    fmt: str,
    digits: int,
    max_ops: int | None,
    unsafe: bool,
    sample_path: Path | None,
    diagrams: bool | None,
    gradients: bool,
    loss: str | None,
    imports: tuple[str, ...],
) -> None:
    """Print the derived math of a saved model (MODEL_PATH: a Keras .keras file, or a PyTorch
    .pt2 archive written by torch.export.save).

    `--format latex` prints a standalone document (pdflatex compiles it).
    """
    _quiet_tensorflow()
    if unsafe:
        click.echo(
            f"warning: {model_path}: loading with --unsafe runs code stored in the file", err=True
        )
    from generator.equation.analyze import analyze_model
    from generator.equation.settings import MathSettings
    from generator.model.loading import load_model

    settings = MathSettings(digits=digits)
    if max_ops is not None:
        settings = settings.merge(max_closed_form_ops=max_ops)
    _import_custom_code(imports)
    if model_path.suffix == ".pt2":
        if gradients or loss:
            raise click.ClickException(f"{model_path}: --gradients needs a Keras model")
        math = _torch_math(model_path, sample_path, settings)
    else:
        model = load_model(model_path, unsafe=unsafe)
        sample = None
        if sample_path is not None:
            from generator.model.probe import read_sample

            sample = read_sample(sample_path, model)
        math = analyze_model(model, sample=sample, settings=settings)
        if gradients or loss:
            math = _with_gradients(model, math, sample, loss, model_path, settings.seed)
    if diagrams is None:
        diagrams = not sys.stdout.isatty()
    click.echo(render_math(math, fmt, model_path, diagrams=diagrams))
    failed = getattr(math, "gradients", None) and math.gradients.failure()
    if failed:
        raise click.ClickException(f"{model_path}: check {failed.name!r} failed: {failed.detail}")


def _with_gradients(model, math, sample, loss: str | None, model_path: Path, seed: int):
    """`math` with its gradients checked against `tf.GradientTape` (printed, then judged)."""
    from generator.equation.gradient_report import model_gradient_report, with_gradients
    from generator.exceptions import CourseError

    try:
        report = model_gradient_report(model, math, sample, loss, seed)
    except (ValueError, CourseError) as error:
        raise click.ClickException(f"{model_path}: --gradients: {error}") from None
    click.echo(f"note: {model_path}: gradients took {report.seconds:.2f} s", err=True)
    return with_gradients(math, report)


def _torch_math(model_path: Path, sample_path: Path | None, settings):
    """The math of a `torch.export` archive, checked against PyTorch (nothing in it runs as
    code: the archive holds a graph of ATen operations and tensors)."""
    from generator.equation.analyze import analyze_graph
    from generator.model.torch_frontend import describe_exported, load_exported
    from generator.model.torch_probe import read_torch_sample
    from generator.model.torch_reference import torch_reference

    program = load_exported(model_path)
    graph = describe_exported(program, name=model_path.stem)
    sample = None if sample_path is None else read_torch_sample(sample_path, graph)
    return analyze_graph(graph, torch_reference(program, graph), sample, settings)


def render_math(math, fmt: str, model_path: Path, diagrams: bool = True) -> str:
    """The derived math of one model in one of `FORMATS` (`diagrams`: Markdown's SVG)."""
    if fmt == "json":
        from generator.render.json import dumps

        return dumps(math)
    if fmt == "markdown":
        from generator.render.markdown import model_page

        return model_page(math, diagrams=diagrams)
    if fmt == "latex":
        from generator.render.latex import latex_document

        return latex_document(math)
    if math.equation is not None and getattr(math.equation, "numpy", None) is not None:
        return math.equation.numpy
    return _matrix_form(math, model_path)


def _matrix_form(math, model_path: Path) -> str:
    """The matrix form, with a note on stderr saying why the expanded form was not printed."""
    from generator.equation.numpy_source import MatrixFormError, matrix_source

    why = getattr(math.equation, "reason", "") or "no closed form was built"
    try:
        source = matrix_source(math.graph)
    except MatrixFormError as error:
        raise click.ClickException(
            f"{model_path}: no NumPy form for this model: the expanded closed form is not built "
            f"({why}) and the matrix form does not apply ({error}); try --format latex"
        ) from None
    hint = "; raise the limit with --max-ops" if "over the limit" in why else ""
    click.echo(
        f"note: {model_path}: printed the matrix form (weights as arrays, exact at any size), "
        f"not the expanded closed form: {why}{hint}",
        err=True,
    )
    return source


@main.command("torch")
@click.argument("model_path", type=click.Path(path_type=Path))
@click.argument("outdir", type=click.Path(path_type=Path))
@click.option("--unsafe", is_flag=True, help="Allow code stored in the file to run when loading.")
@_import_option
def torch_command(model_path: Path, outdir: Path, unsafe: bool, imports: tuple[str, ...]) -> None:
    """Write PyTorch source equal to a saved Keras model into OUTDIR/model.py."""
    _quiet_tensorflow()
    from generator.model.loading import load_model
    from generator.torch.writer import write_torch_package

    _import_custom_code(imports)
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
@click.option(
    "--no-wait", is_flag=True, help="Fail at once when another build of the project is running."
)
def build_command(
    jobs: int | None,
    timeout: float,
    keep_going: bool,
    lessons_dir: Path | None,
    no_wait: bool,
    engine: str,
) -> None:
    """Execute the lessons (cached) and build the site into site/."""
    from generator.site.progress import build_with_progress

    build_with_progress(
        Path.cwd(), lessons_dir, jobs, timeout, keep_going, wait=not no_wait, engine=engine
    )


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
    """Remove the build output: build/, site/, the execution cache and leftovers of
    interrupted builds."""
    import shutil

    from generator.site.lock import build_lock
    from generator.site.mkdocs import CoursePaths, check_site_dir

    paths = CoursePaths.at(Path.cwd())
    check_site_dir(paths.site)
    with build_lock(paths.lock, wait=False):
        for path in paths.leftovers():
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
            click.echo(f"removed {path}")
        for path in (paths.site, paths.cache, paths.build):
            if path.exists():
                shutil.rmtree(path)
                click.echo(f"removed {path}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
