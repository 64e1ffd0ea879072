"""The LaTeX backend: a document with each layer's shape, parameters and equation.

Layers are numbered from 1, as on the Markdown page.
"""

from __future__ import annotations

from generator.equation.analyze import ModelMath
from generator.layers.derive import DerivedLayer, shape_text
from generator.render.gradients import gradients_latex
from generator.render.worked import worked_latex


def _escape(text: str) -> str:
    """Plain text (names, notes) safe in LaTeX."""
    text = text.replace("\\", "\x00")
    for char in "_%&#${}":
        text = text.replace(char, "\\" + char)
    return text.replace("\x00", r"\textbackslash{}")


def layer_latex(layer: DerivedLayer, index: int, worked: str = "") -> str:
    """One layer's subsection: shape derivation, parameter derivation, equation and worked
    example (`worked`, LaTeX from `generator.render.worked`)."""
    record = layer.record
    shapes_in = r",\ ".join(shape_text(s) for s in record.input_shapes)
    lines = [
        rf"\subsection*{{{index}. \texttt{{{_escape(record.name)}}} ({_escape(record.type)})}}",
        rf"Shape: \( {shapes_in} \to {shape_text(record.output_shape)} \)",
    ]
    if layer.shape is not None and layer.shape.steps:
        lines.append(rf"\[ {layer.shape_latex} \]")
    if layer.params.formula is None:
        lines.append(rf"Parameters: {record.framework_params} (counted by its framework).")
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
    graph = math.graph
    parts = [
        rf"\section*{{Model \texttt{{{_escape(graph.name)}}}}}",
        rf"Total parameters: {math.total_params}.",
        *(
            layer_latex(
                layer,
                i,
                worked_latex(
                    math.worked.get(layer.record.name), math.layer_checks.get(layer.record.name)
                ),
            )
            for i, layer in enumerate(math.layers, start=1)
        ),
    ]
    equation = math.equation
    if equation is not None:
        latex = getattr(equation, "latex", None)
        body = latex() if callable(latex) else latex
        if body:
            parts += [r"\subsection*{The whole network as one function}", rf"\[ {body} \]"]
    if math.checks:
        items = "\n".join(
            rf"  \item {_escape(c.name)}: {'passed' if c.passed else 'FAILED'} "
            rf"({_escape(c.detail)})"
            for c in math.checks
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
    parts.append(gradients_latex(math, _escape))
    return "\n\n".join(p for p in parts if p) + "\n"
