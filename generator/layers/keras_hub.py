"""keras-hub's building blocks: its embeddings (reversible, learned positions).

Its transformer blocks (`TransformerEncoder`, `TransformerDecoder`) and
`TokenAndPositionEmbedding` need no handler of their own: their weights all belong to
sub-layers, and the Keras frontend traces them into nested graphs
(`generator.model.keras_trace`). These handlers read only the IR, so they load without keras-hub.
"""

from __future__ import annotations

import numpy as np

from generator.layers.attention import MultiHeadAttentionHandler
from generator.layers.einsum import NumpyEquation
from generator.layers.embedding import EmbeddingHandler
from generator.layers.formula import Sym
from generator.layers.normalization import RMSNormalizationHandler
from generator.layers.registry import (
    LayerHandler,
    ParamMath,
    ParamPart,
    ShapeMath,
    params_from_parts,
    register,
)
from generator.layers.tensor_equation import TensorEquation, hidden_indices
from generator.layers.tensor_expr import Idx, Read, at, number
from generator.model.graph import LayerRecord


@register("ReversibleEmbedding")
class ReversibleEmbeddingHandler(EmbeddingHandler):
    summary = "reversible embedding: a row lookup in a V x d table (its transpose maps back)"
    frameworks = ("keras",)

    def params(self, layer: LayerRecord) -> ParamMath:
        vocab = Sym("V", layer.attrs["input_dim"])
        dim = Sym("n_{out}", layer.attrs["output_dim"])
        if layer.attrs.get("tie_weights", True):
            return params_from_parts(ParamPart("E", vocab * dim))
        # Untied: a second d x V table for the reverse (logits) direction.
        return params_from_parts(ParamPart("E", vocab * dim), ParamPart("E'", dim * vocab))


@register("PositionEmbedding")
class PositionEmbeddingHandler(LayerHandler):
    summary = "learned position embedding: row t of a T x d table, for each position t"
    frameworks = ("keras",)

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        return ShapeMath(shape=layer.input_shape, note="one row per position of the input")

    def params(self, layer: LayerRecord) -> ParamMath:
        length = Sym("T_{max}", layer.attrs["sequence_length"])
        dim = Sym("d", layer.input_shape[-1])
        return params_from_parts(ParamPart("P", length * dim))

    def equation(self, layer: LayerRecord) -> TensorEquation:
        shape = layer.input_shape
        lead = hidden_indices(shape[:-2])  # the batch's other axes: the same rows for each
        t, j = Idx("t", shape[-2]), Idx("j", shape[-1])
        rows = Read("P", ("weight", "embeddings"), (at(t), at(j)), batched=False)
        return TensorEquation(
            (*lead, t, j), rows, note=r" \quad (\text{the input's values are not read})"
        )


@register("MistralLayerNormalization", "LlamaLayerNorm")
class HubRMSNormalizationHandler(RMSNormalizationHandler):
    """keras-hub's RMS norms over the last axis (Mistral's, Llama's): `epsilon` and a `scale`
    of one entry per channel, as Keras's `RMSNormalization`."""

    summary = "RMS normalization over the channels (keras-hub's), then scaled"
    frameworks = ("keras",)


@register("CachedMultiHeadAttention")
class CachedMultiHeadAttentionHandler(MultiHeadAttentionHandler):
    """keras-hub's `MultiHeadAttention` with a key/value cache for generation: without a cache
    (a forward pass over the whole sequence) it is Keras's layer, configured alike."""

    frameworks = ("keras",)


def _rotary(x: np.ndarray, wavelength: float, scale: float, seq_axis: int, feat_axis: int):
    """keras-hub's rotary embedding of `x` (batch first) at positions 0, 1, ...: feature j turns
    by the angle `t theta_{j mod d/2}`, read with the half-rotated input `(-x_2, x_1)`."""
    x = np.moveaxis(x, (feat_axis, seq_axis), (-1, 1))
    dim, length = x.shape[-1], x.shape[1]
    inverse = wavelength ** -(np.arange(0, dim, 2) / dim) / scale
    angles = np.tile(np.outer(np.arange(length), inverse), 2)  # (t, j): theta_{j mod d/2}
    angles = angles.reshape((1, length) + (1,) * (x.ndim - 3) + (dim,))
    half = np.concatenate([-x[..., dim // 2 :], x[..., : dim // 2]], axis=-1)
    out = x * np.cos(angles) + half * np.sin(angles)
    return np.moveaxis(out, (-1, 1), (feat_axis, seq_axis))


@register("RotaryEmbedding")
class RotaryEmbeddingHandler(LayerHandler):
    summary = "rotary position embedding: pairs of features turned by an angle growing with t"
    frameworks = ("keras",)

    def equation(self, layer: LayerRecord) -> NumpyEquation:
        attrs = layer.attrs
        if attrs.get("rope_type", "linear") != "linear" or attrs.get("denominator_dim"):
            raise NotImplementedError("a rotary embedding other than keras-hub's linear one")
        wavelength = float(attrs.get("max_wavelength", 10000))
        scale = float(attrs.get("scaling_factor", 1.0))
        seq, feat = int(attrs.get("sequence_axis", 1)), int(attrs.get("feature_axis", -1))
        text = (
            r"a_{t,j} = x_{t,j} \cos(t\,\theta_{j \bmod d/2}) + \tilde{x}_{t,j} "
            r"\sin(t\,\theta_{j \bmod d/2}), \quad \theta_k = "
            + (
                rf"\frac{{{number(wavelength)}^{{-2k/d}}}}{{{number(scale)}}}"
                if scale != 1
                else rf"{number(wavelength)}^{{-2k/d}}"
            )
            + r", \quad \tilde{x} = (-x_{d/2..d-1},\ x_{0..d/2-1})"
        )

        def evaluate(arrays, weights):
            return _rotary(arrays[0], wavelength, scale, seq, feat)

        return NumpyEquation(text, evaluate)
