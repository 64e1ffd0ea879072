"""The gradients section of a model's page: Markdown (collapsed on the site), JSON and LaTeX.

Each backend renders a `GradientReport` (`generator.equation.gradient_report`), plain data
that `course math --gradients` and `publish()` compute where Keras runs: the loss, the chain
rule along the graph of calls, every layer's backward equation, the checks against
`tf.GradientTape`, one weight's gradient worked out with its numbers, and an MLP's closed form.
"""

from __future__ import annotations

from typing import Any

from generator.equation.gradient_report import GradientReport, WorkedGradient
from generator.layers.nested import text_name

#: Why a convolution's input gradient looks like it does, said once on the page.
TRANSPOSED_NOTE = (
    "A convolution's gradient with respect to its input is a *transposed convolution*: the "
    "upstream gradient, spread back through the same kernel (flipped), with the stride's gaps "
    "and the padding undone."
)


def _gradients(math: Any) -> GradientReport | None:
    return getattr(math, "gradients", None)


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line.strip() else "" for line in text.splitlines())


def _num(value: float) -> str:
    return f"{value:.4g}"


def worked_latex_line(worked: WorkedGradient) -> str:
    """`dL/dW_{j,i} = sum_n delta_{n,j} a_{n,i} = (d)(a) + ... = value`, or the value alone."""
    sub = ",".join(str(k) for k in worked.index)
    l_ = worked.number
    lhs = rf"\frac{{\partial \mathcal L}}{{\partial {worked.symbol}^{{({l_})}}_{{{sub}}}}}"
    if not worked.terms:
        return f"{lhs} = {_num(worked.ours)}"
    j, i = worked.index
    shown = worked.terms[:4]
    products = " + ".join(rf"({_num(d)})({_num(a)})" for d, a in shown)
    if len(worked.terms) > len(shown):
        products += r" + \dots"
    return (
        rf"{lhs} = \sum_n \delta^{{({l_})}}_{{n,{j}}}\, a^{{({l_ - 1})}}_{{n,{i}}} = "
        rf"{products} = {_num(worked.ours)}"
    )


def _worked_text(worked: WorkedGradient) -> str:
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


def gradients_markdown(math: Any, h: str = "#") -> str:
    """The page's gradients, collapsed (`??? note`); empty when none were computed."""
    report = _gradients(math)
    if report is None:
        return ""
    if report.omitted:
        return f'??? note "Gradients"\n    {report.omitted}'
    parts = [
        f"The loss is the outer function, `{report.loss}` "
        f"($\\mathcal L = {_num(report.value)}$ on the sample):",
        f"$$\n{report.loss_latex}\n$$",
        "**The chain rule**, from the loss inwards (a tensor read by several calls sums their "
        "contributions):",
        "$$\n\\begin{aligned}\n"
        + " \\\\\n".join(
            s.latex.replace(" = ", " &= ", 1)
            + (f" && \\text{{{text_name(s.text)}}}" if s.text else "")
            for s in report.steps
        )
        + "\n\\end{aligned}\n$$",
        "**Each layer's backward equation**, from the upstream gradient "
        "$\\partial \\mathcal L / \\partial a^{(l)}$:",
    ]
    for layer in report.layers:
        parts.append(f"{layer.number}. `{layer.name}` ({layer.type})")
        if layer.lines:
            parts.append(_indent("$$\n" + " \\\\\n".join(layer.lines) + "\n$$"))
        else:
            parts.append("    *No backward equation is known for this type.*")
    if any(layer.type.startswith("Conv") for layer in report.layers):
        parts.append(TRANSPOSED_NOTE)
    if report.worked is not None:
        parts += [
            _worked_text(report.worked),
            f"$$\n{worked_latex_line(report.worked)}\n$$",
            f"`tf.GradientTape` gives {_num(report.worked.tape)}.",
        ]
    if report.closed_form is not None:
        form = report.closed_form
        parts += [
            "**Closed form.** The forward pass, then every weight's gradient in one expression:",
            "$$\n\\begin{aligned}\n"
            + " \\\\\n".join(
                line.replace(" = ", " &= ", 1) for line in (*form.forward, *form.gradients)
            )
            + "\n\\end{aligned}\n$$",
            f"The same in NumPy (Keras's kernels, `K = W.T`):\n\n```python\n{form.source}```",
        ]
    checks = "\n".join(
        f"- {c.name}: {'passed' if c.passed else '**FAILED**'} ({c.detail})"
        for c in report.all_checks()
    )
    parts.append(f"**Checks**\n\n{checks}")
    body = "\n\n".join(parts)
    return f'??? note "Gradients (loss: {report.loss})"\n\n{_indent(body)}'


def gradients_json(math: Any) -> dict[str, Any] | None:
    """The gradients as JSON data, `null` when none were computed."""
    report = _gradients(math)
    if report is None:
        return None
    if report.omitted:
        return {"omitted": report.omitted}
    worked = report.worked
    form = report.closed_form
    return {
        "loss": report.loss,
        "loss_latex": report.loss_latex,
        "loss_gradient_latex": report.loss_gradient_latex,
        "loss_value": report.value,
        "chain_rule": [{"call": s.call, "latex": s.latex, "text": s.text} for s in report.steps],
        "layers": [
            {"name": layer.name, "type": layer.type, "backward_latex": list(layer.lines)}
            for layer in report.layers
        ],
        "checks": [
            {"name": c.name, "passed": c.passed, "detail": c.detail} for c in report.all_checks()
        ],
        "differences": dict(report.checks),
        "worked_example": None
        if worked is None
        else {
            "layer": worked.layer,
            "weight": worked.weight,
            "index": list(worked.index),
            "latex": worked_latex_line(worked),
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


def gradients_latex(math: Any, escape: Any = str) -> str:
    """The gradients as a LaTeX subsection; empty when none were computed."""
    report = _gradients(math)
    if report is None:
        return ""
    if report.omitted:
        return r"\subsection*{Gradients}" + "\n\n" + escape(report.omitted)
    parts = [
        r"\subsection*{Gradients}",
        rf"Loss \texttt{{{escape(report.loss)}}}: \[ {report.loss_latex} \]",
        r"The chain rule, from the loss inwards:",
        r"\begin{align*}"
        + "\n"
        + " \\\\\n".join(s.latex.replace(" = ", " &= ", 1) for s in report.steps)
        + "\n"
        + r"\end{align*}",
    ]
    for layer in report.layers:
        if layer.lines:
            parts.append(
                rf"{layer.number}. \texttt{{{escape(layer.name)}}} ({escape(layer.type)}):"
                + "\n"
                + r"\begin{gather*}"
                + "\n"
                + " \\\\\n".join(layer.lines)
                + "\n"
                + r"\end{gather*}"
            )
    if report.worked is not None:
        parts.append(
            rf"\[ {worked_latex_line(report.worked)} \] "
            rf"(\texttt{{tf.GradientTape}}: {_num(report.worked.tape)})"
        )
    if report.closed_form is not None:
        parts.append(
            r"Closed form:"
            + "\n"
            + r"\begin{align*}"
            + "\n"
            + " \\\\\n".join(
                line.replace(" = ", " &= ", 1)
                for line in (*report.closed_form.forward, *report.closed_form.gradients)
            )
            + "\n"
            + r"\end{align*}"
        )
    items = "\n".join(
        rf"  \item {escape(c.name)}: {'passed' if c.passed else 'FAILED'} ({escape(c.detail)})"
        for c in report.all_checks()
    )
    parts.append(r"\begin{itemize}" + "\n" + items + "\n" + r"\end{itemize}")
    return "\n\n".join(parts)
