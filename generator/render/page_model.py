"""The page model: what every renderer shows of a model, built once from its math.

Markdown, LaTeX and JSON all read their layers from `page_model(math)`, so they number the
layers alike (from 1, as in `f = f_L \\circ \\dots \\circ f_1` and `W^{(l)}`) and agree on names,
shapes, counts and formulas.
"""

from __future__ import annotations

from dataclasses import dataclass

from markdown.extensions.toc import slugify

from generator.equation.analyze import ModelMath
from generator.equation.layer_checks import CheckedExample, LayerCheck
from generator.layers.derive import Check, DerivedLayer
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
    checks: tuple[Check, ...]
    math: ModelMath


def layer_id(title: str, number: int) -> str:
    """The id of a layer's section: `layer-simple-cnn-3` (unique on a lesson page too)."""
    return f"layer-{slugify(title, '-')}-{number}"


def page_model(math: ModelMath, title: str | None = None) -> ModelPage:
    """The page of `math`, its title `title` (the model's own name by default)."""
    graph = math.graph
    name = title or graph.name
    checks = getattr(math, "layer_checks", {})
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
            check=checks.get(layer.record.name),
            worked=worked.get(layer.record.name),
            derived=layer,
        )
        for number, layer in enumerate(math.layers, start=1)
    )
    return ModelPage(
        title=name,
        name=graph.name,
        framework=graph.framework,
        framework_name=graph.framework_name,
        total_params=math.total_params,
        trainable_params=math.trainable_params,
        layers=layers,
        checks=tuple(math.checks),
        math=math,
    )
