"""PyTorch for the tests that need it: one way to import it, one reason when it is missing."""

from __future__ import annotations

import pytest

#: The reason every test needing PyTorch gives when it skips.
TORCH_MISSING = "PyTorch is not installed (pip install torch==2.13.0)"


def import_torch():
    """The `torch` module, or skip the calling test (or module) with `TORCH_MISSING`."""
    return pytest.importorskip("torch", reason=TORCH_MISSING)


#: keras-hub's layer types with a PyTorch translation. `tests/test_keras_hub.py` translates its
#: backbones and checks each type occurs in them; `tests/test_torch.py` counts them as covered.
HUB_TRANSLATED_TYPES = frozenset(
    {
        "ReversibleEmbedding",
        "PositionEmbedding",
        "CachedMultiHeadAttention",
        "ViTPatchingAndEmbedding",
        "RotaryEmbedding",
        "MistralLayerNormalization",
    }
)
