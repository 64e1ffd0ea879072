"""Backward equations: each layer's gradients from the gradient of its output (see `registry`)."""

from generator.layers.gradients import (  # noqa: F401 - each module registers its layer types
    activation,
    conv,
    dense,
    merge,
    normalization,
    pooling,
    recurrent,
    reshaping,
)
