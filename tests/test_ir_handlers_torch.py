"""The layer handlers on IR records as the PyTorch frontend writes them, against PyTorch itself.

Each row is a channels-first record with explicit padding (or ceil mode, or counted padding),
weights in the IR's canonical layout; the derived shape and the equation evaluated with NumPy are
compared with `torch.nn.functional` on the same numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

from generator.layers.derive import derive_layer
from generator.model.activations import LayerActivation
from generator.model.graph import LayerRecord, WeightRecord
from tests.torch_support import import_torch

torch = import_torch()
F = torch.nn.functional

pytestmark = pytest.mark.torch


def _record(kind: str, in_shape, attrs: dict, weights=()) -> LayerRecord:
    return LayerRecord(
        name="layer",
        type=kind,
        attrs={"layout": "channels_first", "activation": LayerActivation(), **attrs},
        input_shapes=((None, *in_shape[1:]),),
        output_shapes=(),
        inbound=("x",),
        weights=tuple(WeightRecord(name, tuple(a.shape), True) for name, a in weights),
        framework_params=sum(a.size for _, a in weights),
        framework_trainable=sum(a.size for _, a in weights),
    )


def _pads(padding: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    return tuple((p, p) for p in padding)


CONVOLUTIONS = [
    # in shape, out channels, kernel, stride, padding, dilation, groups
    ((2, 3, 9, 9), 4, (3, 3), (1, 1), (1, 1), (1, 1), 1),
    ((2, 3, 9, 8), 4, (3, 2), (2, 1), (1, 0), (1, 1), 1),
    ((2, 4, 10, 10), 4, (3, 3), (2, 2), (2, 2), (2, 2), 1),
    ((2, 6, 8, 8), 6, (3, 3), (1, 1), (1, 1), (1, 1), 6),  # depthwise
    ((2, 4, 7, 7), 6, (1, 1), (2, 2), (0, 0), (1, 1), 2),  # grouped 1x1, stride 2
]


@pytest.mark.parametrize("shape, c_out, kernel, stride, padding, dilation, groups", CONVOLUTIONS)
def test_conv2d_with_explicit_padding_matches_torch(
    shape, c_out, kernel, stride, padding, dilation, groups
):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=shape).astype(np.float32)
    w = rng.uniform(-1, 1, size=(c_out, shape[1] // groups, *kernel)).astype(np.float32)
    b = rng.uniform(-1, 1, size=(c_out,)).astype(np.float32)
    expected = F.conv2d(
        torch.tensor(x), torch.tensor(w), torch.tensor(b), stride, padding, dilation, groups
    ).numpy()
    kernel_ir = w.transpose(2, 3, 1, 0)  # the IR's layout: k_h, k_w, c_in / groups, c_out
    attrs = {
        "filters": c_out,
        "kernel_size": kernel,
        "strides": stride,
        "dilation_rate": dilation,
        "groups": groups,
        "use_bias": True,
        "padding": "explicit" if any(padding) else "valid",
        "pads": _pads(padding),
        "padding_mode": "zeros",
    }
    layer = derive_layer(_record("Conv2D", shape, attrs, [("kernel", kernel_ir), ("bias", b)]))
    assert layer.shape.shape == (None, *expected.shape[1:])
    assert layer.params.total == w.size + b.size
    ours = layer.equation.evaluate([x], {"kernel": kernel_ir, "bias": b})
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


POOLINGS = [
    # kind, in shape, kernel, stride, padding, ceil_mode, count_include_pad
    ("max", (2, 3, 9, 9), (3, 3), (2, 2), (1, 1), False, True),
    ("max", (2, 3, 8, 8), (3, 3), (2, 2), (0, 0), True, True),
    ("max", (2, 3, 9, 7), (2, 3), (2, 2), (1, 1), True, True),
    ("avg", (2, 3, 9, 9), (3, 3), (2, 2), (1, 1), False, True),
    ("avg", (2, 3, 9, 9), (3, 3), (2, 2), (1, 1), False, False),
    ("avg", (2, 3, 8, 8), (3, 3), (2, 2), (0, 0), True, True),
    ("avg", (2, 2, 7, 7), (2, 2), (2, 2), (0, 0), True, False),
]


@pytest.mark.parametrize("kind, shape, kernel, stride, padding, ceil, counted", POOLINGS)
def test_pooling_with_padding_and_ceil_mode_matches_torch(
    kind, shape, kernel, stride, padding, ceil, counted
):
    x = np.random.default_rng(1).uniform(-1, 1, size=shape).astype(np.float32)
    t = torch.tensor(x)
    if kind == "max":
        expected = F.max_pool2d(t, kernel, stride, padding, ceil_mode=ceil).numpy()
    else:
        expected = F.avg_pool2d(
            t, kernel, stride, padding, ceil_mode=ceil, count_include_pad=counted
        ).numpy()
    attrs = {
        "pool_size": kernel,
        "strides": stride,
        "padding": "explicit" if any(padding) else "valid",
        "pads": _pads(padding),
        "ceil_mode": ceil,
        "count_include_pad": counted,
    }
    kind_name = "MaxPooling2D" if kind == "max" else "AveragePooling2D"
    layer = derive_layer(_record(kind_name, shape, attrs))
    assert layer.shape.shape == (None, *expected.shape[1:])
    np.testing.assert_allclose(layer.equation.evaluate([x], {}), expected, rtol=1e-5, atol=1e-6)


def test_transposed_conv_with_explicit_padding_matches_torch():
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, size=(2, 3, 5, 5)).astype(np.float32)
    w = rng.uniform(-1, 1, size=(3, 4, 3, 3)).astype(np.float32)  # c_in, c_out, k_h, k_w
    b = rng.uniform(-1, 1, size=(4,)).astype(np.float32)
    expected = F.conv_transpose2d(
        torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=2, padding=1, output_padding=1
    ).numpy()
    kernel_ir = w.transpose(2, 3, 1, 0)  # k_h, k_w, c_out, c_in as Keras keeps it
    attrs = {
        "filters": 4,
        "kernel_size": (3, 3),
        "strides": (2, 2),
        "dilation_rate": (1, 1),
        "groups": 1,
        "use_bias": True,
        "padding": "explicit",
        "pads": ((1, 1), (1, 1)),
        "output_padding": (1, 1),
    }
    record = _record("Conv2DTranspose", x.shape, attrs, [("kernel", kernel_ir), ("bias", b)])
    layer = derive_layer(record)
    assert layer.shape.shape == (None, *expected.shape[1:])
    ours = layer.equation.evaluate([x], {"kernel": kernel_ir, "bias": b})
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


def test_parameter_add_and_adaptive_pooling_match_torch():
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, size=(2, 5, 8)).astype(np.float32)
    p = rng.uniform(-1, 1, size=(1, 5, 8)).astype(np.float32)
    record = _record("ParameterAdd", x.shape, {"layout": "channels_last"}, [("pos", p)])
    layer = derive_layer(
        LayerRecord(
            **{**record.__dict__, "weights": (WeightRecord("pos", p.shape, True, "parameter"),)}
        )
    )
    assert layer.shape.shape == (None, 5, 8) and layer.params.total == 40
    np.testing.assert_allclose(layer.equation.evaluate([x], {"pos": p}), x + p, rtol=1e-6)

    image = rng.uniform(-1, 1, size=(2, 3, 8, 6)).astype(np.float32)
    expected = F.adaptive_avg_pool2d(torch.tensor(image), (4, 3)).numpy()
    pooled = derive_layer(_record("AdaptiveAveragePooling2D", image.shape, {"output_size": (4, 3)}))
    assert pooled.shape.shape == (None, 3, 4, 3)
    np.testing.assert_allclose(pooled.equation.evaluate([image], {}), expected, rtol=1e-5)


def test_channels_first_normalizations_and_padded_layers_through_the_frontend():
    """GroupNorm, LayerNorm over (c, h, w), BatchNorm on axis 1, RMSNorm with and without its
    scale, `same` convolution, padded
    average pooling and a padded transposed convolution: exported, read, checked vs PyTorch."""
    from generator.equation.analyze import analyze_graph
    from generator.model.torch_reference import torch_model

    nn = torch.nn

    class Normalized(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding="same")
            self.gn = nn.GroupNorm(4, 8)
            self.ln = nn.LayerNorm([8, 6, 6])
            self.bn = nn.BatchNorm2d(8)
            self.rms = nn.RMSNorm([6, 6])
            self.plain_rms = nn.RMSNorm(6, eps=1e-3, elementwise_affine=False)
            self.pool = nn.AvgPool2d(3, 2, padding=1)
            self.up = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)

        def forward(self, x):
            h = self.plain_rms(self.rms(self.bn(self.ln(self.gn(self.conv(x))))))
            return self.up(self.pool(h))

    torch.manual_seed(0)
    x = torch.randn(2, 3, 6, 6).numpy()
    graph, reference = torch_model(Normalized().eval(), x)
    math = analyze_graph(graph, reference, x)
    assert all(check.passed for check in math.checks), math.checks
    assert set(math.layer_checks) == {layer.name for layer in graph.layers}
