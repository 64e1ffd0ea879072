"""keras-hub's ViT patching: an image cut into patches, each embedded, a class token, positions.

`ViTPatchingAndEmbedding` holds a weight of its own (the class token) besides its sub-layers
(a strided `Conv2D` and an `Embedding` of positions), so it is not traced: this handler
describes it whole. It reads only the IR, so it loads without keras-hub.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from generator.layers.formula import Sym, total
from generator.layers.registry import (
    LayerHandler,
    ParamMath,
    ParamPart,
    SampledPositions,
    ShapeMath,
    at_positions,
    register,
)
from generator.model.graph import LayerRecord


def _weight(weights: Mapping[str, np.ndarray], name: str) -> np.ndarray | None:
    for key, value in weights.items():
        if key == name or key.endswith("/" + name):
            return np.asarray(value, dtype=np.float64)
    return None


@register("ViTPatchingAndEmbedding")
class ViTPatchingHandler(LayerHandler):
    summary = (
        "ViT patching: each p x p patch mapped to d numbers, a class token first, plus positions"
    )
    frameworks = ("keras",)

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        attrs = layer.attrs
        (h, w), (ph, pw) = attrs["image_size"], attrs["patch_size"]
        tokens = (h // ph) * (w // pw) + (1 if attrs.get("use_class_token", True) else 0)
        note = f"({h}/{ph}) x ({w}/{pw}) patches" + (", after one class token" if tokens else "")
        return ShapeMath(shape=(layer.input_shape[0], tokens, attrs["hidden_dim"]), note=note)

    def params(self, layer: LayerRecord) -> ParamMath:
        attrs = layer.attrs
        ph, pw = attrs["patch_size"]
        d = Sym("d", attrs["hidden_dim"])
        c = Sym(r"c_{in}", layer.input_shape[-1])
        window = Sym(r"p_h", ph) * Sym(r"p_w", pw) * c
        parts = [ParamPart("W", window * d)]
        if any(w.name.endswith("bias") for w in layer.weights):
            parts.append(ParamPart("b", d))
        if attrs.get("use_class_token", True):
            parts.append(ParamPart(r"c^{\text{cls}}", d))
        parts.append(ParamPart("P", Sym("T", attrs["num_positions"]) * d))
        return ParamMath(formula=total([p.formula for p in parts]), parts=tuple(parts))

    def equation(self, layer: LayerRecord) -> ViTPatchingEquation:
        ph, pw = layer.attrs["patch_size"]
        return ViTPatchingEquation(
            ph, pw, bool(layer.attrs.get("use_class_token", True)), layer.attrs.get("layout")
        )


@dataclass(frozen=True)
class ViTPatchingEquation(SampledPositions):
    """`a_{0,j} = c_j + P_{0,j}`; for patch `t = 1 + r g_w + q` at grid row `r`, column `q`:
    `a_{t,j} = b_j + sum_{u,v,c} W_{u,v,c,j} x_{p_h r + u, p_w q + v, c} + P_{t,j}`."""

    ph: int
    pw: int
    class_token: bool
    layout: str | None = None

    def latex(self) -> str:
        patch = (
            r"b_j + \sum_{u,v,c} W_{u,v,c,j}\, x_{p_h r + u,\, p_w q + v,\, c} + P_{t,j}"
            r" \quad (t = 1 + r g_w + q:\ \text{the patch at grid row } r \text{, column } q)"
        )
        if not self.class_token:
            return "a_{t,j} = " + patch.replace("1 + r g_w", "r g_w")
        return r"a_{0,j} = c^{\text{cls}}_j + P_{0,j}, \qquad a_{t,j} = " + patch

    def evaluate(
        self,
        inputs: Sequence[np.ndarray],
        weights: Mapping[str, np.ndarray],
        positions: np.ndarray | None = None,
    ) -> np.ndarray:
        if self.layout == "channels_first":
            raise NotImplementedError("channels-first images are not evaluated")
        x = np.asarray(inputs[0], dtype=np.float64)
        kernel = _weight(weights, "patch_embedding/kernel")
        n, h, w, c = x.shape
        gh, gw = h // self.ph, w // self.pw
        patches = x[:, : gh * self.ph, : gw * self.pw].reshape(n, gh, self.ph, gw, self.pw, c)
        out = np.einsum("nrhqwc,hwcd->nrqd", patches, kernel).reshape(n, gh * gw, -1)
        bias = _weight(weights, "patch_embedding/bias")
        if bias is not None:
            out = out + bias
        if self.class_token:
            token = _weight(weights, "class_token").reshape(1, 1, -1)
            out = np.concatenate([np.broadcast_to(token, (n, 1, token.shape[-1])), out], axis=1)
        out = out + _weight(weights, "position_embedding/embeddings")[None]
        return at_positions(out, positions)

    def worked_example(self, inputs, weights, index=None):
        return None
