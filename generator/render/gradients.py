"""The gradients section of a model's page: Markdown (collapsed on the site), JSON and LaTeX.

Each backend renders the page's `PageGradients` (`generator.render.page_model`), built from the
`GradientReport` that `course math --gradients` and `publish()` compute where Keras runs: the
loss, the chain rule along the graph of calls, every layer's backward equation (numbered as the
page numbers its layers), one weight's gradient worked out with its numbers, and an MLP's closed
form. The checks against `tf.GradientTape` are lines of the page's Checks list; this section
says whether they passed and how far each layer's gradients are from the tape's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from generator.render.page_model import PageBackward, PageGradients, short_number

#: Why a convolution's input gradient looks like it does, said once on the page.
TRANSPOSED_NOTE = (
    "A convolution's gradient with respect to its input is a *transposed convolution*: the "
    "upstream gradient, spread back through the same kernel (flipped), with the stride's gaps "
    "and the padding undone."
)

#: What the figures under each backward equation are.
COMPARED = (
    "the largest difference from `tf.GradientTape`'s gradient, relative to its largest "
    "magnitude (at least 1)"
)


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line.strip() else "" for line in text.splitlines())


def _difference(value: float) -> str:
    return f"{value:.2g}"


def _outcome(gradients: PageGradients) -> str:
    return "passed" if all(c.passed for c in gradients.checks) else "FAILED"


def _worked_text(gradients: PageGradients) -> str:
    worked = gradients.worked
    where = f"`{worked.layer}`'s `{worked.weight}`"
    if worked.terms:
        j, i = worked.index
        how = (
            f"Keras stores it as `kernel[{i}, {j}]`. Each item $n$ of the batch adds "
            f"$\\delta_{{n,{j}}}$, the loss's gradient at unit {j}'s pre-activation, times "
            f"input {i} of that item."
        )
    else:
        how = "(the entry with the largest gradient)."
    return f"One weight's gradient, {where}, with its numbers. {how}"


def _compared_markdown(backward: PageBackward) -> str:
    number = backward.layer.number
    items = [
        (
            f"$\\partial \\mathcal L / \\partial a^{{({number})}}$"
            if label == "output"
            else f"`{label}`"
        )
        + f": {_difference(value)}"
        for label, value in backward.compared
    ]
    return f"*Against `tf.GradientTape`:* {', '.join(items)}." if items else ""


def _backward_markdown(backward: PageBackward, anchors: bool) -> str:
    layer = backward.layer
    name = f"[`{layer.name}`](#{layer.anchor})" if anchors else f"`{layer.name}`"
    parts = [f"**{layer.number}.** {name} ({layer.type})"]
    if backward.lines:
        parts.append("$$\n" + " \\\\\n".join(backward.lines) + "\n$$")
    else:
        parts.append("*No backward equation is known for this type.*")
    parts.append(_compared_markdown(backward))
    return "\n\n".join(p for p in parts if p)


def gradients_markdown(gradients: PageGradients | None, anchors: bool = False) -> str:
    """The page's gradients, collapsed (`??? note`); empty when none were computed.

    Args:
        gradients: the page's gradients (`ModelPage.gradients`).
        anchors: link each backward equation's layer to its section (the page has them).
    """
    if gradients is None:
        return ""
    if gradients.omitted:
        return f'??? note "Gradients"\n    {gradients.omitted}'
    parts = [
        f"The loss is the outer function, `{gradients.loss}` "
        f"($\\mathcal L = {short_number(gradients.value)}$ on the sample):",
        f"$$\n{gradients.loss_latex}\n$$",
        "**The chain rule**, from the loss inwards (a tensor read by several calls sums their "
        "contributions):",
        "$$\n\\begin{aligned}\n"
        + " \\\\\n".join(
            row + (f" && \\text{{{note}}}" if note else "") for row, note in gradients.chain_rule
        )
        + "\n\\end{aligned}\n$$",
        "**Each layer's backward equation**, from the upstream gradient "
        f"$\\partial \\mathcal L / \\partial a^{{(l)}}$; under it, {COMPARED}:",
        *(_backward_markdown(b, anchors) for b in gradients.backward),
    ]
    if gradients.inputs_compared:
        items = ", ".join(f"`{k}`: {_difference(v)}" for k, v in gradients.inputs_compared)
        parts.append(f"*The inputs' gradients against `tf.GradientTape`:* {items}.")
    if gradients.convolution:
        parts.append(TRANSPOSED_NOTE)
    if gradients.worked is not None:
        parts += [
            _worked_text(gradients),
            f"$$\n{gradients.worked_latex}\n$$",
            f"`tf.GradientTape` gives {short_number(gradients.worked.tape)}.",
        ]
    if gradients.closed_form is not None:
        parts += [
            "**Closed form.** The forward pass, then every weight's gradient in one expression:",
            f"$$\n\\begin{{aligned}}\n{gradients.closed_form_latex}\n\\end{{aligned}}\n$$",
            "The same in NumPy (Keras's kernels, `K = W.T`):\n\n"
            f"```python\n{gradients.closed_form.source}```",
        ]
    outcome = "passed" if _outcome(gradients) == "passed" else "**FAILED**"
    parts.append(
        f"**Checked** against `tf.GradientTape`: {outcome} (the lines are in the page's Checks)."
    )
    body = "\n\n".join(parts)
    return f'??? note "Gradients (loss: {gradients.loss})"\n\n{_indent(body)}'


def gradients_json(gradients: PageGradients | None) -> dict[str, Any] | None:
    """The gradients as JSON data, `null` when none were computed; each layer and the worked
    example carry their page `number`."""
    if gradients is None:
        return None
    if gradients.omitted:
        return {"omitted": gradients.omitted}
    worked = gradients.worked
    form = gradients.closed_form
    return {
        "loss": gradients.loss,
        "loss_latex": gradients.loss_latex,
        "loss_gradient_latex": gradients.loss_gradient_latex,
        "loss_value": gradients.value,
        "chain_rule": [{"call": s.call, "latex": s.latex, "text": s.text} for s in gradients.steps],
        "layers": [
            {
                "number": b.layer.number,
                "name": b.layer.name,
                "type": b.layer.type,
                "backward_latex": list(b.lines),
            }
            for b in gradients.backward
        ],
        "checks": [
            {"name": c.name, "passed": c.passed, "detail": c.detail} for c in gradients.checks
        ],
        "differences": dict(gradients.differences),
        "worked_example": None
        if worked is None or gradients.worked_layer is None
        else {
            "layer": worked.layer,
            "number": gradients.worked_layer.number,
            "weight": worked.weight,
            "index": list(worked.index),
            "latex": gradients.worked_latex,
            "terms": [list(t) for t in worked.terms],
            "value": worked.ours,
            "gradient_tape": worked.tape,
        },
        "closed_form": None
        if form is None
        else {
            "forward_latex": list(form.forward),
            "gradients_latex": list(form.gradients),
            "numpy": form.source,
            "difference": form.error,
        },
    }


def _prose_latex(text: str, escape: Callable[[str], str]) -> str:
    """Markdown prose with `code` and *emphasis* (and nothing else) in LaTeX."""
    out = []
    for piece in re.split(r"(`[^`]*`|\*[^*]+\*)", text):
        if piece.startswith("`"):
            out.append(rf"\texttt{{{escape(piece[1:-1])}}}")
        elif piece.startswith("*"):
            out.append(rf"\emph{{{escape(piece[1:-1])}}}")
        else:
            out.append(escape(piece))
    return "".join(out)


def _environment(name: str, body: str) -> str:
    return f"\\begin{{{name}}}\n{body}\n\\end{{{name}}}"


def _backward_latex(backward: PageBackward, escape: Callable[[str], str]) -> str:
    layer = backward.layer
    head = rf"{layer.number}. \texttt{{{escape(layer.name)}}} ({escape(layer.type)})"
    if backward.lines:
        text = f"{head}:\n" + _environment("gather*", " \\\\\n".join(backward.lines))
    else:
        text = f"{head}: no backward equation is known for this type."
    items = [
        (
            rf"\(\partial \mathcal L / \partial a^{{({layer.number})}}\)"
            if label == "output"
            else rf"\texttt{{{escape(label)}}}"
        )
        + f": {_difference(value)}"
        for label, value in backward.compared
    ]
    if items:
        text += "\n" + rf"\emph{{Against \texttt{{tf.GradientTape}}:}} {', '.join(items)}."
    return text


def gradients_latex(gradients: PageGradients | None, escape: Callable[[str], str] = str) -> str:
    """The gradients as a LaTeX subsection; empty when none were computed.

    Args:
        gradients: the page's gradients (`ModelPage.gradients`).
        escape: makes plain text (names, notes) safe in LaTeX.
    """
    if gradients is None:
        return ""
    if gradients.omitted:
        return r"\subsection*{Gradients}" + "\n\n" + escape(gradients.omitted)
    parts = [
        r"\subsection*{Gradients}",
        rf"Loss \texttt{{{escape(gradients.loss)}}} "
        rf"(\(\mathcal L = {short_number(gradients.value)}\) on the sample): "
        rf"\[ {gradients.loss_latex} \]",
        r"The chain rule, from the loss inwards:",
        _environment(
            "align*",
            " \\\\\n".join(
                row + (f" \\tag*{{\\small {note}}}" if note else "")
                for row, note in gradients.chain_rule
            ),
        ),
        r"Each layer's backward equation, from the upstream gradient "
        r"\(\partial \mathcal L / \partial a^{(l)}\); under it, "
        + _prose_latex(COMPARED, escape)
        + ":",
        *(_backward_latex(b, escape) for b in gradients.backward),
    ]
    if gradients.inputs_compared:
        items = ", ".join(
            rf"\texttt{{{escape(k)}}}: {_difference(v)}" for k, v in gradients.inputs_compared
        )
        parts.append(
            rf"\emph{{The inputs' gradients against \texttt{{tf.GradientTape}}:}} {items}."
        )
    if gradients.convolution:
        parts.append(_prose_latex(TRANSPOSED_NOTE, escape))
    if gradients.worked is not None:
        parts.append(
            rf"\[ {gradients.worked_latex} \] "
            rf"(\texttt{{tf.GradientTape}}: {short_number(gradients.worked.tape)})"
        )
    if gradients.closed_form is not None:
        parts.append("Closed form:\n" + _environment("align*", gradients.closed_form_latex))
    parts.append(
        rf"Checked against \texttt{{tf.GradientTape}}: {_outcome(gradients)} "
        "(the lines are in the Checks above)."
    )
    return "\n\n".join(parts)
