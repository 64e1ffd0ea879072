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


class NameClash(CourseError):
    """Two models of one lesson whose names make the same file name."""


def error_summary(text: str, limit: int = 400) -> str:
    """An exception's message on one line, keeping its cause.

    Keras wraps an error in paragraphs ("Exception encountered when calling Dense.call().",
    then the cause, then "Arguments received by ..."): the first line alone hides the cause, so
    the paragraphs up to the arguments are joined.
    """
    kept = []
    for line in text.strip().splitlines():
        if line.strip().startswith("Arguments received by"):
            break
        if line.strip():
            kept.append(line.strip())
    summary = " ".join(kept)
    return summary if len(summary) <= limit else summary[: limit - 3].rstrip() + "..."
