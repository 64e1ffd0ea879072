"""The PyTorch frontend against PyTorch: shapes, counts and each layer's equation, via a `.pt2`.

Each architecture is written from its public definition, exported in eval mode, saved with
`torch.export.save`, loaded back with `load_exported`, described and derived; then every leaf
module call is compared with what the live module did (its output shape, captured by a forward
hook), its count with `sum(p.numel())`, the total with the model's, and the derived equation
evaluated on the probed inputs with the module's output.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.torch_support import import_torch  # noqa: E402

torch = import_torch()
nn = torch.nn
F = torch.nn.functional

from generator.equation.layer_checks import check_equations  # noqa: E402
from generator.exceptions import CourseError, ModelFileError  # noqa: E402
from generator.layers.derive import derive_model  # noqa: E402
from generator.model.torch_frontend import (  # noqa: E402
    describe_exported,
    load_exported,
    unsupported_calls,
)
from generator.model.torch_probe import probe_exported, read_torch_sample  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow]


# ---- architectures, from their public definitions ----


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(20, 32), nn.Linear(32, 16), nn.Linear(16, 3)

    def forward(self, x):
        return self.fc3(torch.tanh(self.fc2(F.relu(self.fc1(x)))))


class LeNet5(nn.Module):
    """LeCun et al. 1998, with ReLU and max pooling as it is usually written today."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.pool2 = nn.AvgPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1, self.fc2, self.fc3 = (
            nn.Linear(16 * 5 * 5, 120),
            nn.Linear(120, 84),
            nn.Linear(84, 10),
        )
        self.act = nn.ReLU()

    def forward(self, x):
        x = self.pool1(self.act(self.conv1(x)))
        x = self.pool2(self.act(self.conv2(x)))
        x = self.flatten(x)
        return self.fc3(self.act(self.fc2(self.act(self.fc1(x)))))


class LessonSimpleCNN(nn.Module):
    """lessons/04-counting-parameters-keras-and-pytorch.ipynb's `SimpleCNN`, exactly (404,218)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, kernel_size=3)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(14 * 14 * 16, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):  # x: (batch, 3, 32, 32), channels first
        x = torch.relu(self.conv1(x))  # (batch, 8, 30, 30)
        x = torch.relu(self.conv2(x))  # (batch, 16, 28, 28)
        x = self.pool(x)  # (batch, 16, 14, 14)
        x = torch.flatten(x, 1)  # (batch, 3136)
        x = torch.relu(self.fc1(x))  # (batch, 128)
        return torch.softmax(self.fc2(x), dim=1)  # (batch, 10)


class SeedSimpleCNN(nn.Module):
    """Seed 003's SimpleCNN: padded 3x3 convolutions, 545,098 parameters."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 8 * 8, 128), nn.ReLU(), nn.Linear(128, 10)
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class VGGBlocks(nn.Module):
    """Two VGG blocks (Simonyan & Zisserman 2014): 3x3 convolutions, padding 1, then 2x2 max."""

    def __init__(self):
        super().__init__()
        layers, c_in = [], 3
        for c_out in (8, 16):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU()]
            layers += [nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 4 * 4, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    """ResNet's basic block (He et al. 2015), with a 1x1 projection when the shape changes."""

    def __init__(self, c_in, c_out, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class TinyResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.layer1 = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 8))
        self.layer2 = nn.Sequential(BasicBlock(8, 16, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class InvertedResidual(nn.Module):
    """MobileNetV2's block (Sandler et al. 2018): expand 1x1, depthwise 3x3, project 1x1."""

    def __init__(self, c, expand=4):
        super().__init__()
        hidden = c * expand
        self.block = nn.Sequential(
            nn.Conv2d(c, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, c, 1, bias=False), nn.BatchNorm2d(c),
        )  # fmt: skip

    def forward(self, x):
        return x + self.block(x)


class MobileNetV2Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU6()
        )
        self.blocks = nn.Sequential(InvertedResidual(8), InvertedResidual(8))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(8, 5)

    def forward(self, x):
        return self.head(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


class DenseLayer(nn.Module):
    """DenseNet's BN-ReLU-Conv1x1-BN-ReLU-Conv3x3 layer (Huang et al. 2016), output concatenated."""

    def __init__(self, c_in, growth):
        super().__init__()
        self.norm1, self.conv1 = nn.BatchNorm2d(c_in), nn.Conv2d(c_in, 4 * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(4 * growth)
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

    def forward(self, x):
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        return torch.cat([x, out], 1)


class DenseNetTiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.block = nn.Sequential(DenseLayer(8, 4), DenseLayer(12, 4))
        self.transition = nn.Sequential(
            nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 8, 1, bias=False), nn.AvgPool2d(2, 2)
        )
        self.classifier = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = self.transition(self.block(self.conv0(x)))
        return self.classifier(torch.flatten(x, 1))


class Fire(nn.Module):
    """SqueezeNet's Fire module (Iandola et al. 2016): squeeze 1x1, expand 1x1 and 3x3, concat."""

    def __init__(self, c_in, squeeze, expand1, expand3):
        super().__init__()
        self.squeeze, self.squeeze_activation = nn.Conv2d(c_in, squeeze, 1), nn.ReLU(inplace=True)
        self.expand1x1, self.expand1x1_activation = nn.Conv2d(squeeze, expand1, 1), nn.ReLU()
        self.expand3x3 = nn.Conv2d(squeeze, expand3, 3, padding=1)
        self.expand3x3_activation = nn.ReLU()

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat(
            [
                self.expand1x1_activation(self.expand1x1(x)),
                self.expand3x3_activation(self.expand3x3(x)),
            ],
            1,
        )


class SqueezeNetTiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(16, 4, 8, 8), Fire(16, 4, 8, 8),
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Conv2d(16, 10, 1), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1))
        )

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


class SequenceClassifier(nn.Module):
    """Embedding, an LSTM and a GRU over the sequence, mean over time, a dense head."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(50, 8)
        self.lstm = nn.LSTM(8, 6, batch_first=True)
        self.gru = nn.GRU(6, 5, batch_first=True)
        self.fc = nn.Linear(5, 3)

    def forward(self, tokens):
        out, _ = self.lstm(self.embedding(tokens))
        out, _ = self.gru(out)
        return self.fc(out.mean(dim=1))


class BiRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(4, 3, batch_first=True)
        self.bi = nn.GRU(3, 2, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        out, _ = self.bi(out)
        return self.fc(out)


class TinyTransformer(nn.Module):
    """One `nn.TransformerEncoderLayer` (Vaswani et al. 2017), batch first, over embeddings."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(30, 16)
        self.encoder = nn.TransformerEncoderLayer(
            16, 2, dim_feedforward=32, dropout=0.1, batch_first=True
        )
        self.head = nn.Linear(16, 4)

    def forward(self, tokens):
        return self.head(self.encoder(self.embedding(tokens)))


class PatchEmbedding(nn.Module):
    """ViT's patch embedding (Dosovitskiy et al. 2020): a strided convolution, flattened patches,
    a learned position embedding, layer norm and a mean-pooled head."""

    def __init__(self, patch=4, dim=12):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        self.pos_embedding = nn.Parameter(torch.randn(1, (16 // patch) ** 2, dim) * 0.02)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 5)

    def forward(self, x):
        x = self.proj(x).flatten(2).transpose(1, 2)  # (batch, patches, dim)
        x = self.norm(x + self.pos_embedding)
        return self.head(x.mean(dim=1))


@dataclass(frozen=True)
class Architecture:
    name: str
    model: Callable[[], nn.Module]
    inputs: tuple
    total: int


def _image(*shape):
    return (torch.randn(*shape),)


def _tokens(vocabulary, *shape):
    return (torch.randint(0, vocabulary, shape),)


ARCHITECTURES = [
    Architecture("mlp", MLP, (torch.randn(2, 20),), 20 * 32 + 32 + 32 * 16 + 16 + 16 * 3 + 3),
    Architecture("lenet5", LeNet5, _image(2, 1, 32, 32), 61_706),
    Architecture("lesson_simple_cnn", LessonSimpleCNN, _image(1, 3, 32, 32), 404_218),
    Architecture("seed_simple_cnn", SeedSimpleCNN, _image(1, 3, 32, 32), 545_098),
    Architecture("vgg_blocks", VGGBlocks, _image(1, 3, 16, 16), 6_866),
    Architecture("resnet_basic_blocks", TinyResNet, _image(1, 3, 16, 16), 6_626),
    Architecture("mobilenet_v2_blocks", MobileNetV2Tiny, _image(1, 3, 16, 16), 2_469),
    Architecture("densenet_block", DenseNetTiny, _image(1, 3, 8, 8), 3_378),
    Architecture("squeezenet_fire", SqueezeNetTiny, _image(1, 3, 32, 32), 1_426),
    Architecture("embedding_lstm_gru", SequenceClassifier, _tokens(50, 2, 7), 997),
    Architecture("rnn_bidirectional_gru", BiRNN, (torch.randn(2, 5, 4),), 121),
    Architecture("transformer_encoder", TinyTransformer, _tokens(30, 2, 6), 2_772),
    Architecture("vit_patch_embedding", PatchEmbedding, _image(2, 3, 16, 16), 869),
]


# ---- the harness ----


@dataclass
class Exported:
    model: nn.Module
    graph: object
    math: object
    probe: object
    module_outputs: dict[str, list[tuple]]
    module_counts: dict[str, int]


def _export(arch: Architecture, tmp_path: Path) -> Exported:
    torch.manual_seed(0)
    model = arch.model().eval()
    shapes: dict[str, list[tuple]] = {}
    counts: dict[str, int] = {}
    hooks = []
    for name, module in model.named_modules():
        if name and not list(module.children()):

            def hook(module, args, out, name=name):
                out = out[0] if isinstance(out, tuple) else out
                shapes.setdefault(name, []).append(tuple(out.shape))

            hooks.append(module.register_forward_hook(hook))
            tensors = [*module.parameters(), *module.buffers()]
            counts[name] = sum(
                t.numel() for t in tensors if t.dtype.is_floating_point
            )  # num_batches_tracked (int64) does not count
    with torch.no_grad():
        model(*arch.inputs)
    for h in hooks:
        h.remove()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(model, arch.inputs)
    path = tmp_path / f"{arch.name}.pt2"
    torch.export.save(program, path)
    loaded = load_exported(path)
    graph = describe_exported(loaded)
    math = derive_model(graph)
    return Exported(model, graph, math, probe_exported(loaded, graph), shapes, counts)


@pytest.fixture(scope="module", params=ARCHITECTURES, ids=lambda a: a.name)
def exported(request, tmp_path_factory):
    return request.param, _export(request.param, tmp_path_factory.mktemp("pt2"))


def _calls_of(graph, module: str) -> list:
    return [r for r in graph.layers if r.name == module or r.name.startswith(module + "@")]


def test_shapes_are_pytorchs(exported):
    arch, ex = exported
    for module, shapes in ex.module_outputs.items():
        calls = _calls_of(ex.graph, module)
        if not calls:
            continue  # nn.Identity and friends leave no node
        assert [(None, *s[1:]) for s in shapes] == [c.output_shape for c in calls], module


def test_derived_shapes_agree(exported):
    arch, ex = exported
    bad = [layer.record.name for layer in ex.math.layers if not layer.shape_matches]
    assert not bad


def test_counts_are_pytorchs(exported):
    arch, ex = exported
    for module, count in ex.module_counts.items():
        for call in _calls_of(ex.graph, module):
            assert call.framework_params == count, module
    params = sum(p.numel() for p in ex.model.parameters())
    buffers = sum(b.numel() for b in ex.model.buffers() if b.dtype.is_floating_point)
    assert ex.graph.framework_params == params + buffers == arch.total


def test_derived_counts_agree(exported):
    arch, ex = exported
    bad = [layer.record.name for layer in ex.math.layers if not layer.params_match]
    assert not bad
    assert ex.math.total_params == arch.total


def test_equations_agree_with_pytorch(exported):
    arch, ex = exported
    checks = check_equations(ex.math, ex.probe.layers)
    bad = [name for name, result in checks.layers.items() if not result.passed]
    assert not bad, checks.check.detail
    known = [layer.record.name for layer in ex.math.layers if layer.known]
    assert set(checks.layers) >= set(known) - set(checks.skipped)


# ---- files and messages ----


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        load_exported(tmp_path / "none.pt2")


def test_not_a_pt2(tmp_path):
    path = tmp_path / "model.pt2"
    path.write_text("hello")
    with pytest.raises(ModelFileError, match=r"model\.pt2: not a PyTorch export"):
        load_exported(path)


def test_pickled_weights_are_refused(tmp_path):
    """An archive whose weight would be unpickled (`use_pickle`) is refused before torch loads."""
    import json
    import zipfile

    program = torch.export.export(MLP().eval(), (torch.randn(2, 20),))
    good, bad = tmp_path / "good.pt2", tmp_path / "bad.pt2"
    torch.export.save(program, good)
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("model_weights_config.json"):
                config = json.loads(data)
                next(iter(config["config"].values()))["use_pickle"] = True
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    with pytest.raises(ModelFileError, match="pickled object"):
        load_exported(bad)


def test_unsupported_op_names_its_aten_target(tmp_path):
    class Running(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return torch.cumsum(self.fc(x), dim=1)

    program = torch.export.export(Running().eval(), (torch.randn(2, 4),))
    torch.export.save(program, tmp_path / "cumsum.pt2")
    graph = describe_exported(load_exported(tmp_path / "cumsum.pt2"))
    record = graph.layers[-1]
    assert record.type == "aten.cumsum" and record.output_shape == (None, 4)
    (message,) = unsupported_calls(graph)
    assert "aten.cumsum.default" in message and "cumsum" in record.code
    math = derive_model(graph)  # no handler: Keras's count (0), no traceback
    assert not math.layers[-1].known and math.total_params == 20


def test_sample_file(tmp_path):
    program = torch.export.export(MLP().eval(), (torch.randn(2, 20),))
    graph = describe_exported(program)
    np.save(tmp_path / "x.npy", np.ones((2, 20), dtype=np.float32))
    sample = read_torch_sample(tmp_path / "x.npy", graph)
    probe = probe_exported(program, graph, sample)
    assert probe.layers["fc1"].inputs[0].shape == (2, 20)
    np.save(tmp_path / "bad.npy", np.ones((2, 21), dtype=np.float32))
    with pytest.raises(CourseError, match=r"bad\.npy: .*input 'x'"):
        read_torch_sample(tmp_path / "bad.npy", graph)
