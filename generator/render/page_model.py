"""The page model: what every renderer shows of a model, built once from its math.

Markdown, LaTeX and JSON all read their layers from `page_model(math)`, so they number the
layers alike (from 1, as in `f = f_L \\circ \\dots \\circ f_1` and `W^{(l)}`) and agree on names,
shapes, counts and formulas. The gradients (`PageGradients`) are page data too: each backward
equation belongs to a page layer and carries its number and anchor, and what two backends both
print (the aligned chain rule, the worked line, the closed form) is written here once.
"""

from __future__ import annotations

from dataclasses import dataclass

from markdown.extensions.toc import slugify

from generator.equation.analyze import ModelMath
from generator.equation.gradient_report import ClosedFormReport, GradientReport, WorkedGradient
from generator.equation.gradients import GradientStep
from generator.equation.layer_checks import CheckedExample, LayerCheck
from generator.exceptions import CourseError
from generator.layers.derive import Check, DerivedLayer
from generator.layers.nested import text_name
from generator.model.graph import Shape


@dataclass(frozen=True)
class PageLayer:
    """One layer as the pages show it."""

    number: int  # from 1
    name: str
    type: str
    anchor: str  # the id of its section on the Markdown page: `layer-simple-cnn-3`
    input_shapes: tuple[Shape, ...]
    output_shapes: tuple[Shape, ...]
    output_names: tuple[str, ...]
    params: int
    params_formula: str | None  # plain arithmetic, `(3*3*3 + 1)*8`; None: the framework's count
    params_latex: str
    shape_latex: str
    equation_latex: str | None
    check: LayerCheck | None  # its equation against the framework, where one was made
    worked: CheckedExample | None  # its worked example, where one was made
    derived: DerivedLayer  # the rest (shape steps, notes, nested models) for the renderers

    @property
    def title(self) -> str:
        """`3. conv (Conv2D)`: how every format heads the layer."""
        return f"{self.number}. {self.name} ({self.type})"


@dataclass(frozen=True)
class ModelPage:
    """A model's page as data: its title, summary figures, layers, equation and checks."""

    title: str
    name: str
    framework: str  # "keras" or "torch"
    framework_name: str  # "Keras" or "PyTorch", as the pages name it
    total_params: int
    trainable_params: int
    layers: tuple[PageLayer, ...]
    checks: tuple[Check, ...]  # every check once, the gradients' among them
    math: ModelMath
    gradients: PageGradients | None = None  # None: none were computed


@dataclass(frozen=True)
class PageBackward:
    """One layer's backward equation on the page, and how its gradients compared with
    `tf.GradientTape` (`compared`: `("output", difference)`, then each weight's)."""

    layer: PageLayer
    lines: tuple[str, ...]  # one LaTeX line per stage; none: no equation is known for its type
    compared: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class PageGradients:
    """A page's gradients: the loss, the chain rule, each layer's backward equation, one weight
    worked out, an MLP's closed form and the checks; or only why there are none (`omitted`).

    `chain_rule` holds the chain rule's rows, each aligned at its first `=` (`&=`) with what it
    says as LaTeX text (`\\text{}` beside it in Markdown, a tag in LaTeX, which moves under the
    row where it does not fit); `closed_form_latex` is the rows of an `aligned` (or `align*`)
    block; `worked_latex` is one display line.
    """

    omitted: str = ""
    loss: str = ""
    loss_latex: str = ""
    loss_gradient_latex: str = ""
    value: float = 0.0
    steps: tuple[GradientStep, ...] = ()
    chain_rule: tuple[tuple[str, str], ...] = ()
    backward: tuple[PageBackward, ...] = ()
    inputs_compared: tuple[tuple[str, float], ...] = ()  # the model inputs' `dL/dx`
    differences: tuple[tuple[str, float], ...] = ()  # every compared gradient, by its key
    worked: WorkedGradient | None = None
    worked_layer: PageLayer | None = None
    worked_latex: str = ""
    closed_form: ClosedFormReport | None = None
    closed_form_latex: str = ""
    checks: tuple[Check, ...] = ()

    @property
    def convolution(self) -> bool:
        """Whether a convolution's input gradient (a transposed convolution) is on the page."""
        return any(b.layer.type.startswith("Conv") for b in self.backward)


def short_number(value: float) -> str:
    """A figure as the gradients show it: four significant digits."""
    return f"{value:.4g}"


def worked_latex_line(worked: WorkedGradient, number: int, source: str = "x") -> str:
    """`dL/dW_{j,i} = sum_n delta_{n,j} a_{n,i} = (d)(a) + ... = value`, or the value alone;
    `number` is the worked layer's on the page, `source` the symbol of what it reads
    (`a^{(4)}`, `x`)."""
    sub = ",".join(str(k) for k in worked.index)
    lhs = rf"\frac{{\partial \mathcal L}}{{\partial {worked.symbol}^{{({number})}}_{{{sub}}}}}"
    if not worked.terms:
        return f"{lhs} = {short_number(worked.ours)}"
    j, i = worked.index
    shown = worked.terms[:4]
    products = " + ".join(rf"({short_number(d)})({short_number(a)})" for d, a in shown)
    if len(worked.terms) > len(shown):
        products += r" + \dots"
    return (
        rf"{lhs} = \sum_n \delta^{{({number})}}_{{n,{j}}}\, {source}_{{n,{i}}} = "
        rf"{products} = {short_number(worked.ours)}"
    )


def _row(line: str) -> str:
    """`lhs = rhs` as a row of an `aligned` block, aligned at its first `=`."""
    return line.replace(" = ", " &= ", 1)


def _source(layer: PageLayer, layers: dict[str, PageLayer], inputs: tuple[str, ...]) -> str:
    """The symbol of what `layer` reads: `a^{(k)}`, numbered as on the page, or a model input."""
    call = layer.derived.record.inbound_calls[0]
    if call in layers:
        return f"a^{{({layers[call].number})}}"
    return "x" if len(inputs) == 1 or call not in inputs else f"x^{{[{inputs.index(call) + 1}]}}"


def _page_layer(layers: dict[str, PageLayer], name: str, number: int, title: str) -> PageLayer:
    """The page's layer `name`; the report's `number` for it must be the page's."""
    layer = layers.get(name)
    if layer is None:
        raise CourseError(f"model {title!r}: the gradients name layer {name!r}, not on its page")
    if layer.number != number:
        raise CourseError(
            f"model {title!r}: layer {name!r} is number {number} in its gradients, "
            f"{layer.number} on its page"
        )
    return layer


def page_gradients(
    report: GradientReport,
    layers: tuple[PageLayer, ...],
    title: str = "",
    inputs: tuple[str, ...] = (),
) -> PageGradients:
    """The page's gradients from `report`, each backward equation attached to its page layer
    (`layers`, of the page `title`, whose model reads `inputs`).

    Raises:
        CourseError: the report names a layer the page does not have, or numbers it otherwise
            (its chain rule would then speak of other layers than the page).
    """
    if report.omitted:
        return PageGradients(omitted=report.omitted)
    by_name = {layer.name: layer for layer in layers}
    differences = dict(report.checks)
    claimed: set[str] = set()
    backward = []
    for equation in report.layers:
        layer = _page_layer(by_name, equation.name, equation.number, title)
        # Its output's dL/da, then its weights' dL/dW in the layer's order.
        keys = [layer.name, *(f"{layer.name}/{w.name}" for w in layer.derived.record.weights)]
        compared = tuple(
            ("output" if k == layer.name else k.removeprefix(layer.name + "/"), differences[k])
            for k in keys
            if k in differences
        )
        claimed.update(k for k in keys if k in differences)
        backward.append(PageBackward(layer, equation.lines, compared))
    worked = report.worked
    worked_layer = None
    if worked is not None:
        worked_layer = _page_layer(by_name, worked.layer, worked.number, title)
    form = report.closed_form
    return PageGradients(
        loss=report.loss,
        loss_latex=report.loss_latex,
        loss_gradient_latex=report.loss_gradient_latex,
        value=report.value,
        steps=report.steps,
        chain_rule=tuple((_row(step.latex), text_name(step.text)) for step in report.steps),
        backward=tuple(backward),
        inputs_compared=tuple((k, d) for k, d in report.checks if k not in claimed),
        differences=report.checks,
        worked=worked,
        worked_layer=worked_layer,
        worked_latex=""
        if worked is None or worked_layer is None
        else worked_latex_line(worked, worked_layer.number, _source(worked_layer, by_name, inputs)),
        closed_form=form,
        closed_form_latex=""
        if form is None
        else " \\\\\n".join(_row(line) for line in (*form.forward, *form.gradients)),
        checks=report.all_checks(),
    )


def layer_id(title: str, number: int) -> str:
    """The id of a layer's section: `layer-simple-cnn-3` (unique on a lesson page too)."""
    return f"layer-{slugify(title, '-')}-{number}"


def page_model(math: ModelMath, title: str | None = None) -> ModelPage:
    """The page of `math`, its title `title` (the model's own name by default)."""
    graph = math.graph
    name = title or graph.name
    report: GradientReport | None = getattr(math, "gradients", None)
    layer_checks = getattr(math, "layer_checks", {})
    worked = getattr(math, "worked", {})
    layers = tuple(
        PageLayer(
            number=number,
            name=layer.record.name,
            type=layer.record.type,
            anchor=layer_id(name, number),
            input_shapes=tuple(layer.record.input_shapes),
            output_shapes=tuple(layer.record.output_shapes),
            output_names=tuple(layer.record.output_names),
            params=layer.params.total,
            params_formula=layer.params_formula,
            params_latex=layer.params_latex,
            shape_latex=layer.shape_latex,
            equation_latex=layer.equation_latex,
            check=layer_checks.get(layer.record.name),
            worked=worked.get(layer.record.name),
            derived=layer,
        )
        for number, layer in enumerate(math.layers, start=1)
    )
    gradients = (
        None
        if report is None
        else page_gradients(report, layers, name, tuple(str(t.name) for t in graph.inputs))
    )
    checks = tuple(math.checks)
    if gradients is not None:  # `with_gradients` adds them to the model's; said once either way
        checks += tuple(c for c in gradients.checks if c not in checks)
    return ModelPage(
        title=name,
        name=graph.name,
        framework=graph.framework,
        framework_name=graph.framework_name,
        total_params=math.total_params,
        trainable_params=math.trainable_params,
        layers=layers,
        checks=checks,
        math=math,
        gradients=gradients,
    )
