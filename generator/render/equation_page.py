"""The model page's section on the whole network as one function: the prose around its forms."""

from __future__ import annotations

from generator.equation.compose import ComposedEquation
from generator.equation.layered import count_text
from generator.layers.normalization import FOLDED


def equation_section(equation: ComposedEquation) -> str:
    """The section's Markdown: closed or layered form, general form, verification, collapse."""
    if not equation.closed_form:
        return _layered_text(equation)
    parts = [
        "Written out, with every trained weight rounded to its first digits, "
        "the network is one function of its inputs:",
        f"$$\n{equation.latex}\n$$",
        "In symbols, with $W^{(l)}_{j,i}$ the weight from input $i$ to unit $j$ of layer $l$ "
        "($W^{(l)}$ is Keras's `kernel` transposed) and $b^{(l)}_j$ the bias of unit $j$ "
        "(layers numbered as in the architecture table):",
        f"$$\n{equation.symbolic_latex}\n$$",
    ]
    if equation.folded:
        parts.append(_folded_text(equation.folded))
    parts.append(
        f"Written out, this expression has {count_text(equation.expansion_ops)} operations."
    )
    if equation.max_abs_error is not None:
        parts.append(_check_text(equation))
    if equation.collapse is not None:
        parts += _collapse_text(equation)
    return "\n\n".join(parts)


def _layered_text(equation: ComposedEquation) -> str:
    size = ""
    if "over the limit" not in equation.reason:
        size = (
            f" Written out, its expression would have {count_text(equation.expansion_ops)}"
            " operations (a rough estimate)."
        )
    return "\n\n".join(
        [
            f"This network is not expanded into one formula: {equation.reason}.{size} "
            "It is the composition of its layers:",
            f"$$\n{equation.layered_latex}\n$$",
        ]
    )


def _folded_text(kinds: tuple[str, ...]) -> str:
    """The sentence defining the folded scale and shift of the normalization layers present."""
    return (
        r"A normalisation layer $l$ multiplies its feature $i$ by $\hat{\gamma}^{(l)}_i$ and adds "
        r"$\hat{\beta}^{(l)}_i$, folded from its statistics: "
        + "; ".join(FOLDED[kind] for kind in kinds)
        + "."
    )


def _check_text(equation: ComposedEquation) -> str:
    passed = all(c.passed for c in equation.checks)
    verdict = "agrees with" if passed else "**does not agree** with"
    return (
        f"Checked on {equation.sample_size} random inputs: the closed form {verdict} "
        f"`model.predict`, with a largest difference of {equation.max_abs_error:.2g} "
        f"(tolerance {equation.tolerance:g}, relative for outputs above 1)."
    )


def _collapse_text(equation: ComposedEquation) -> list[str]:
    collapse = equation.collapse
    parts = ["Every activation is linear, so the whole network collapses into one affine map:"]
    if collapse.symbolic_latex:
        parts.append(f"$$\n{collapse.symbolic_latex}\n$$")
    parts.append(f"$$\n{collapse.latex}\n$$")
    if collapse.max_abs_error is not None:
        parts.append(
            f"The collapsed map differs from `model.predict` by at most "
            f"{collapse.max_abs_error:.2g}."
        )
    return parts
