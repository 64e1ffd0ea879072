"""The LaTeX backend: a document with each layer's shape, parameters and equation.

Layers are numbered from 1, as on the Markdown page.
"""

from __future__ import annotations

from generator.equation.analyze import ModelMath
from generator.layers.derive import shape_text
from generator.render.gradients import gradients_latex
from generator.render.page_model import PageLayer, page_model
from generator.render.worked import worked_latex


def _escape(text: str) -> str:
    """Plain text (names, notes) safe in LaTeX."""
    text = text.replace("\\", "\x00")
    for char in "_%&#${}":
        text = text.replace(char, "\\" + char)
    return text.replace("\x00", r"\textbackslash{}")


def layer_latex(layer: PageLayer, worked: str = "") -> str:
    """One layer's subsection: shape derivation, parameter derivation, equation and worked
    example (`worked`, LaTeX from `generator.render.worked`)."""
    derived = layer.derived
    shapes_in = r",\ ".join(shape_text(s) for s in layer.input_shapes)
    shapes_out = r",\ ".join(shape_text(s) for s in layer.output_shapes)
    name, kind = _escape(layer.name), _escape(layer.type)
    lines = [
        rf"\subsection*{{{layer.number}. \texttt{{{name}}} ({kind})}}",
        rf"Shape: \( {shapes_in} \to {shapes_out} \)",
    ]
    if derived.shape is not None and derived.shape.steps:
        lines.append(rf"\[ {layer.shape_latex} \]")
    if layer.params_formula is None:
        lines.append(rf"Parameters: {derived.record.framework_params} (counted by its framework).")
    else:
        lines.append(rf"Parameters: \[ {layer.params_latex} \]")
    if layer.equation_latex:
        lines.append(rf"Equation: \[ {layer.equation_latex} \]")
    if worked:
        lines.append(worked)
    return "\n\n".join(lines)


#: The preamble of `latex_document`: what the bodies use (`aligned`, `\operatorname`, ...).
PREAMBLE = r"""\documentclass[a4paper]{article}
\usepackage[margin=2cm]{geometry}
\usepackage{amsmath}
\usepackage{amssymb}
\allowdisplaybreaks
"""


def latex_document(math: ModelMath) -> str:
    """A standalone LaTeX document of the whole model (compiles with `pdflatex`)."""
    return f"{PREAMBLE}\\begin{{document}}\n\n{model_latex(math)}\n\\end{{document}}\n"


def model_latex(math: ModelMath) -> str:
    """A LaTeX document body (no preamble; needs `amsmath`) for the whole model."""
    page = page_model(math)
    parts = [
        rf"\section*{{Model \texttt{{{_escape(page.name)}}}}}",
        rf"Total parameters: {page.total_params}.",
        *(layer_latex(layer, worked_latex(layer.worked, layer.check)) for layer in page.layers),
    ]
    equation = math.equation
    if equation is not None:
        latex = getattr(equation, "latex", None)
        body = latex() if callable(latex) else latex
        if body:
            parts += [r"\subsection*{The whole network as one function}", rf"\[ {body} \]"]
    if page.checks:
        items = "\n".join(
            rf"  \item {_escape(c.name)}: {'passed' if c.passed else 'FAILED'} "
            rf"({_escape(c.detail)})"
            for c in page.checks
        )
        parts.append(
            r"\subsection*{Checks}"
            + "\n"
            + r"\begin{itemize}"
            + "\n"
            + items
            + "\n"
            + r"\end{itemize}"
        )
    parts.append(gradients_latex(page.gradients, _escape))
    return "\n\n".join(p for p in parts if p) + "\n"
