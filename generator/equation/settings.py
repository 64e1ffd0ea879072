"""Settings for the derivation, passed explicitly: no module globals."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class MathSettings:
    """How the composed equation is built and printed.

    Attributes:
        digits: significant digits of the weights shown on pages (NumPy keeps full precision).
        max_closed_form_ops: above this many operations the closed form is not expanded; the
            layered form `f = f_L \\circ \\dots \\circ f_1` is printed instead.
        sample_size: rows of the random sample checked against `model.predict`.
        seed: seed of that sample.
        tolerance: largest difference from `predict` (relative above 1) that passes.
    """

    digits: int = 3
    max_closed_form_ops: int = 5000
    sample_size: int = 64
    seed: int = 0
    tolerance: float = 1e-5

    def merge(self, **overrides: Any) -> MathSettings:
        """A copy with the given fields replaced; unknown names raise `TypeError`."""
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown settings {sorted(unknown)}; known: {sorted(known)}")
        return replace(self, **overrides)
