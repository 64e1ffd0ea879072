"""Networks as Functions: derive a Keras model's mathematics and build the course site."""

from __future__ import annotations

__all__ = ["publish"]


def publish(model, name=None, sample=None, **options):
    """Derive `model`'s math, show it inline, and (under `course build`) write its artifacts.

    See `generator.publish.publish` for the arguments.
    """
    from generator.publish import publish as _publish

    return _publish(model, name=name, sample=sample, **options)
