"""Preprocessing layers that change a tensor's form: token ids as counts (CategoryEncoding) and
images resized (Resizing)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from generator.layers.common import spatial_axes
from generator.layers.recurrent_system import UncheckedEquation
from generator.layers.registry import LayerHandler, ShapeMath, register
from generator.layers.reshaping import InterpolationWeight
from generator.layers.tensor_equation import TensorEquation
from generator.layers.tensor_expr import Affine, Context, Expr, Idx, Prod, Read, Reduce, at
from generator.layers.tensor_ops import IndexValue, Indicator, axis_indices
from generator.model.graph import LayerRecord

#: How each output mode of CategoryEncoding combines the indicators `[x_t = k]` of a row.
_ENCODINGS = {"one_hot": "", "multi_hot": "max", "count": "sum"}


@register("CategoryEncoding")
class CategoryEncodingHandler(LayerHandler):
    summary = "category encoding: token ids as one-hot, multi-hot or count vectors"

    def _squeezed(self, layer: LayerRecord) -> bool:
        """One-hot of a column of ids `(batch, 1)` drops the column's axis, as Keras does."""
        shape = layer.input_shape
        return len(shape) >= 2 and shape[-1] == 1

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        shape, tokens = layer.input_shape, int(layer.attrs["num_tokens"])
        if layer.attrs.get("output_mode", "multi_hot") == "one_hot" and not self._squeezed(layer):
            return ShapeMath(shape=(*shape, tokens))
        # multi-hot and count encode the last axis (a batch of single ids: the batch itself)
        return ShapeMath(shape=(*shape[:-1], tokens))

    def equation(self, layer: LayerRecord) -> TensorEquation | UncheckedEquation:
        mode, tokens = layer.attrs.get("output_mode", "multi_hot"), int(layer.attrs["num_tokens"])
        shape = layer.input_shape
        k = Idx("k", tokens)
        if mode not in _ENCODINGS or len(layer.input_shapes) > 1 or layer.attrs.get("sparse"):
            text = rf"a_k = \mathrm{{{mode.replace('_', ' ')}}}(x)_k"
            return UncheckedEquation(text + r" \quad (\text{not evaluated})")
        if mode != "one_hot" and len(shape) != 2:
            # A batch of single ids is encoded as one row; above rank 2 Keras's values do not
            # have its own output shape (it counts along axis -2): neither is evaluated.
            why = "over the batch" if len(shape) < 2 else "ids of rank above 2"
            text = rf"a_k = \textstyle\sum_t [x_t = k] \quad (\text{{{why}; not evaluated}})"
            return UncheckedEquation(text)
        x_index = list(axis_indices(shape))
        note = r" \quad (\text{token ids } 0 \le x < " + f"{tokens})"
        if mode == "one_hot":
            maps = [at(i) for i in x_index]
            if self._squeezed(layer):  # the column's one id: read at 0, no axis of the output
                maps[-1], x_index = Affine(()), x_index[:-1]
            x = Read("x", ("input", 0), tuple(maps))
            return TensorEquation((*x_index, k), Indicator(x, IndexValue(k)), note=note)
        t = Idx("t", shape[-1])
        x = Read("x", ("input", 0), tuple(at(i) for i in (*x_index[:-1], t)))
        body = Reduce(_ENCODINGS[mode], (t,), Indicator(x, IndexValue(k)), "sigma")
        return TensorEquation((*x_index[:-1], k), body, note=note)


# --- resizing ---------------------------------------------------------------------------------


def nearest_source(out: np.ndarray, n_in: int, n_out: int) -> np.ndarray:
    """The input row `tf.image.resize` reads for output row `out` (half-pixel centres):
    `min(floor((i + 1/2) n_in / n_out), n_in - 1)`, in float32 as TensorFlow computes it."""
    scale = np.float32(n_in) / np.float32(n_out)
    rows = np.floor((np.asarray(out).astype(np.float32) + np.float32(0.5)) * scale)
    return np.minimum(rows.astype(np.int64), n_in - 1)


@dataclass(frozen=True)
class NearestWeight(Expr):
    """`[u = \\nu_i]`: 1 where input row `u` is the one output row `i` copies, else 0."""

    out: Idx
    source: Idx
    size: int
    symbol: str

    def latex(self) -> str:
        return rf"[{self.source.name} = {self.symbol}_{self.out.name}]"

    def values(self, ctx: Context, env: Mapping[str, np.ndarray]) -> np.ndarray:
        rows = nearest_source(env[self.out.name], self.size, self.out.size)
        return (rows == env[self.source.name]).astype(np.float64)


#: The interpolations whose rule the equation writes (others are printed, not evaluated).
_INTERPOLATIONS = ("nearest", "bilinear")


@register("Resizing")
class ResizingHandler(LayerHandler):
    summary = "resizing: an image to a new height and width, by nearest or bilinear sampling"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        out = list(layer.input_shape)
        ah, aw = spatial_axes(layer, 2)
        out[ah], out[aw] = int(layer.attrs["height"]), int(layer.attrs["width"])
        return ShapeMath(shape=tuple(out))

    def equation(self, layer: LayerRecord) -> TensorEquation | UncheckedEquation:
        mode = layer.attrs.get("interpolation", "bilinear")
        ah, aw = spatial_axes(layer, 2)
        n_h, n_w = layer.input_shape[ah], layer.input_shape[aw]
        h, w = int(layer.attrs["height"]), int(layer.attrs["width"])
        reshaped = layer.attrs.get("crop_to_aspect_ratio") or layer.attrs.get("pad_to_aspect_ratio")
        if mode not in _INTERPOLATIONS or reshaped or n_h is None or n_w is None:
            why = "cropped or padded to the aspect ratio" if reshaped else f"{mode} interpolation"
            text = rf"a = \mathrm{{resize}}_{{{h} \times {w}}}(x)"
            return UncheckedEquation(text + rf" \quad (\text{{{why}; not evaluated}})")
        index = [Idx("c", d) for d in self.output_shape(layer).shape[1:]]
        i, j = Idx("i", h), Idx("j", w)
        index[ah - 1], index[aw - 1] = i, j
        u, v = Idx("u", n_h), Idx("v", n_w)
        maps = [at(idx) for idx in index]
        maps[ah - 1], maps[aw - 1] = at(u), at(v)
        x = Read("x", ("input", 0), tuple(maps))
        if mode == "nearest":
            weights = (NearestWeight(i, u, n_h, r"\nu"), NearestWeight(j, v, n_w, r"\mu"))
            note = (
                rf", \quad \nu_i = \min(\lfloor (i + 1/2)\, {n_h}/{h} \rfloor, {n_h - 1}),\ "
                rf"\mu_j = \min(\lfloor (j + 1/2)\, {n_w}/{w} \rfloor, {n_w - 1})"
            )
        else:
            weights = (
                InterpolationWeight(i, u, h / n_h, n_h, r"\xi"),
                InterpolationWeight(j, v, w / n_w, n_w, r"\eta"),
            )
            note = (
                rf", \quad \xi_i = (i + 1/2)\, {n_h}/{h} - 1/2,\ "
                rf"\eta_j = (j + 1/2)\, {n_w}/{w} - 1/2 \quad "
                r"(\text{clamped to the input's edges})"
            )
        return TensorEquation(tuple(index), Reduce("sum", (u, v), Prod((*weights, x))), note=note)
