"""Worked examples on the pages: one output element of a layer with its numbers put in."""

from __future__ import annotations

from generator.equation.layer_checks import CheckedExample, LayerCheck


def _position(index: tuple[int, ...]) -> str:
    """`(0)`, `(1, 2, 0)`: an output index as a reader writes it (no tuple comma)."""
    return "(" + ", ".join(str(i) for i in index) + ")"


def worked_markdown(
    worked: CheckedExample | None, check: LayerCheck | None = None, framework: str = "Keras"
) -> str:
    """The layer's worked example and its check against its framework (Keras or PyTorch), as
    Markdown (empty if none)."""
    parts = []
    if worked is not None:
        example = worked.example
        parts += [
            f"**Worked example** at output position ${_position(example.index)}$ "
            "(first item of the sample):",
            f"$$\n{example.latex.strip()}\n$$",
            f"{framework} gives ${worked.keras_value:.6g}$ at the same position; "
            f"the equation gives ${example.value:.6g}$.",
        ]
        if worked.padding:  # the border element learners get wrong
            parts.append(f"This element sits at the border: {worked.padding}.")
    if check is not None:
        verdict = "agrees with" if check.passed else "**does not agree** with"
        detail = f" ({check.detail})" if check.detail else ""
        parts.append(
            f"*Equation checked:* it {verdict} {framework} at {check.positions:,} output "
            f"positions, largest difference {check.max_abs_error:.2g}{detail}."
        )
    return "\n\n".join(parts)


def worked_latex(
    worked: CheckedExample | None, check: LayerCheck | None = None, framework: str = "Keras"
) -> str:
    """The same in LaTeX (a paragraph and a display), empty if there is nothing to show."""
    parts = []
    if worked is not None:
        example = worked.example
        parts += [
            rf"Worked example at output position \( {_position(example.index)} \):",
            rf"\[ {example.latex.strip()} \]",
            rf"{framework} gives \( {worked.keras_value:.6g} \); the equation gives "
            rf"\( {example.value:.6g} \).",
        ]
        if worked.padding:
            parts.append(f"This element sits at the border: {worked.padding}.")
    if check is not None:
        verdict = "agrees with" if check.passed else "does NOT agree with"
        parts.append(
            f"Equation checked: it {verdict} {framework} at {check.positions} output positions, "
            rf"largest difference \( {check.max_abs_error:.2g} \)."
        )
    return "\n\n".join(parts)


def worked_json(worked: CheckedExample | None) -> dict | None:
    """The `worked_example` field of `course math --format json`."""
    if worked is None:
        return None
    example = worked.example
    out = {"index": list(example.index), "value": example.value, "latex": example.latex}
    return {**out, "padding": worked.padding} if worked.padding else out
