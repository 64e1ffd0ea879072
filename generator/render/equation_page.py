"""The model page's section on the whole network as one function: the prose around its forms."""

from __future__ import annotations

from generator.equation.compose import ComposedEquation
from generator.equation.layered import count_text, definition_line
from generator.layers.common import aligned
from generator.layers.derive import DerivedModel
from generator.layers.normalization import FOLDED
from generator.render.blocks import ALL_LAYERS, Repeat, folded_calls, repeated_blocks


def equation_section(equation: ComposedEquation, math: DerivedModel | None = None) -> str:
    """The section's Markdown: closed or layered form, general form, verification, collapse.

    With the model's layers (`math`), a layered form folds the later copies of each repeated
    block (`generator.render.blocks`) into one row, the whole form in a collapsed note.
    """
    if not equation.closed_form:
        runs = repeated_blocks(math.graph) if math is not None else ()
        if runs:
            return _folded_layered_text(equation, math, runs)
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


def _folded_layered_text(
    equation: ComposedEquation, math: DerivedModel, runs: tuple[Repeat, ...]
) -> str:
    """The layered form with each run's later copies as one row of steps and one of functions,
    then the whole form in a collapsed note."""
    whole = _layered_text(equation)
    intro, _, _ = whole.partition("$$")
    starts = {run.folded[0]: run for run in runs}
    skip = folded_calls(runs)
    chain = math.graph.is_chain
    steps = [] if chain else [s.latex.replace(" = ", " &= ", 1) for s in equation.steps]
    lines = [_rows(equation.layered_latex)[0]] if chain else []
    for i in range(len(math.layers)):
        if i in starts and not chain:
            lines.append(_folded_steps(starts[i]))
        if i not in skip and not chain:
            lines.append(steps[i])
    if not chain:  # the model's own line: `f(x) &= a^{(L)}`, after the steps
        lines.append(_model_row(equation))
    for i, layer in enumerate(math.layers):
        if i in starts:
            lines.append(_folded_functions(starts[i]))
        if i not in skip and not layer.record.shares:
            lines.append(definition_line(i + 1, layer))
    n = len(math.layers)
    return "\n\n".join(
        [
            intro.rstrip().rstrip(":")
            + ", each repeated block written out once (a row for its later copies says "
            "which steps they repeat):",
            f"$$\n{aligned(lines, chr(10))}\n$$",
            f'??? note {ALL_LAYERS} "All {n} layers, step by step"\n\n'
            + "\n".join(f"    {line}" if line else "" for line in whole.splitlines()[2:]),
        ]
    )


def _rows(latex: str) -> list[str]:
    r"""The rows of an `aligned` block (separated by `\\`), without the environment."""
    body = latex.split(r"\begin{aligned}", 1)[-1].rsplit(r"\end{aligned}", 1)[0]
    return [row.strip() for row in body.split(r"\\") if row.strip()]


def _model_row(equation: ComposedEquation) -> str:
    """The layered form's row `f(x) &= a^{(L)}` (after its steps)."""
    rows = _rows(equation.layered_latex)
    return next(row for row in rows if row.startswith("f("))


def _span(run: Repeat) -> tuple[str, str, int]:
    first, last = run.first, run.folded
    return (
        rf"{last[0] + 1}\text{{–}}{last[-1] + 1}",
        rf"{first[0] + 1}\text{{–}}{first[-1] + 1}",
        run.length,
    )


def _times(run: Repeat) -> str:
    """`once more, every index shifted by 10`, or `3 more times, ... each time`."""
    more = run.count - 1
    if more == 1:
        return f"once more, every index shifted by {run.length}"
    return f"{more} more times, every index shifted by {run.length} each time"


def _folded_steps(run: Repeat) -> str:
    folded, first, length = _span(run)
    return (
        rf"a^{{(l)}}, \ l = {folded} &: \quad \text{{the steps of layers }} {first}"
        rf"\text{{ {_times(run)}}}"
    )


def _folded_functions(run: Repeat) -> str:
    folded, first, length = _span(run)
    return (
        rf"f_l, \ l = {folded} &: \quad \text{{as }} f_{{l - {length}}}"
        r"\text{, with the layer's own weights}"
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
