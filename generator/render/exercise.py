"""In-page exercises: a shape or a count the generator derives, checked in the page by its hash."""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from generator.exceptions import CourseError

if TYPE_CHECKING:  # the site build renders exercises without the layer registry (sympy)
    from generator.layers.derive import DerivedModel

#: Output metadata key of an exercise in an executed lesson (the page renders it as a form).
EXERCISE_KEY = "course_exercise"
#: What an exercise can ask, and how its answer is written.
KINDS = ("shape", "count")
#: The answer field's look, inline (the theme gives inputs no border): it follows the colour scheme.
INPUT_STYLE = (
    "border:1px solid currentColor;border-radius:.2rem;padding:.2rem .4rem;"
    "background:transparent;color:inherit;font:inherit;min-width:9em"
)
_SEPARATORS = re.compile(r"[x×*,;\s]+")


class ExerciseError(CourseError):
    """An exercise that asks for something the model does not have."""


def normalise(answer: str, kind: str) -> str:
    """An answer as the hash is taken of: `(16, 14, 14)`, `16x14x14`, `16,14,14` all give
    `16,14,14` (a leading batch axis, `None`, is dropped); a count `1,234`, `1 234`, `1{,}234`
    gives `1234`. The page's script (`docs/javascripts/exercises.js`) does the same."""
    text = str(answer).strip().lower()
    if kind == "count":
        return re.sub(r"[\s,_'{}.\u202f\u2009]", "", text)
    parts = [p for p in _SEPARATORS.split(re.sub(r"[()\[\]]", " ", text)) if p]
    if parts and parts[0] in ("none", "batch"):
        parts = parts[1:]
    return ",".join(parts)


def answer_hash(answer: str, kind: str, salt: str) -> str:
    """SHA-256 of `salt:normalised answer`, in hex: what the page stores instead of the answer."""
    return hashlib.sha256(f"{salt}:{normalise(answer, kind)}".encode()).hexdigest()


@dataclass(frozen=True)
class Exercise:
    """One question with a derived answer; shown as a form on the site, as text in Jupyter.

    Attributes:
        question: the question as Markdown (math in `$...$`).
        kind: `shape` or `count`.
        salt: mixed into the hash, so that equal answers of two questions hash differently.
        digest: `answer_hash(answer, kind, salt)`.
        hint: an example of how an answer is written (`(8, 8, 4)`, `1,234`), not the answer:
            the field's placeholder.
    """

    question: str
    kind: str
    salt: str
    digest: str
    hint: str
    answer: str = field(repr=False)

    def check(self, answer: Any) -> bool:
        """Whether `answer` is right; prints the verdict, for learners running the notebook."""
        text = ", ".join(str(v) for v in answer) if isinstance(answer, tuple) else str(answer)
        right = answer_hash(text, self.kind, self.salt) == self.digest
        print("Right." if right else "Not quite: try again.")
        return right

    def info(self) -> dict[str, str]:
        """What the page needs: the question, the kind, the salt and the hash, never the answer."""
        return {
            "question": self.question,
            "kind": self.kind,
            "salt": self.salt,
            "hash": self.digest,
            "hint": self.hint,
        }

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        how = f'To check an answer, run `_.check("{self.hint}")` in a new cell just below.'
        data = {
            "text/markdown": f"**Try it:** {self.question}\n\n{how}",
            "text/plain": f"Try it: {self.question}",
        }
        return data, {EXERCISE_KEY: self.info()}


def _derived(model: Any) -> DerivedModel:
    from generator.layers.derive import derive_model
    from generator.model.frontend import describe_model

    return derive_model(describe_model(model))


def _layer(math: DerivedModel, layer: str | int | None, where: str):
    if layer is None:
        return math.layers[-1]
    if isinstance(layer, int):
        return math.layers[layer]
    for derived in math.layers:
        if derived.record.name == layer:
            return derived
    names = ", ".join(d.record.name for d in math.layers)
    raise ExerciseError(f"{where}: no layer {layer!r} (the layers are {names})")


def exercise(model: Any, ask: str, question: str, layer: str | int | None = None) -> Exercise:
    """A question about `model` whose answer the generator derives, for the lesson's page.

    Args:
        model: a built Keras model.
        ask: `shape` (the output shape of `layer`, without the batch axis) or `count` (the
            parameters of `layer`, or of the whole model when `layer` is `None`).
        question: the question, as Markdown.
        layer: a layer's name or index; the last layer for a shape when `None`.
    """
    where = f"exercise on model {getattr(model, 'name', '?')!r}"
    if ask not in KINDS:
        raise ExerciseError(f"{where}: ask={ask!r}; it must be one of {', '.join(KINDS)}")
    math = _derived(model)
    if ask == "shape":
        derived = _layer(math, layer, where)
        shape = (derived.shape.shape if derived.shape else derived.record.output_shape)[1:]
        answer = ", ".join(str(d) for d in shape)
        hint = "(8, 8, 4)"
    else:
        total = math.total_params if layer is None else _layer(math, layer, where).params.total
        answer, hint = str(total), "1,234"
    salt = hashlib.sha256(question.encode()).hexdigest()[:12]
    return Exercise(question, ask, salt, answer_hash(answer, ask, salt), hint, answer)


def exercise_markdown(info: dict[str, Any], number: int) -> str:
    """The exercise as a page shows it: the question in a box, a field, a button, a verdict;
    `number` counts the exercises of the page (the form's id, `try-1`, ...)."""
    attrs = " ".join(
        f'data-{key}="{html.escape(str(info.get(key, "")), quote=True)}"'
        for key in ("kind", "salt", "hash")
    )
    hint = html.escape(str(info.get("hint", "")), quote=True)
    label = "the shape" if info.get("kind") == "shape" else "the number"
    form = (
        f'<form class="naf-exercise" id="try-{number}" {attrs} autocomplete="off">'
        f'<label>Your answer, {label}: <input type="text" name="answer" placeholder="{hint}" '
        f'style="{INPUT_STYLE}" '
        f'spellcheck="false"></label> <button type="submit" class="md-button">Check</button> '
        '<output class="naf-verdict" aria-live="polite"></output></form>'
    )
    lines = str(info.get("question", "")).splitlines()
    question = "\n".join("    " + line if line.strip() else "" for line in lines)
    return f'!!! question "Check your answer"\n{question}\n\n    {form}'
