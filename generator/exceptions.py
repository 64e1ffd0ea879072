"""The generator's errors: each one a single line naming the file, lesson, cell or layer."""

from __future__ import annotations

import click


class CourseError(click.ClickException):
    """Base of every error the user should see as one clean line (exit status 1)."""


class ModelError(CourseError):
    """A model that cannot be described: not built, subclassed, or not a Keras model."""


class ModelFileError(CourseError):
    """A model file that is missing, not a Keras model, or needs code to load."""


class CheckFailed(CourseError):
    """A derived figure disagrees with Keras (a count, a shape, or the closed form vs predict)."""
