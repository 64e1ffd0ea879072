"""The Markdown backend: one model's page, as the site and `course math --format markdown` show it.

Long LaTeX goes into display blocks (`$$ ... $$` on lines of their own), never into table cells:
a table holds only short inline math and plain figures, so it stays readable on a phone.
"""

from __future__ import annotations

from collections.abc import Sequence

from generator.equation.analyze import ModelMath
from generator.layers.derive import Check, DerivedLayer, shape_text
from generator.render.blocks import ALL_LAYERS, Repeat, folded_calls, repeated_blocks
from generator.render.diagrams import diagram_section
from generator.render.diagrams.examples import drawn_example
from generator.render.equation_page import equation_section
from generator.render.gradients import gradients_markdown
from generator.render.keras_code import keras_code
from generator.render.page_model import page_model
from generator.render.worked import worked_markdown

#: Longest Keras code line shown whole in the architecture table; longer ones are cut there
#: and shown in full in the layer's own section.
TABLE_CODE_CHARS = 48


def model_page(
    math: ModelMath,
    heading_level: int = 1,
    title: str | None = None,
    max_layer_sections: int | None = None,
    diagrams: bool = True,
) -> str:
    """The whole page of one model in Markdown with arithmatex math.

    Args:
        math: the derived math (`generator.equation.analyze.analyze_model`).
        title: the model's name in the title (`publish(name=...)`); its Keras name by default.
        heading_level: level of the title; sections are one level below (a lesson embeds the
            page with a deeper level).
        max_layer_sections: above this many layers the page leaves out its layer-by-layer
            sections (the table and the layered form hold every layer), and its diagrams link
            nowhere; `None` for no limit.
        diagrams: include the inline SVG diagrams (the model's and each worked example's);
            a terminal has no use for them.
    """
    h = "#" * heading_level
    page = page_model(math, title)
    name = page.title
    sections = max_layer_sections is None or len(math.layers) <= max_layer_sections
    parts = [
        f"{h} Model `{name}`",
        _summary(math),
        f"{h}# Architecture",
        architecture_table(math),
        f"{h}# Diagram" if diagrams else "",
        diagram_section(math, layer_anchors(math, name) if sections else None) if diagrams else "",
        _code_section(math, h),
        f"{h}# Layer by layer",
    ]
    if not sections:
        parts.append(
            f"*{len(math.layers)} layers: each one's shape and count are in the table above, its "
            "equation in the layered form below.*"
        )
    else:
        parts += [
            layer_section(
                layer.derived,
                layer.number,
                h + "##",
                worked_markdown(drawn[0], layer.check, page.framework_name),
                layer.anchor,
                figure=drawn[1] if diagrams else "",
                framework=page.framework_name,
            )
            for layer in page.layers
            for drawn in [drawn_example(math, layer.derived)]
        ]
    if math.equation is not None:
        parts += [
            f"{h}# The whole network as one function",
            equation_section(math.equation, math).strip(),
        ]
    parts += [f"{h}# Checks", checks_list(page.checks)]
    parts.append(gradients_markdown(page.gradients, anchors=sections))
    return "\n\n".join(p for p in parts if p) + "\n"


def _summary(math: ModelMath) -> str:
    graph = math.graph
    inputs = ", ".join(f"`{t.name}` ${shape_text(t.shape)}$" for t in graph.inputs)
    outputs = ", ".join(f"`{t.name}` ${shape_text(t.shape)}$" for t in graph.outputs)
    trainable = math.trainable_params
    return (
        f"Input: {inputs}. Output: {outputs}.  \n"
        f"{len(math.layers)} layers, **{math.total_params:,}** parameters "
        f"({trainable:,} trainable, {math.total_params - trainable:,} non-trainable)."
    )


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", r"\|").replace("\n", " ")


def _short_code(code: str) -> str:
    if len(code) <= TABLE_CODE_CHARS:
        return f"`{_cell(code)}`"
    return f"`{_cell(code[: TABLE_CODE_CHARS - 1].rstrip())}…`"


def _io_shapes(layer: DerivedLayer, plain: bool = False) -> str:
    """`$30 \\times 30 \\times 32 \\to ...$`, or in plain text (`30×30×32 → ...`) where a
    page holds so many rows that MathJax should not have to typeset them."""
    record = layer.record
    if plain:
        shape_in = ", ".join(_plain_shape(s) for s in record.input_shapes) or "-"
        shape_out = ", ".join(_plain_shape(s) for s in record.output_shapes)
        if record.output_names:
            shape_out = "; ".join(
                f"{name}: {_plain_shape(s)}"
                for name, s in zip(record.output_names, record.output_shapes, strict=True)
            )
        return f"{shape_in} → {shape_out}"
    # Each shape in braces: a narrow column breaks the cell at the arrow or between shapes only,
    # never inside a shape (`8 \times 8` alone on a line).
    shape_in = r",\ ".join(f"{{{shape_text(s)}}}" for s in record.input_shapes) or "-"
    shape_out = r",\ ".join(f"{{{shape_text(s)}}}" for s in record.output_shapes)
    if record.output_names:  # several outputs, each named: "output: 256; state h: 256"
        shape_out = r";\ ".join(
            rf"\text{{{name}: }} {{{shape_text(s)}}}"
            for name, s in zip(record.output_names, record.output_shapes, strict=True)
        )
    return rf"${shape_in} \to {shape_out}$"


def _plain_shape(shape: tuple) -> str:
    """`shape_text` in plain text: `30×30×32`, `*` for an open length."""
    return shape_text(shape).replace(r" \times ", "×").replace(r"\ast", "*")


def architecture_table(math: ModelMath) -> str:
    """One row per layer: code, shapes, count formula with numbers, and the count.

    Layers are numbered from 1, as in `f = f_L \\circ \\dots \\circ f_1` and `W^{(l)}`.

    The layer's type is in its code line, and the trainable split is said only where some
    parameters are not trained, so the table stays narrow enough for a page. Repeated blocks
    (`generator.render.blocks`) show their first copy whole and the other copies as one row,
    with the whole table in a collapsed note under it (its shapes in plain text: MathJax
    need not typeset a hundred rows nobody opened).
    """
    runs = repeated_blocks(math.graph)
    if not runs:
        return _table(math)
    hidden = _indent(_table(math, plain=True))
    title = f"All {len(math.layers)} layers"
    return f'{_table(math, runs)}\n\n??? note {ALL_LAYERS} "{title}"\n\n{hidden}'


def _table(math: ModelMath, runs: tuple[Repeat, ...] = (), plain: bool = False) -> str:
    framework = math.graph.framework_name
    rows = [
        f"| # | Layer | {framework} code | Shape in → out | Parameters | Count |",
        "|--:|---|---|---|---|--:|",
    ]
    folded = {run.folded[0]: run for run in runs}
    skip = folded_calls(runs)
    for i, layer in enumerate(math.layers, start=1):
        if i - 1 in folded:
            rows.append(_folded_row(math, folded[i - 1]))
        if i - 1 in skip:
            continue
        record = layer.record
        formula = f"`{layer.params_formula}`" if layer.params_formula else f"({framework}'s count)"
        if layer.params.formula is not None and not layer.params.parts:
            formula = "none" if layer.params.total == 0 else formula
        rows.append(
            f"| {i} | `{record.name}` | {_short_code(record.code or record.type)} "
            f"| {_io_shapes(layer, plain)} | {formula} "
            f"| {_count(layer.params.total, record.framework_params - record.framework_trainable)}"
            + (f" (the weights of `{record.shares}`, counted there)" if record.shares else "")
            + " |"
        )
    fixed = math.total_params - math.trainable_params
    rows.append(f"| | **Total** | | | | **{_count(math.total_params, fixed)}** |")
    return "\n".join(rows)


def _folded_row(math: ModelMath, run: Repeat) -> str:
    """One row for the copies of a block after its first: what they repeat, and their count."""
    layers = math.layers
    first, last = run.first, run.folded
    copies = run.count - 1
    per_copy = [
        sum(layers[k].params.total for k in run.copy(c) if not layers[k].record.shares)
        for c in range(1, run.count)
    ]
    fixed = sum(
        layers[k].record.framework_params - layers[k].record.framework_trainable
        for k in last
        if not layers[k].record.shares
    )
    each = f"{per_copy[0]:,}" if len(set(per_copy)) == 1 else "–"
    shape_in = shape_text(layers[last[0]].record.input_shape)
    shape_out = shape_text(layers[last[-1]].record.output_shape)
    blocks = "block" if copies == 1 else "blocks"
    return (
        f"| {last[0] + 1}–{last[-1] + 1} | **{copies} more {blocks}** "
        f"(`{layers[last[0]].record.name}` … `{layers[last[-1]].record.name}`) "
        f"| like layers {first[0] + 1}–{first[-1] + 1}, {run.length} layers each "
        f"| ${shape_in} \\to {shape_out}$ | {copies} × {each} "
        f"| {_count(sum(per_copy), fixed)} |"
    )


def _count(total: int, non_trainable: int) -> str:
    """`896`, or `128 (64 non-trainable)` when training leaves some of them alone."""
    return f"{total:,}" + (f" ({non_trainable:,} non-trainable)" if non_trainable else "")


def _code_section(math: ModelMath, h: str) -> str:
    """The model's Keras code, and its PyTorch twin in a tab when that backend is present."""
    if math.graph.framework != "keras":  # read from PyTorch: its own modules, no translation
        code = "\n".join(layer.record.code or layer.record.type for layer in math.layers)
        return f"{h}# Code\n\n```python\n{code}\n```"
    block = f"```python\n{keras_code(math.graph)}\n```"
    torch_md = _torch_tab(math)
    if torch_md is None:
        return f"{h}# Code\n\n{block}"
    return f'{h}# Code\n\n=== "Keras"\n\n{_indent(block)}\n\n=== "PyTorch"\n\n{_indent(torch_md)}'


def _torch_tab(math: ModelMath) -> str | None:
    try:
        from generator.torch.writer import torch_tab_markdown
    except ImportError:
        return None
    try:
        text = torch_tab_markdown(math)
    except ImportError:
        return None
    return text.strip() if text else None


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line.strip() else "" for line in text.splitlines())


def display(latex: str) -> str:
    """A display-math block."""
    return f"$$\n{latex.strip()}\n$$"


def layer_section(
    layer: DerivedLayer,
    index: int,
    h: str,
    worked: str = "",
    anchor: str = "",
    figure: str = "",
    framework: str = "Keras",
) -> str:
    """One layer: its code line, shape derivation, parameter derivation, equation and worked
    example (`worked`, Markdown from `generator.render.worked`), then the worked example drawn
    (`figure`, HTML from `generator.render.diagrams.examples.drawn_example`).

    `anchor` is an id the diagrams link to, kept in the heading as an empty `<span>`: it
    survives where the heading's own id does not (a lesson page flattens the headings of the
    model pages it embeds; Jupyter names headings its own way).
    """
    record = layer.record
    target = f' <span id="{anchor}"></span>' if anchor else ""
    parts = [f"{h} {index}. `{record.name}` ({record.type}){target}"]
    if record.code:
        parts.append(f"```python\n{record.code}\n```")
    parts.append(f"**Shape** {_io_shapes(layer)}")
    if layer.shape is not None and layer.shape.steps:
        parts.append(display(layer.shape_latex))
    if layer.shape is not None and layer.shape.note:
        parts.append(f"*{layer.shape.note}*")
    parts.append(_params_text(layer, framework))
    if layer.equation_latex:
        parts += ["**Equation**", display(layer.equation_latex)]
    if worked:
        parts.append(worked)
    if figure:
        parts.append(figure)
    if layer.note:
        parts.append(f"!!! note\n    {layer.note}")
    if layer.children is not None:
        children = layer.children
        parts.append(f"Nested model `{children.graph.name}`:")
        parts.append(architecture_table(children))
    return "\n\n".join(parts)


def layer_anchors(math: ModelMath, title: str) -> dict[str, str]:
    """Each layer's section link on the page, by layer name, for the diagrams."""
    return {layer.name: f"#{layer.anchor}" for layer in page_model(math, title).layers}


def _params_text(layer: DerivedLayer, framework: str = "Keras") -> str:
    params = layer.params
    if params.formula is None:
        return f"**Parameters** {params.total:,} (counted by {framework})"
    if params.total == 0 and not params.parts:
        return "**Parameters** none"
    split = ""
    if params.parts:
        split = f" ({params.trainable:,} trainable, {params.non_trainable:,} non-trainable)"
    return f"**Parameters**{split}\n\n{display(layer.params_latex)}"


def checks_list(checks: Sequence[Check]) -> str:
    """Every check with its outcome: `passed` or `FAILED`, and what was compared (a page's
    `ModelPage.checks`: the gradients' among them, said once)."""
    if not checks:
        return "No checks were run."
    lines = []
    for check in checks:
        mark = "passed" if check.passed else "**FAILED**"
        lines.append(f"- {check.name}: {mark} ({check.detail})")
    return "\n".join(lines)
