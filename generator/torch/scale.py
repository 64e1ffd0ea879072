"""PyTorch translations of learned scales: ConvNeXt's `LayerScale`."""

from __future__ import annotations

from generator.torch.registry import CL, LayerContext, Result, translation

LAYER_SCALE = '''\
class LayerScale(nn.Module):
    """ConvNeXt's layer scale: each channel (the last axis) times its own learned factor."""

    def __init__(self, size):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(size))

    def forward(self, x):
        return x * self.gamma
'''


@translation("LayerScale", wants=CL)
def layer_scale(ctx: LayerContext) -> Result:
    (weight,) = ctx.record.weights
    gamma = ctx.weight(weight.name.rsplit("/", 1)[-1])
    ctx.use_helper(LAYER_SCALE)
    layer = ctx.module(f"LayerScale({gamma.size})", gamma=gamma.reshape(-1))
    return Result(f"{layer}({ctx.input(0, CL)})", CL)
