"""Placeholder until the composed-equation backend lands."""

from __future__ import annotations


def compose_equation(model, math, sample=None, settings=None):
    return None
