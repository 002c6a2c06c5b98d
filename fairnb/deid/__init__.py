"""De-identify clinical notes: find and scrub protected health information.

The FairCLIP authors de-identified the Harvard-FairVLMed notes with
Microsoft Presidio before summarising them with GPT-4. This module does
the same with hand-written rules tuned to glaucoma-clinic notes: names
after titles, dates, phone and record numbers, e-mails, URLs, street
addresses, ZIP codes, SSNs and ages over 89 are replaced by placeholders,
while clinical numbers (IOP, C/D, RNFL, MD in dB, visual acuity 20/40,
doses, follow-up intervals, ages up to 89) are left untouched. When
Presidio and a spaCy model are installed, ``engine="presidio"`` adds its
named-entity recogniser on top of the rules.

Each span is replaced by its kind in angle brackets, e.g.
``"seen by Dr. <PERSON_NAME> on <DATE>"``. Placeholders are never
detected again, so scrubbing is idempotent.

Used in: 02_summarize_notes.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from ..attributes import check_choice
from . import presidio
from .rules import PLACEHOLDER_RE, PLACEHOLDERS, rule_matches

ENGINES: tuple[str, ...] = ("auto", "rules", "presidio")


class PHIError(ValueError):
    """A note still holds PHI; raised by :func:`check_scrubbed`."""


@dataclass(frozen=True)
class PHISpan:
    """One piece of PHI: ``text[start:end]`` of kind ``kind``."""

    kind: str
    start: int
    end: int
    text: str


@dataclass
class ScrubReport:
    """Scrubbed notes with what was replaced.

    Attributes
    ----------
    texts : list of str
        The scrubbed notes, in input order.
    counts : dict of str to int
        Placeholders inserted, per kind (every kind of
        :data:`PLACEHOLDERS`, zeros included).
    n_changed : int
        Number of notes that differ from their input.
    """

    texts: list[str]
    counts: dict[str, int]
    n_changed: int

    def __repr__(self) -> str:
        # Short on purpose: a notebook showing the report shows no notes.
        found = {k: n for k, n in self.counts.items() if n}
        return (f"ScrubReport(n={len(self.texts)}, n_changed="
                f"{self.n_changed}, counts={found})")


def _resolve(text: str, found: Iterable[tuple[str, int, int]]
             ) -> list[PHISpan]:
    """Non-overlapping spans, earliest first, longer first on ties."""
    kept, end = [], -1
    for kind, s, e in sorted(found, key=lambda t: (t[1], t[1] - t[2])):
        if s >= end and e > s:
            kept.append(PHISpan(kind, s, e, text[s:e]))
            end = e
    return kept


def find_phi(text: str) -> list[PHISpan]:
    """Spans of ``text`` that the rules take for PHI.

    Parameters
    ----------
    text : str
        One clinical note.

    Returns
    -------
    list of PHISpan
        Non-overlapping spans sorted by ``start``; where rules overlap, the
        earliest and then the longest span wins. Placeholders such as
        ``<DATE>`` are never reported.

    Examples
    --------
    >>> [s.kind for s in find_phi("Seen by Dr. Smith on 01/02/2023.")]
    ['PERSON_NAME', 'DATE']
    >>> find_phi("IOP 18 mmHg OD, VA 20/40, C/D 0.7, age 67")
    []
    """
    return _resolve(str(text), rule_matches(str(text)))


# Scrubbing ------------------------------------------------------------------
def _engine(engine: str) -> str:
    check_choice("engine", engine, ENGINES)
    if engine == "auto":
        return "presidio" if presidio.ready() else "rules"
    if engine == "presidio":
        presidio.engines()  # raises the ImportError with its fix
    return engine


def _scrub(text: str, engine: str) -> tuple[str, list[PHISpan]]:
    found = rule_matches(text)
    if engine == "rules":
        spans = _resolve(text, found)
        out = text
        for s in reversed(spans):
            out = out[:s.start] + f"<{s.kind}>" + out[s.end:]
        return out, spans
    spans = _resolve(text, found + presidio.matches(text))
    return presidio.replace(text, spans), spans


def scrub(text: str, *, engine: str = "auto") -> str:
    """Replace every PHI span of ``text`` by ``<KIND>``.

    Parameters
    ----------
    text : str
        One clinical note.
    engine : {"auto", "rules", "presidio"}
        ``"rules"`` uses :func:`find_phi` alone. ``"presidio"`` adds
        Presidio's recognisers (people, locations, contacts) to the rules
        and needs ``presidio-analyzer``, ``presidio-anonymizer`` and a
        spaCy English model. ``"auto"`` takes Presidio when it loads and
        the rules otherwise.

    Returns
    -------
    str
        The note with placeholders such as ``<PERSON_NAME>``; scrubbing it
        again changes nothing.

    Raises
    ------
    ValueError
        For an unknown ``engine``.
    ImportError
        For ``engine="presidio"`` when Presidio or its model is missing.

    Examples
    --------
    >>> scrub("Dr. Jane Doe saw the 92-year-old on Jan 2, 2023.",
    ...       engine="rules")
    'Dr. <PERSON_NAME> saw the <AGE>-year-old on <DATE>.'

    References
    ----------
    Luo et al., "FairCLIP: Harnessing Fairness in Vision-Language
    Learning", CVPR 2024 (notes de-identified with Presidio).
    """
    return _scrub(str(text), _engine(engine))[0]


def _as_list(texts) -> list[str]:
    return [texts] if isinstance(texts, str) else [str(t) for t in texts]


def scrub_notes(texts: Iterable[str], *, engine: str = "auto"
                ) -> ScrubReport:
    """Scrub many notes and count the placeholders inserted per kind.

    Parameters
    ----------
    texts : iterable of str
        Clinical notes (a single string counts as one note).
    engine : {"auto", "rules", "presidio"}
        As in :func:`scrub`.

    Returns
    -------
    ScrubReport
        ``texts``, ``counts`` per kind and ``n_changed``.
    """
    engine = _engine(engine)
    counts = Counter({k: 0 for k in PLACEHOLDERS})
    out, changed = [], 0
    for text in _as_list(texts):
        clean, spans = _scrub(text, engine)
        counts.update(s.kind for s in spans)
        changed += clean != text
        out.append(clean)
    return ScrubReport(texts=out, counts=dict(counts), n_changed=changed)


def count_placeholders(texts: Iterable[str]) -> dict[str, int]:
    """Placeholders already present in ``texts``, per kind.

    Examples
    --------
    >>> count_placeholders(["<DATE> and <DATE>", "Dr. <PERSON_NAME>"])["DATE"]
    2
    """
    counts = Counter({k: 0 for k in PLACEHOLDERS})
    for text in _as_list(texts):
        counts.update(m.group(1) for m in PLACEHOLDER_RE.finditer(text))
    return dict(counts)


def check_scrubbed(texts: Iterable[str]) -> None:
    """Raise :class:`PHIError` if any note still holds PHI.

    Called before notes leave the machine. The message names the first
    offending note and the kinds found, never the PHI itself.

    Raises
    ------
    PHIError
        When :func:`find_phi` finds anything in a note.
    """
    texts = _as_list(texts)
    flagged = [(i, sorted({s.kind for s in find_phi(t)}))
               for i, t in enumerate(texts)]
    flagged = [(i, kinds) for i, kinds in flagged if kinds]
    if flagged:
        i, kinds = flagged[0]
        raise PHIError(
            f"Note {i} still contains PHI ({', '.join(kinds)}); "
            f"{len(flagged)} of {len(texts)} notes are affected. Scrub them "
            f"first with fairnb.deid.scrub_notes(notes).")
