"""Benchmark: `course math` on a ResNet-18-sized `.pt2` against `torch.export.load` of the file.

Run: `python benchmarks/torch_math.py [--repeat N]`. ResNet-18 is written here from its public
definition (He et al. 2015, torchvision's layout: BasicBlocks, 11.7 million parameters), exported
in eval mode and saved with `torch.export.save`. Each step is timed side by side in this one run
(median of `--repeat`):
- the baseline: `torch.export.load` of the file;
- reading it into the IR: `load_exported` (the archive screened, then loaded) and
  `describe_exported`;
- the whole of `course math`: that, plus every layer derived, probed on a sample, every
  equation evaluated and compared with PyTorch, and the Markdown page rendered.
Ratios are printed against the baseline.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from timing import timed


def resnet18():
    """ResNet-18 as torchvision defines it (no torchvision here: written from the paper)."""
    from torch import nn

    class BasicBlock(nn.Module):
        def __init__(self, c_in: int, c_out: int, stride: int):
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c_out)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c_out)
            self.downsample = None
            if stride != 1 or c_in != c_out:
                self.downsample = nn.Sequential(
                    nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
                )

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + identity)

    class ResNet18(nn.Module):
        def __init__(self, classes: int = 1000):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            widths, c_in, stages = (64, 128, 256, 512), 64, []
            for i, width in enumerate(widths):
                stride = 1 if i == 0 else 2
                stages.append(
                    nn.Sequential(BasicBlock(c_in, width, stride), BasicBlock(width, width, 1))
                )
                c_in = width
            self.layer1, self.layer2, self.layer3, self.layer4 = stages
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512, classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch_flatten(self.avgpool(x)))

    def torch_flatten(x):
        import torch

        return torch.flatten(x, 1)

    return ResNet18()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each step (median)")
    parser.add_argument("--size", type=int, default=224, help="input height and width")
    args = parser.parse_args()

    import torch

    from generator.equation.analyze import analyze_graph
    from generator.model.torch_frontend import describe_exported, load_exported
    from generator.model.torch_reference import torch_reference
    from generator.render.markdown import model_page

    torch.manual_seed(0)
    model = resnet18().eval()
    params = sum(p.numel() for p in model.parameters())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "resnet18.pt2"
        example = torch.randn(1, 3, args.size, args.size)
        torch.export.save(torch.export.export(model, (example,)), path)
        size = path.stat().st_size / 1e6

        def read():
            program = load_exported(path)
            return program, describe_exported(program, name="resnet18")

        def course_math():
            program, graph = read()
            math = analyze_graph(graph, torch_reference(program, graph))
            return math, model_page(math, title="resnet18", diagrams=False)

        baseline, _ = timed(lambda: torch.export.load(path), args.repeat)
        described, (_, graph) = timed(read, args.repeat)
        whole, (math, _) = timed(course_math, args.repeat)

    failed = [check.name for check in math.checks if not check.passed]
    print(f"ResNet-18: {params:,} parameters, {len(graph.layers)} layer calls, {size:.0f} MB .pt2")
    print(f"torch.export.load                  {baseline:7.2f} s   1.00x (baseline)")
    print(f"load_exported + describe_exported  {described:7.2f} s   {described / baseline:.2f}x")
    print(f"course math (derive, check, page)  {whole:7.2f} s   {whole / baseline:.2f}x")
    print(
        f"checks: {len(math.checks) - len(failed)} of {len(math.checks)} pass"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    for check in math.checks:
        print(f"  {check.name}: {check.detail}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
