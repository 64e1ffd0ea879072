"""Layer handlers, one module per family; importing this package fills the registry.

See `generator.layers.registry` for how to add a layer type (and add its module here).
"""

from __future__ import annotations

from generator.layers import (  # noqa: F401  (their decorators fill the registry)
    activation,
    attention,
    conv,
    dense,
    einsum,
    embedding,
    indexing,
    keras_hub,
    merge,
    nested,
    normalization,
    operations,
    pooling,
    preprocessing,
    recurrent,
    regularization,
    reshaping,
    scale,
    tensor_ops,
    vit,
    wrappers,
)
