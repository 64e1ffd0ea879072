"""PyTorch translations of keras-hub's embeddings: reversible token tables, learned positions.

keras-hub's transformer blocks and `TokenAndPositionEmbedding` need none: the frontend traces
them into nested graphs of Keras layers and operations, translated like nested models.
"""

from __future__ import annotations

import numpy as np

from generator.torch.registry import CL, LayerContext, Result, translation

POSITION_EMBEDDING = '''\
class PositionEmbedding(nn.Module):
    """keras-hub's PositionEmbedding: row t of a learned (max length, features) table for each
    position t of the input, the same for every item (the input's values are not read)."""

    def __init__(self, length, features):
        super().__init__()
        self.embeddings = nn.Parameter(torch.zeros(length, features))

    def forward(self, x):
        return self.embeddings[: x.shape[-2]].expand(x.shape)
'''


@translation("ReversibleEmbedding", wants=CL)
def reversible_embedding(ctx: LayerContext) -> Result:
    """The forward direction (token ids to rows); `reverse=True` calls are other layers' nodes."""
    if ctx.attrs.get("mask_zero"):
        raise ctx.error("masks zeros (mask_zero=True); masking has no PyTorch translation here")
    if ctx.value().rank != 2:
        raise ctx.error("reads ids of other than (batch, time)")
    layer = ctx.module(
        f"nn.Embedding(num_embeddings={ctx.attrs['input_dim']}, "
        f"embedding_dim={ctx.attrs['output_dim']})",
        weight=ctx.weight("embeddings"),
    )
    return Result(f"{layer}({ctx.input(0, CL)}.long())", CL)


@translation("PositionEmbedding", wants=CL)
def position_embedding(ctx: LayerContext) -> Result:
    table = np.ascontiguousarray(ctx.weight("embeddings"))
    ctx.use_helper(POSITION_EMBEDDING)
    layer = ctx.module(f"PositionEmbedding({table.shape[0]}, {table.shape[1]})", embeddings=table)
    return Result(f"{layer}({ctx.input(0, CL)})", CL)
