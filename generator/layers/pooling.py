"""Pooling: the max or mean over a sliding window, or over every position at once."""

from __future__ import annotations

from generator.layers.common import (
    AXIS_NAMES,
    as_tuple,
    channels_last,
    spatial_axes,
    steps_for,
    window_output,
    with_dims,
)
from generator.layers.common import (
    spatial_rank as _rank,
)
from generator.layers.registry import LayerHandler, ShapeMath, register
from generator.model.graph import LayerRecord

_OUT_IDX = {1: ("t",), 2: ("i", "j"), 3: ("l", "i", "j")}
_WIN_IDX = {1: ("u",), 2: ("u", "v"), 3: ("r", "u", "v")}


def _window(layer: LayerRecord) -> tuple[int, tuple[int, ...], tuple[int, ...], str]:
    """Rank, pool size, strides (Keras: the pool size when not given) and padding."""
    rank = _rank(layer)
    size = as_tuple(layer.config.get("pool_size", 2), rank)
    strides = layer.config.get("strides")
    strides = size if strides is None else as_tuple(strides, rank)
    return rank, size, strides, layer.config.get("padding", "valid")


def _window_limits(
    out_idx: tuple[str, ...], win_idx: tuple[str, ...], size: tuple[int, ...]
) -> str:
    """`0 \\le u < 2,\\, 0 \\le v < 2`: the range of every offset in the window."""
    return r",\, ".join(rf"0 \le {w} < {k}" for w, k in zip(win_idx, size, strict=True))


def _positions(out_idx: tuple[str, ...], win_idx: tuple[str, ...], strides: tuple[int, ...]) -> str:
    """`2i+u,\\, 2j+v`: the input position that offset `(u, v)` of window `(i, j)` reads."""
    return r",\, ".join(
        f"{'' if s == 1 else s}{o}+{w}" for o, w, s in zip(out_idx, win_idx, strides, strict=True)
    )


class _WindowPooling(LayerHandler):
    """Shape logic shared by max and average pooling over a window."""

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        rank, size, strides, padding = _window(layer)
        axes = spatial_axes(layer, rank)
        dims, formulas = [], []
        for axis, name, k, s in zip(axes, AXIS_NAMES[rank], size, strides, strict=True):
            dim, formula = window_output(layer.input_shape[axis], k, s, 1, padding, name)
            dims.append(dim)
            formulas.append(formula)
        shape = with_dims(layer.input_shape, axes, dims, None, layer)
        note = (
            "windows that stick out over the edge are kept: ceil(n / s) positions"
            if (padding == "same")
            else ""
        )
        return ShapeMath(shape=shape, steps=steps_for(AXIS_NAMES[rank], formulas), note=note)

    def _parts(self, layer: LayerRecord) -> tuple[str, str, str]:
        rank, size, strides, _ = _window(layer)
        out_idx, win_idx = _OUT_IDX[rank], _WIN_IDX[rank]
        lhs = f"a_{{{','.join(out_idx)},c}}"
        # With `same` padding the windows start before the input: index the padded input.
        x = r"\tilde{x}" if _window(layer)[3] == "same" else "x"
        x = f"{x}_{{{_positions(out_idx, win_idx, strides)},\\, c}}"
        return lhs, _window_limits(out_idx, win_idx, size), x


@register("MaxPooling1D", "MaxPooling2D", "MaxPooling3D")
class MaxPoolingHandler(_WindowPooling):
    summary = "max pooling: the largest input in each window, channel by channel"

    def equation(self, layer: LayerRecord) -> str:
        lhs, limits, x = self._parts(layer)
        eq = rf"{lhs} = \max_{{{limits}}} {x}"
        if _window(layer)[3] == "same":
            eq += (
                r" \quad (\tilde{x}: x \text{ padded with } -\infty \text{, so padding never "
                r"wins})"
            )
        return eq


@register("AveragePooling1D", "AveragePooling2D", "AveragePooling3D")
class AveragePoolingHandler(_WindowPooling):
    summary = "average pooling: the mean of each window, channel by channel"

    def equation(self, layer: LayerRecord) -> str:
        lhs, limits, x = self._parts(layer)
        _, size, _, padding = _window(layer)
        count = 1
        for k in size:
            count *= k
        if padding == "same":
            window = ",".join(_OUT_IDX[_rank(layer)])
            return (
                rf"{lhs} = \frac{{1}}{{|N_{{{window}}}|}} \sum_{{{limits}:\ \text{{inside}}}}"
                rf" {x} \quad (\tilde{{x}}: x \text{{ padded}};\ N_{{{window}}}: \text{{the "
                r"window's positions inside } x \text{; padding is not counted in the mean})"
            )
        return rf"{lhs} = \frac{{1}}{{{count}}} \sum_{{{limits}}} {x}"


@register(
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
)
class GlobalPoolingHandler(LayerHandler):
    summary = "global pooling: one max or mean per channel over every position"

    def output_shape(self, layer: LayerRecord) -> ShapeMath:
        rank = _rank(layer)
        shape = layer.input_shape
        axes = spatial_axes(layer, rank)
        if layer.config.get("keepdims", False):
            return ShapeMath(shape=tuple(1 if i in axes else d for i, d in enumerate(shape)))
        return ShapeMath(shape=tuple(d for i, d in enumerate(shape) if i not in axes))

    def equation(self, layer: LayerRecord) -> str:
        rank = _rank(layer)
        idx = _WIN_IDX[rank]
        axes = spatial_axes(layer, rank)
        dims = [layer.input_shape[a] for a in axes]
        ranges = r",\, ".join(
            rf"0 \le {i} < {'n' if n is None else n}" for i, n in zip(idx, dims, strict=True)
        )
        x = f"x_{{{','.join(idx)},c}}" if channels_last(layer) else f"x_{{c,{','.join(idx)}}}"
        if "Max" in layer.type:
            return rf"a_c = \max_{{{ranges}}} {x}"
        count = " ".join("n" if n is None else str(n) for n in dims)
        count = count.replace(" ", r" \cdot ")
        return rf"a_c = \frac{{1}}{{{count}}} \sum_{{{ranges}}} {x}"
