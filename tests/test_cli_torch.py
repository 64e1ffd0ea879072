"""`course math FILE.pt2` as a user runs it: a saved `torch.export` archive, checked against
PyTorch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from generator.cli import main
from tests.torch_support import import_torch

torch = import_torch()
nn = torch.nn

pytestmark = [pytest.mark.torch, pytest.mark.slow]


class PaddedNet(nn.Module):
    """Explicit padding, a strided convolution, ceil-mode pooling, a residual add and a softmax."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 6, 3, padding=1)
        self.down = nn.Conv2d(6, 8, 3, stride=2, padding=1)
        self.pool = nn.AvgPool2d(2, ceil_mode=True)
        self.head = nn.Linear(8 * 3 * 3, 5)

    def forward(self, x):
        h = torch.relu(self.conv1(x))
        h = h + self.conv2(h)
        h = self.pool(torch.relu(self.down(h)))
        return torch.softmax(self.head(torch.flatten(h, 1)), dim=1)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    model = PaddedNet().eval()
    path = tmp_path_factory.mktemp("pt2") / "padded.pt2"
    torch.export.save(torch.export.export(model, (torch.randn(2, 3, 11, 11),)), path)
    return model, path


def test_math_of_a_saved_pt2_is_checked_against_pytorch(saved):
    model, path = saved
    result = CliRunner().invoke(main, ["math", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["total_params"] == sum(p.numel() for p in model.parameters())
    checks = {c["name"]: c["passed"] for c in data["checks"]}
    assert data["framework"] == "torch"
    assert set(checks) >= {"parameter counts vs PyTorch", "layer equations vs PyTorch"}
    layers = {layer["name"]: layer for layer in data["layers"]}
    assert layers["down"]["output_shape"] == [None, 8, 6, 6]  # PyTorch's own, channels first
    assert layers["pool"]["output_shape"] == [None, 8, 3, 3]  # ceil mode keeps the last window
    assert all(
        layer["equation_check"]["passed"] for layer in data["layers"] if layer["equation_check"]
    )
    assert layers["conv2"]["equation_check"]["passed"]
    assert all(checks.values())


def test_markdown_page_names_pytorch_and_channels_first_indices(saved):
    _, path = saved
    result = CliRunner().invoke(main, ["math", str(path), "--no-diagrams"])
    assert result.exit_code == 0, result.output
    page = result.output
    assert "layer equations vs PyTorch: passed" in page
    assert "total parameters vs PyTorch: passed" in page
    assert "x_{c,\\, i + u - 1,\\, j + v - 1}" in page  # channel first, explicit padding 1
    assert "| PyTorch code |" in page and "nn.Conv2d(3, 6, kernel_size=3, padding=1)" in page


def test_sample_file_in_pytorchs_layout(saved, tmp_path):
    import numpy as np

    _, path = saved
    sample = tmp_path / "x.npy"
    np.save(sample, np.random.default_rng(1).uniform(-1, 1, (2, 3, 11, 11)).astype("float32"))
    result = CliRunner().invoke(
        main, ["math", str(path), "--format", "json", "--sample", str(sample)]
    )
    assert result.exit_code == 0, result.output
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((2, 11, 11, 3), dtype="float32"))  # channels last: not this model's
    result = CliRunner().invoke(main, ["math", str(path), "--sample", str(wrong)])
    assert result.exit_code != 0
    assert str(wrong) in result.output and "Traceback" not in result.output


def test_without_torch_the_message_says_how_to_install(saved):
    _, path = saved
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from generator.cli import main\n"
        f"main(['math', {str(path)!r}])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    assert "pip install" in done.stderr and str(path) in done.stderr
    assert "Traceback" not in done.stderr
