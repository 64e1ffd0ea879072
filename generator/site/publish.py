"""`publish()`: the one call a lesson makes to show a model's math and hand it to the site build."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.equation.settings import MathSettings
from generator.exceptions import CheckFailed, NameClash

if TYPE_CHECKING:  # the build imports this module for its constants: keep it light
    from generator.equation.analyze import ModelMath

#: Set by the build's executor to the directory where a lesson's model artifacts go.
ARTIFACTS_ENV = "COURSE_ARTIFACTS"
#: Key of the display metadata that marks a published model's inline page.
DISPLAY_KEY = "course_model"
#: Above this many bytes of weights a model gets no `.keras` download (ResNet50's are ~100 MB).
MAX_KERAS_BYTES = 20_000_000
#: The derived math of a published model, pickled beside its JSON (`<stem>.math.pickle`).
MATH_SUFFIX = ".math.pickle"
#: Above this many layers a page leaves out its layer-by-layer sections (ResNet50 has 176):
#: the layered form holds every layer's equation, and the page stays quick to load.
MAX_LAYER_SECTIONS = 60
#: Above this many layers or parameters a page leaves out the gradients and says why: ResNet50's
#: 176 layers would make the page heavy, and checking them slows the lesson.
MAX_GRADIENT_LAYERS = MAX_LAYER_SECTIONS
MAX_GRADIENT_PARAMS = 2_000_000


def model_file_stem(name: str) -> str:
    """A file name for a model: letters, digits, `-` and `_` only."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")
    return stem or "model"


def publish(
    model: Any,
    name: str | None = None,
    sample: Any = None,
    show: bool = True,
    draft: bool = False,
    gradients: bool | None = None,
    loss: str | None = None,
    **options: Any,
) -> ModelMath:
    """Derive `model`'s math, show it inline, and under `course build` write its artifacts.

    In Jupyter the model page (architecture table, equations, checks) is displayed as Markdown,
    so the learner sees what the site shows. Under the build (the executor sets
    `COURSE_ARTIFACTS`) it also writes `<name>.json`, `<name>.math.pickle` (the derived math,
    which the build renders the pages from) and `<name>.keras` there.

    Args:
        model: a built Keras model, or a PyTorch `nn.Module` (its page is then derived from
            PyTorch: the module is exported with `sample` as its example input).
        name: the model's name on the site; the model's own name when omitted.
        sample: inputs to check the closed form and the layer equations on (required for a
            PyTorch module, in PyTorch's layout).
        show: display the page inline (in Jupyter).
        draft: derive, check and show the math, but put nothing on the site (no model page,
            no entry in the Models nav): what `course new`'s template does until the
            instructor names the model.
        gradients: add the gradients (backward equations, chain rule, checks against
            `tf.GradientTape`) in a collapsed section; `None` does so for Keras models up to
            `MAX_GRADIENT_LAYERS` layers and `MAX_GRADIENT_PARAMS` parameters, and the page of
            a larger model says why it has none.
        loss: the loss the gradients start from (`mse`, `categorical_crossentropy`, ...); the
            model's compiled loss, else cross-entropy after a softmax, else MSE.
        **options: `MathSettings` fields to change (`digits=4`, ...).

    Returns:
        The derived math.

    Raises:
        CheckFailed: a derived figure disagrees with Keras; the message names the model and
            the check, so a wrong figure fails the lesson and the build.
        NameClash: under the build, another model of the lesson has the same file name.
    """
    from generator.equation.analyze import analyze_model
    from generator.render.markdown import model_page

    name = name or getattr(model, "name", None) or type(model).__name__
    settings = MathSettings().merge(**options)
    math = analyze_model(model, sample=sample, settings=settings)
    if gradients is not False:
        math = _with_gradients(model, math, sample, loss, settings.seed, gradients is True)
    if show:
        page = model_page(math, title=name, max_layer_sections=MAX_LAYER_SECTIONS)
        _display(page, name, math, draft)
    failed = [check for check in math.checks if not check.passed]
    if failed:
        check = failed[0]
        raise CheckFailed(f"model {name!r}: check {check.name!r} failed: {check.detail}")
    artifacts = os.environ.get(ARTIFACTS_ENV)
    if artifacts and not draft:
        write_artifacts(model, name, math, Path(artifacts), sample=sample)
    return math


def _with_gradients(
    model: Any, math: ModelMath, sample: Any, loss: str | None, seed: int, asked: bool
) -> ModelMath:
    """`math` with its gradients, or with the reason the page shows none."""
    from generator.equation.gradient_report import (
        model_gradient_report,
        omitted_report,
        with_gradients,
    )

    why = ""
    if not all(check.passed for check in math.checks):
        return math  # publish fails on the forward check: no gradients of a wrong function
    keras_model = any(c.__module__.startswith("keras") for c in type(model).__mro__)
    if math.graph.framework != "keras" or not keras_model:
        why = "Gradients are derived for Keras models, where `tf.GradientTape` checks them."
    elif not asked and len(math.layers) > MAX_GRADIENT_LAYERS:
        why = (
            f"Gradients are left out: {len(math.layers)} layers, above the site's limit of "
            f"{MAX_GRADIENT_LAYERS}, would make this page slow to build and to read."
        )
    elif not asked and math.total_params > MAX_GRADIENT_PARAMS:
        why = (
            f"Gradients are left out: {math.total_params:,} parameters, above the site's limit "
            f"of {MAX_GRADIENT_PARAMS:,}."
        )
    if why and not asked:
        return replace(math, gradients=omitted_report(why))
    if why:
        raise ValueError(why)
    try:
        report = model_gradient_report(model, math, sample, loss, seed)
    except ValueError as error:  # a layer with no backward equation
        if asked:
            raise
        return replace(math, gradients=omitted_report(f"Gradients are left out: {error}."))
    return with_gradients(math, report)


def _display(page: str, name: str, math: ModelMath, draft: bool = False) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return
    if get_ipython() is None:
        return
    passed = sum(check.passed for check in math.checks)
    metadata = {
        DISPLAY_KEY: {
            "name": name,
            "stem": model_file_stem(name),
            "checks_passed": passed,
            "checks": len(math.checks),
            **({"draft": True} if draft else {}),
        }
    }
    display(Markdown(page), metadata=metadata)


def write_artifacts(
    model: Any, name: str, math: ModelMath, directory: Path, sample: Any = None
) -> None:
    """Write `<stem>.json` (the JSON schema plus the checks), `<stem>.math.pickle` (the
    `ModelMath` the build renders the model's pages from) and the saved model: `<stem>.keras`,
    or `<stem>.pt2` (`torch.export.save` of the module exported on `sample`) for PyTorch.

    A model whose weights exceed `MAX_KERAS_BYTES` gets no saved model (its page says so).
    """
    import pickle
    from math import prod as math_prod

    import numpy as np

    from generator.render.json import model_json

    directory.mkdir(parents=True, exist_ok=True)
    stem = model_file_stem(name)
    earlier = _published_name(directory / f"{stem}.json")
    if earlier is not None and earlier != name:
        raise NameClash(
            f"models {earlier!r} and {name!r} both make the file name {stem!r}; "
            "give one of them another name"
        )
    data = model_json(math)
    data["name"] = name
    data["checks"] = [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in math.checks]
    torch_module = math.graph.framework == "torch"
    if torch_module:
        weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    else:
        weights = getattr(model, "weights", ())  # a stand-in for a model may have none
        weight_bytes = sum(math_prod(w.shape) * np.dtype(w.dtype).itemsize for w in weights)
    data["weight_bytes"] = int(weight_bytes)
    write_atomic(directory / f"{stem}{MATH_SUFFIX}", pickle.dumps(math.for_pages()))
    if weight_bytes <= MAX_KERAS_BYTES and torch_module:
        import torch

        from generator.model.torch_reference import export_module

        torch.export.save(export_module(model, sample), directory / f"{stem}.pt2")
    elif weight_bytes <= MAX_KERAS_BYTES:
        model.save(directory / f"{stem}.keras")
    # The JSON goes last: the build takes a model as published only when its JSON exists.
    write_atomic(directory / f"{stem}.json", json.dumps(data, indent=2, default=str))


def no_keras_note(weight_bytes: int) -> str:
    """What a model page says when its weights are too big for a `.keras` download."""
    if weight_bytes <= MAX_KERAS_BYTES:
        return ""
    return (
        f'!!! note "No `.keras` download"\n    Its weights take '
        f"{weight_bytes / 1e6:.0f} MB, above the site's limit of {MAX_KERAS_BYTES / 1e6:.0f} "
        "MB: rebuild the model from its code instead.\n"
    )


def _published_name(path: Path) -> str | None:
    """The name of the model already published as `path` in this run of the lesson, if any."""
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["name"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write `content` to `path` so that a reader sees the old file or the new one, never a
    part."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if isinstance(content, bytes):
        tmp.write_bytes(content)
    else:
        tmp.write_text(content, encoding="utf-8")
    os.replace(tmp, path)
