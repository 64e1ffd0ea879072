"""Networks as Functions: derive a Keras model's mathematics and build the course site.

The public names, the only ones lessons use, are loaded on first use, so that `import
generator` (and `course --help`) imports neither TensorFlow nor sympy.

The package reads as its pipeline, each folder importing only from the ones before it:
`model` (a Keras model as a framework-neutral graph) -> `layers` (one handler per layer type)
-> `equation` (the composed equation) -> `torch` (the PyTorch backend) -> `render` (JSON,
Markdown, LaTeX, plots) -> `site` (lessons, execution, cache, pages, MkDocs) -> `cli`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: Public name -> the module that defines it.
_PUBLIC = {
    "publish": "generator.site.publish",
    "analyze": "generator.equation.analyze",
    "analyze_model": "generator.equation.analyze",
    "describe_model": "generator.model.frontend",
    "derive_model": "generator.layers.derive",
    "compose_equation": "generator.equation.compose",
    "exercise": "generator.render.exercise",
    "expression_growth": "generator.equation.growth",
    "growth_table": "generator.equation.growth",
    "plot_approximation": "generator.render.plots",
    "plot_growth": "generator.render.plots",
    "supported_layers": "generator.layers.registry",
    "MathSettings": "generator.equation.settings",
    "model_gradients": "generator.equation.gradient_report",
}

__all__ = sorted([*_PUBLIC, "taylor"])


def taylor(source: Any, order: int = 3, point: float = 0.0, **options: Any):
    """The Taylor polynomial of a one-input network around `point`.

    Args:
        source: a Keras model (its equation is composed here) or a composed equation.
        order: the polynomial's degree.
        point: the expansion point.
        **options: `interval`, `output`, `digits`, as `generator.equation.taylor.taylor` takes.
    """
    from generator.equation.taylor import taylor as taylor_of_equation

    if not (hasattr(source, "expressions") and hasattr(source, "inputs")):
        from generator.equation.analyze import analyze_model

        source = analyze_model(source).equation
        if source is None:
            raise ValueError("this model has no composed equation to expand")
    return taylor_of_equation(source, order=order, point=point, **options)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'generator' has no attribute {name!r}")
    attribute = "analyze_model" if name == "analyze" else name
    return getattr(import_module(_PUBLIC[name]), attribute)
