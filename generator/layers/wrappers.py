"""Wrappers: Bidirectional runs a recurrent layer both ways; TimeDistributed maps a layer over time.

A wrapper's inner layer lives only in its attrs (`attrs["layer"]`, serialized). Its math comes
from the inner layer's own handler, run on a `LayerRecord` rebuilt here from that attrs, the
shapes the inner layer sees and the wrapper's weights under the inner layer's name.
"""

from __future__ import annotations

from dataclasses import replace

from generator.layers.common import aligned
from generator.layers.formula import Mul, Num
from generator.layers.recurrent_system import UncheckedEquation
from generator.layers.registry import (
    LayerEquation,
    LayerHandler,
    MultiShapeMath,
    ParamMath,
    ParamPart,
    ShapeMath,
    handler_for,
    register,
)
from generator.layers.wrapped import BidirectionalEquation, TimeDistributedEquation
from generator.model.graph import LayerRecord, Shape


def inner_record(
    layer: LayerRecord, key: str, input_shape: Shape, output_shapes: tuple[Shape, ...] = ()
) -> LayerRecord:
    """The wrapped layer `attrs[key]` with its weights, seeing `input_shape`.

    `output_shapes` is what the framework says the inner layer returns, where the wrapper tells;
    the inner layer's handler replaces it with its own derivation.
    """
    inner: LayerRecord = layer.attrs[key]
    prefix = inner.name + "/"
    weights = tuple(
        replace(w, name=w.name[len(prefix) :]) for w in layer.weights if w.name.startswith(prefix)
    )
    if not any(w.name.startswith(prefix) for w in layer.weights):
        weights = layer.weights  # a loaded one-layer wrapper names them without the prefix
    record = replace(
        inner,
        input_shapes=(input_shape,),
        output_shapes=output_shapes,
        inbound=layer.inbound,
        weights=weights,
        framework_params=sum(w.size for w in weights),
        framework_trainable=sum(w.size for w in weights if w.trainable),
    )
    handler = handler_for(record.type)
    if handler is None:
        return record
    return replace(record, output_shapes=tuple(handler.output_shape(record).shapes))


def _equation_lines(equation: str) -> list[str]:
    """An equation's lines, unwrapped from `aligned` when it has several (with `&` kept)."""
    begin, end = r"\begin{aligned} ", r" \end{aligned}"
    if equation.startswith(begin) and equation.endswith(end):
        return equation[len(begin) : -len(end)].split(r" \\ ")
    return ["&" + equation]


def _unknown(layer: LayerRecord) -> ParamMath:
    return ParamMath(formula=None, count=layer.framework_params)


def _same_layer(a: LayerRecord, b: LayerRecord) -> bool:
    """Whether two inner layers are the same apart from name and direction."""
    ignore = {"go_backwards"}
    return a.type == b.type and {k: v for k, v in a.attrs.items() if k not in ignore} == {
        k: v for k, v in b.attrs.items() if k not in ignore
    }


def _prefixed(parts: tuple[ParamPart, ...], word: str) -> list[ParamPart]:
    return [replace(p, name=f"{word} {p.name}") for p in parts]


class _Wrapper(LayerHandler):
    def inner_equation(self, record: LayerRecord) -> LayerEquation | None:
        handler = handler_for(record.type)
        equation = None if handler is None else handler.equation(record)
        return equation if isinstance(equation, LayerEquation) else None

    def equation_of(self, record: LayerRecord) -> str:
        """The inner layer's LaTeX (its type's name when it has no equation)."""
        handler = handler_for(record.type)
        equation = None if handler is None else handler.equation(record)
        if equation is None:
            return rf"\text{{{record.type}}}"
        return equation.latex() if isinstance(equation, LayerEquation) else str(equation)


@register("Bidirectional")
class BidirectionalHandler(_Wrapper):
    summary = "bidirectional: one recurrent layer forward, one backward, outputs merged"

    def passes(self, layer: LayerRecord) -> tuple[LayerRecord, LayerRecord]:
        forward = inner_record(layer, "layer", layer.input_shape)
        key = "backward_layer" if "backward_layer" in layer.attrs else "layer"
        backward = inner_record(layer, key, layer.input_shape)
        return forward, backward

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        forward, backward = self.passes(layer)
        if not forward.output_shapes or not backward.output_shapes:
            return ShapeMath(shape=layer.output_shape, note="inner layer has no handler")
        out, states = forward.output_shapes[0], forward.output_shapes[1:]
        mode = layer.attrs.get("merge_mode", "concat")
        if mode == "concat":
            outs: tuple[Shape, ...] = ((*out[:-1], out[-1] + backward.output_shapes[0][-1]),)
        elif mode is None:
            outs = (out, backward.output_shapes[0])
        else:
            outs = (out,)
        shapes = outs + states + backward.output_shapes[1:]
        if len(shapes) == 1:
            return ShapeMath(shape=shapes[0])
        return MultiShapeMath(shape=shapes[0], all_shapes=shapes)

    def params(self, layer: LayerRecord) -> ParamMath:
        forward, backward = self.passes(layer)
        fh, bh = handler_for(forward.type), handler_for(backward.type)
        if fh is None or bh is None:
            return _unknown(layer)
        fp, bp = fh.params(forward), bh.params(backward)
        parts = (*_prefixed(fp.parts, "forward"), *_prefixed(bp.parts, "backward"))
        if _same_layer(
            layer.attrs["layer"], layer.attrs.get("backward_layer", layer.attrs["layer"])
        ):
            formula = Mul((Num(2), fp.formula))
        else:
            formula = fp.formula + bp.formula
        return ParamMath(formula=formula, parts=parts)

    def equation(self, layer: LayerRecord) -> LayerEquation:
        forward, backward = self.passes(layer)
        text = self.latex(layer)
        passes = (self.inner_equation(forward), self.inner_equation(backward))
        if None in passes:
            return UncheckedEquation(text)
        return BidirectionalEquation(
            text,
            passes[0],
            passes[1],
            forward.name,
            backward.name,
            layer.attrs.get("merge_mode", "concat"),
        )

    def latex(self, layer: LayerRecord) -> str:
        forward, backward = self.passes(layer)
        sequences = forward.attrs.get("return_sequences", False)
        steps = layer.input_shape[1]
        last = "T - 1" if steps is None else str(steps - 1)
        lines = [r"&\text{forward pass, } \overrightarrow{h}_t = h_t:"]
        lines += [
            line for line in _equation_lines(self.equation_of(forward)) if not _is_output(line)
        ]
        if _same_layer(
            layer.attrs["layer"], layer.attrs.get("backward_layer", layer.attrs["layer"])
        ):
            lines.append(
                r"&\text{backward pass: the same equations with their own weights, "
                rf"from }} t = {last} \text{{ down to }} 0, \text{{ giving }} "
                r"\overleftarrow{h}_t"
            )
        else:
            lines.append(r"&\text{backward pass, } \overleftarrow{h}_t = h_t:")
            lines += [
                line for line in _equation_lines(self.equation_of(backward)) if not _is_output(line)
            ]
        fw = r"\overrightarrow{h}_t" if sequences else rf"\overrightarrow{{h}}_{{{last}}}"
        bw = r"\overleftarrow{h}_t" if sequences else r"\overleftarrow{h}_0"
        lhs = "a_t" if sequences else "a"
        merge = {
            "concat": rf"\left[{fw};\ {bw}\right]",
            "sum": f"{fw} + {bw}",
            "mul": rf"{fw} \odot {bw}",
            "ave": rf"\tfrac{{1}}{{2}}\left({fw} + {bw}\right)",
        }
        mode = layer.attrs.get("merge_mode", "concat")
        if mode in merge:
            line = f"{lhs} &= {merge[mode]}"
        else:
            line = rf"{lhs} &= \left({fw},\ {bw}\right) \quad \text{{(not merged)}}"
        if forward.attrs.get("return_state"):
            line += r", \quad \text{then the final states of each pass}"
        lines.append(line)
        return aligned(lines)


@register("TimeDistributed")
class TimeDistributedHandler(_Wrapper):
    summary = "time-distributed: the same inner layer applied at every time step"

    def inner(self, layer: LayerRecord) -> LayerRecord:
        shape = layer.input_shape
        keras_out = tuple((s[0], *s[2:]) for s in layer.output_shapes)
        return inner_record(layer, "layer", (shape[0], *shape[2:]), keras_out)

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        inner = self.inner(layer)
        handler = handler_for(inner.type)
        if handler is None:
            return ShapeMath(shape=layer.output_shape, note="inner layer has no handler")
        math = handler.output_shape(inner)
        steps = layer.input_shape[1]
        shapes = tuple((s[0], steps, *s[1:]) for s in math.shapes)
        if len(shapes) > 1:
            return MultiShapeMath(shape=shapes[0], all_shapes=shapes, steps=math.steps)
        return ShapeMath(shape=shapes[0], steps=math.steps, note=math.note)

    def params(self, layer: LayerRecord) -> ParamMath:
        inner = self.inner(layer)
        handler = handler_for(inner.type)
        return _unknown(layer) if handler is None else handler.params(inner)

    def equation(self, layer: LayerRecord) -> LayerEquation:
        record = self.inner(layer)
        text = self.latex(layer)
        inner = self.inner_equation(record)
        return (
            UncheckedEquation(text)
            if inner is None
            else TimeDistributedEquation(text, inner, record.name)
        )

    def latex(self, layer: LayerRecord) -> str:
        steps = layer.input_shape[1]
        last = "T - 1" if steps is None else str(steps - 1)
        lines = [
            rf"a_t &= g\left(x_t\right), \quad t = 0, \dots, {last}, "
            r"\quad \text{the same } g \text{ (same weights) at every step:}"
        ]
        lines += _equation_lines(self.equation_of(self.inner(layer)))
        return aligned(lines)


def _is_output(line: str) -> bool:
    """The inner layer's output line (`a_t &= h_t`), which the merged output replaces."""
    return line.startswith(("a &=", "a_t &="))
