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

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from .attributes import check_choice

#: Kinds of PHI; each becomes the placeholder ``<KIND>``.
PLACEHOLDERS: tuple[str, ...] = (
    "PERSON_NAME", "DATE", "PHONE_NUMBER", "EMAIL_ADDRESS", "URL", "MRN",
    "STREET_ADDRESS", "ZIP_CODE", "AGE", "US_SSN", "IP_ADDRESS",
    "LOCATION")
ENGINES: tuple[str, ...] = ("auto", "rules", "presidio")
PLACEHOLDER_RE = re.compile(r"<(" + "|".join(PLACEHOLDERS) + r")>")


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


# Rules ----------------------------------------------------------------------
def _months() -> str:
    names = ("January February March April May June July August September "
             "October November December").split()
    short = [n[:3] for n in names] + ["Sept"]
    forms = sorted({f for n in names + short for f in (n, n.upper())},
                   key=len, reverse=True)
    # Abbreviations may carry a dot ("Jan."); "May" must stay capitalised
    # so that the verb "may" is never taken for a month.
    return r"(?:" + "|".join(forms) + r")\.?"


_MON = _months()
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d{2}"
# Capitalised word holding a lower-case letter: "Smith", "O'Brien",
# "McDonald", "Núñez", but not "OD", "OS" or "IOP".
_NAME = r"[A-ZÀ-ÖØ-Þ][\w'\-]*[a-zß-öø-ÿ][\w'\-]*"
_TITLE = r"(?:Dr|Mr|Mrs|Ms|Miss|Prof)"
_NAMES = rf"{_NAME}(?:\s+[A-Z]\.)?(?:\s+{_NAME})?"
_STREET = (r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr"
           r"|Court|Ct|Place|Pl|Way|Terrace|Ter|Circle|Cir|Parkway|Pkwy"
           r"|Highway|Hwy|Square|Sq")
_STATES = ("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD "
           "MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD "
           "TN TX UT VT VA WA WV WI WY PR").replace(" ", "|")
_OLD = r"(?<![\d.])(?P<phi>9\d|1[01]\d)"  # 90 to 119

# (kind, pattern); the named group "phi" is the span when present, so that
# labels and titles ("MRN:", "Dr.") stay readable.
_RULES: tuple[tuple[str, str], ...] = (
    ("EMAIL_ADDRESS", r"[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),
    ("URL", r"(?:\bhttps?://|\bwww\.)[^\s<>\"']+?(?=[.,;:!?)\]]*(?:\s|$))"),
    ("US_SSN", r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])"
               r"|(?i:\bSSN\b)\W{0,3}(?P<phi>\d{9})\b"),
    ("IP_ADDRESS", r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}"
                   r"(?:25[0-5]|2[0-4]\d|1?\d?\d)(?!\w|\.\d)"),
    ("PHONE_NUMBER", r"(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])"
                     r"\d{3}[\s.-]\d{4}(?![\w-])|(?<![\w./-])\d{3}-\d{4}"
                     r"(?![\w-])"),
    ("DATE", rf"(?<![\w./-])(?:\d{{1,2}}[/-]\d{{1,2}}[/-](?:{_YEAR}|\d{{2}})"
             rf"|{_YEAR}[/-]\d{{1,2}}[/-]\d{{1,2}}"
             rf"|(?:0?[1-9]|1[0-2])/{_YEAR})(?![\w/-]|\.\d)"),
    ("DATE", rf"\b(?:{_MON}\s+{_DAY}(?:,?\s+{_YEAR})?"
             rf"|{_DAY}\s+{_MON}(?:,?\s+{_YEAR})?|{_MON},?\s+{_YEAR})\b"),
    ("PERSON_NAME", rf"\b{_TITLE}\.?\s+(?P<phi>{_NAMES})"),
    ("PERSON_NAME", rf"\b(?i:(?:patient(?:'s)?\s+)?name\s*:|(?:co)?signed"
                    rf"\s+by|dictated\s+by|seen\s+by|referred\s+by)\s*"
                    rf"(?!{_TITLE}\b)(?P<phi>{_NAME}(?:\s+{_NAME}){{1,2}})"),
    ("PERSON_NAME", rf"\b(?P<phi>{_NAME}(?:\s+[A-Z]\.)?\s+{_NAME}),\s*"
                    rf"(?:MD|DO|PhD|RN|NP)\b"),
    ("STREET_ADDRESS", rf"\b\d{{1,6}}\s+(?:[A-Z0-9][\w'.-]*\s+){{1,4}}"
                       rf"(?:{_STREET})\b(?:\.?,?\s*(?:Apt|Apartment"
                       rf"|Suite|Ste|Unit|#)\.?\s*[\w-]+)?"),
    ("ZIP_CODE", rf"\b(?:{_STATES})\s+(?P<phi>\d{{5}}(?:-\d{{4}})?)\b"),
    ("MRN", r"(?i:\b(?:MRN|medical\s+record|record|chart|account|acct"
            r"|patient\s+id)\b|\bMR\s*#)\s*(?i:number|no\.?|#)?\s*[:#]?\s*"
            r"(?P<phi>[A-Z]{0,3}\d[\d-]{3,}\d)\b"),
    ("MRN", r"(?<![\d.,])\d{6,}(?!\d|[.,]\d)"),
    ("AGE", rf"{_OLD}(?=\s*-?\s*(?:years?|yrs?)[\s-]*old\b|\s*(?:yo\b"
            rf"|y/o\b|y\.o\.|years?\s+of\s+age\b))"),
    ("AGE", rf"\b(?i:aged?)\s*:?\s*{_OLD}\b(?!\.\d)"),
)
_COMPILED = tuple((kind, re.compile(p)) for kind, p in _RULES)


def _span(match: re.Match) -> tuple[int, int]:
    if "phi" in match.re.groupindex and match.group("phi") is not None:
        return match.span("phi")
    return match.span()


def _resolve(text: str, found: Iterable[tuple[str, int, int]]
             ) -> list[PHISpan]:
    """Non-overlapping spans, earliest first, longer first on ties."""
    kept, end = [], -1
    for kind, s, e in sorted(found, key=lambda t: (t[1], t[1] - t[2])):
        if s >= end and e > s:
            kept.append(PHISpan(kind, s, e, text[s:e]))
            end = e
    return kept


def _rule_matches(text: str) -> list[tuple[str, int, int]]:
    placeholders = [m.span() for m in PLACEHOLDER_RE.finditer(text)]
    found = []
    for kind, rx in _COMPILED:
        for m in rx.finditer(text):
            s, e = _span(m)
            if not any(s < pe and ps < e for ps, pe in placeholders):
                found.append((kind, s, e))
    return found


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
    return _resolve(str(text), _rule_matches(str(text)))


# Presidio -------------------------------------------------------------------
_SPACY_MODELS = ("en_core_web_lg", "en_core_web_md", "en_core_web_sm")
# E-mails and URLs are left to the rules: Presidio's recognisers for them
# try to download a domain list, which fails or leaks on offline machines.
_PRESIDIO_KINDS = {"PERSON": "PERSON_NAME", "LOCATION": "LOCATION",
                   "PHONE_NUMBER": "PHONE_NUMBER", "US_SSN": "US_SSN",
                   "IP_ADDRESS": "IP_ADDRESS"}
# spaCy tags the eponyms of eye tests and devices as people.
_EPONYMS = frozenset(
    "Amsler Axenfeld Bowman Descemet Fuchs Goldmann Heidelberg Hertel "
    "Humphrey Hruby Ishihara Krukenberg Posner Rieger Sampaolesi Schlemm "
    "Schiotz Seidel Shaffer Snellen Spectralis Zeiss Cirrus Octopus".split())
_PRESIDIO_FIX = ("engine='presidio' needs Presidio and a spaCy English "
                 "model: pip install presidio-analyzer presidio-anonymizer "
                 "&& python -m spacy download en_core_web_lg (or use "
                 "engine='rules').")


@lru_cache(maxsize=1)
def _presidio():
    """Presidio's analyzer and anonymizer engines, built once."""
    try:
        import spacy
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_anonymizer import AnonymizerEngine
    except ImportError as err:
        raise ImportError(_PRESIDIO_FIX) from err
    model = next((m for m in _SPACY_MODELS if spacy.util.is_package(m)),
                 None)
    if model is None:
        found = ", ".join(_SPACY_MODELS)
        raise ImportError(f"No spaCy English model found ({found}). "
                          + _PRESIDIO_FIX)
    nlp = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": model}],
    }).create_engine()
    return (AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"]),
            AnonymizerEngine())


@lru_cache(maxsize=1)
def _presidio_ready() -> bool:
    try:
        _presidio()
    except (ImportError, OSError):
        return False
    return True


def _presidio_matches(text: str) -> list[tuple[str, int, int]]:
    # Dates are left to the rules: Presidio's DATE_TIME also takes
    # durations such as "3 months" and "daily", which are clinical content.
    analyzer, _ = _presidio()
    placeholders = [m.span() for m in PLACEHOLDER_RE.finditer(text)]
    found = []
    for r in analyzer.analyze(text=text, language="en",
                              entities=list(_PRESIDIO_KINDS),
                              score_threshold=0.5):
        words = set(re.findall(r"\w+", text[r.start:r.end]))
        if r.entity_type == "PERSON" and words <= _EPONYMS:
            continue
        if not any(r.start < e and s < r.end for s, e in placeholders):
            found.append((_PRESIDIO_KINDS[r.entity_type], r.start, r.end))
    return found


def _presidio_replace(text: str, spans: list[PHISpan]) -> str:
    from presidio_anonymizer.entities import OperatorConfig, RecognizerResult
    _, anonymizer = _presidio()
    results = [RecognizerResult(s.kind, s.start, s.end, 1.0) for s in spans]
    operators = {k: OperatorConfig("replace", {"new_value": f"<{k}>"})
                 for k in {s.kind for s in spans}}
    return anonymizer.anonymize(text=text, analyzer_results=results,
                                operators=operators).text


# Scrubbing ------------------------------------------------------------------
def _engine(engine: str) -> str:
    check_choice("engine", engine, ENGINES)
    if engine == "auto":
        return "presidio" if _presidio_ready() else "rules"
    if engine == "presidio":
        _presidio()  # raises the ImportError with its fix
    return engine


def _scrub(text: str, engine: str) -> tuple[str, list[PHISpan]]:
    found = _rule_matches(text)
    if engine == "rules":
        spans = _resolve(text, found)
        out = text
        for s in reversed(spans):
            out = out[:s.start] + f"<{s.kind}>" + out[s.end:]
        return out, spans
    spans = _resolve(text, found + _presidio_matches(text))
    return _presidio_replace(text, spans), spans


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
