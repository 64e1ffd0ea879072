"""Layer handlers, one module per family; importing this package fills the registry.

See `generator.layers.registry` for how to add a layer type.
"""

from __future__ import annotations

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("registry", "common"):
        importlib.import_module(f"{__name__}.{_module.name}")
