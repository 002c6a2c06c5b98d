"""The notebooks' exercises, their worked solutions and a checker.

Every notebook ends with exercises. Those with a definite answer (a
group, yes or no, a number, a direction, a pair of attributes) are
checked::

    fnb.exercises.check("00.1", "Black")    # Right. / Not yet. + a hint
    fnb.exercises.solution("00.1")          # the worked solution

The reference answer is computed afresh from the data and the run folders
the exercise names (the newest matching runs), never from the solution's
code, so a check stays true as the code changes. ``python -m
fairnb.exercises`` writes the teacher's solution notebooks
(``notebooks/solutions/<notebook>.ipynb``) from the same source; the
tests run every solution after its notebook and check its answer.

Every notebook's exercises, 00 – 08 (:data:`EXERCISES`).
"""
from __future__ import annotations

from ..attributes import closest
from . import (
    comparison,
    dashboard,
    data,
    multifair,
    probing,
    prompting,
    runs,
    summaries,
    tour,
    training,
)
from .core import KINDS, Exercise, Verdict, compare

#: key ("03.2") -> exercise, in notebook order
EXERCISES: dict[str, Exercise] = {
    e.key: e for module in (tour, data, summaries, training, dashboard,
                            probing, comparison, multifair, prompting)
    for e in module.EXERCISES}

#: notebook number -> notebook stem
NOTEBOOKS = {"00": "00_tour", "01": "01_explore_data",
             "02": "02_summarize_notes", "03": "03_fairclip",
             "04": "04_fairness_dashboard", "05": "05_linear_probe",
             "06": "06_compare_methods", "07": "07_multifair",
             "08": "08_dualfairvl"}

__all__ = ["EXERCISES", "Exercise", "KINDS", "Verdict", "check",
           "default_preset", "exercise", "for_notebook", "multifair",
           "prompting", "run_solution", "runs", "solution"]


def exercise(key: str) -> Exercise:
    """The exercise ``key`` ("<notebook number>.<exercise number>")."""
    if key not in EXERCISES:
        near = closest(str(key), list(EXERCISES))
        raise ValueError(
            f"Unknown exercise {key!r}. Valid: {', '.join(EXERCISES)}."
            + (f" Did you mean {near!r}?" if near else ""))
    return EXERCISES[key]


def for_notebook(number: str) -> list[Exercise]:
    """The exercises of notebook ``number`` ("03"), in order."""
    return [e for e in EXERCISES.values() if e.notebook_number == number]


def default_preset() -> str:
    """The session's preset (``FAIRNB_PRESET``, e.g. ``make lab
    PRESET=workshop``), else ``demo``: the runs a check reads."""
    from ..config.base import session_preset
    return session_preset() or "demo"


def check(key: str, answer, *, preset: str | None = None) -> Verdict:
    """Whether ``answer`` to exercise ``key`` is right, with a hint when it
    is not; the reference comes from the newest runs of ``preset``
    (default: :func:`default_preset`).

    Examples
    --------
    >>> str(check("01.2", "darker"))[:17]
    'No single answer.'
    """
    ex = exercise(key)
    if not ex.checked:
        return compare(ex, answer, None)
    try:
        reference = ex.reference(preset=preset or default_preset())
    except FileNotFoundError as exc:
        return Verdict(None, f"Nothing to check against yet: {exc}")
    except (KeyError, IndexError) as exc:  # a run folder of an older layout
        stem = NOTEBOOKS[ex.notebook_number]
        return Verdict(None, f"The runs {key} reads lack what it needs "
                       f"({type(exc).__name__}: {exc}); they may come from "
                       f"an older fairnb: run {stem}.ipynb again.")
    return compare(ex, answer, reference)


class Solution:
    """A worked solution, shown as markdown in a notebook."""

    def __init__(self, ex: Exercise):
        self.exercise = ex

    def _repr_markdown_(self) -> str:
        ex = self.exercise
        return (f"**{ex.key}** {ex.question}\n\n```python\n{ex.code}\n```"
                f"\n\n{ex.explanation}")

    def __str__(self) -> str:
        ex = self.exercise
        return f"{ex.key} {ex.question}\n\n{ex.code}\n\n{ex.explanation}"


def solution(key: str) -> Solution:
    """The worked solution of exercise ``key`` (code and explanation)."""
    return Solution(exercise(key))


def run_solution(key: str, *, preset: str | None = None, epochs: int = 0
                 ) -> dict:
    """Run exercise ``key``'s solution code (after its notebook ran with
    ``preset``); returns its namespace (``answer`` where it is checked)."""
    import json

    import numpy as np
    import pandas as pd

    import fairnb as fnb
    namespace = {"fnb": fnb, "json": json, "np": np, "pd": pd,
                 "preset": preset or default_preset(), "epochs": epochs}
    exec(compile(exercise(key).code, f"<solution {key}>", "exec"),
         namespace)
    return namespace
