"""An exercise, its worked solution, and the verdict of a checked answer."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

#: kinds of answer a checker compares (``open``: no single answer)
KINDS = ("group", "choice", "yesno", "number", "pair", "direction", "open")

_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}
_DIRECTIONS = {
    "higher": {"higher", "up", "rises", "increases", "increase", "larger",
               "more", "better"},
    "lower": {"lower", "down", "falls", "decreases", "decrease", "smaller",
              "less", "worse"},
    "same": {"same", "unchanged", "equal", "no change"}}


@dataclass(frozen=True)
class Verdict:
    """What :func:`fairnb.exercises.check` says of an answer: ``correct``
    (None where the exercise has no single answer) and a message with
    the hint or the reason. Truthy only when right."""

    correct: bool | None
    message: str

    def __bool__(self) -> bool:
        return bool(self.correct)

    @property
    def headline(self) -> str:
        return {True: "Right.", False: "Not yet.",
                None: "No single answer."}[self.correct]

    def __str__(self) -> str:
        return f"{self.headline} {self.message}"

    def _repr_markdown_(self) -> str:
        return f"**{self.headline}** {self.message}"


@dataclass(frozen=True)
class Exercise:
    """One exercise of a notebook.

    ``code`` is the worked solution: Python that runs with ``fnb``
    (fairnb), ``json``, ``pd``, ``np``, ``preset`` and ``epochs`` (0: the
    preset's) defined, after the notebook itself has run with that preset, and
    that sets ``answer`` where the exercise is checked. ``reference``
    computes the right answer afresh from the data and the run folders
    (never from ``answer``), with the same ``preset``.
    """

    key: str
    question: str
    code: str
    explanation: str
    kind: str = "open"
    reference: Callable[..., Any] | None = None
    tolerance: float = 0.0
    hint: str = ""

    @property
    def notebook_number(self) -> str:
        return self.key.split(".")[0]

    @property
    def checked(self) -> bool:
        return self.kind != "open"


def _text(value) -> str:
    return " ".join(str(value).strip().lower().replace("_", " ").split())


def compare(exercise: Exercise, answer, reference) -> Verdict:
    """Whether ``answer`` matches ``reference`` for the exercise's kind."""
    kind, hint = exercise.kind, exercise.hint
    if kind == "open":
        return Verdict(None, "Compare your reasoning with "
                       f"fnb.exercises.solution({exercise.key!r}).")
    if kind == "number":
        undefined = _is_none(reference)
        if _is_none(answer) or undefined:  # "none": no number applies
            ok = _is_none(answer) and undefined
            return Verdict(ok, "No number applies on these runs." if ok
                           else hint)
        try:
            value = float(answer)
        except (TypeError, ValueError):
            return Verdict(False, f"Answer with a number; got {answer!r}.")
        ok = abs(value - float(reference)) <= exercise.tolerance
        return Verdict(ok, f"The runs give {float(reference):.4g}." if ok
                       else hint)
    if kind == "yesno":
        text = _text(answer)
        if text not in _YES | _NO:
            return Verdict(False, f"Answer yes or no; got {answer!r}.")
        ok = (text in _YES) == bool(reference)
    elif kind == "direction":
        text = _text(answer)
        said = [d for d, words in _DIRECTIONS.items() if text in words]
        if not said:
            return Verdict(False, "Answer higher, lower or same; got "
                           f"{answer!r}.")
        ok = said[0] == reference
    elif kind == "pair":
        items = answer.split(",") if isinstance(answer, str) else answer
        ok = {_text(a) for a in items} == {_text(r) for r in reference}
    elif kind in ("group", "choice"):
        ok = _text(answer) == _text(reference)
    else:
        raise ValueError(f"Unknown kind {kind!r}; valid: {', '.join(KINDS)}.")
    return Verdict(ok, f"The runs say {_shown(reference)}." if ok else hint)


def _is_none(value) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return _text(value) in ("none", "nan", "")
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _shown(reference) -> str:
    if isinstance(reference, bool):
        return "yes" if reference else "no"
    if isinstance(reference, (tuple, list, set, frozenset)):
        return " and ".join(map(str, sorted(reference)))
    return str(reference)
