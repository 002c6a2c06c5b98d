"""Presidio for :mod:`fairnb.deid` (optional: ``pip install -e
'.[presidio]'`` and a spaCy English model). Its named-entity recogniser
adds names and places the rules cannot see.

Used in: 02_summarize_notes (through :mod:`fairnb.deid`).
"""
from __future__ import annotations

import re
from functools import lru_cache

from .rules import PLACEHOLDER_RE

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
FIX = ("engine='presidio' needs Presidio and a spaCy English "
                 "model: pip install presidio-analyzer presidio-anonymizer "
                 "&& python -m spacy download en_core_web_lg (or use "
                 "engine='rules').")


@lru_cache(maxsize=1)
def engines():
    """Presidio's analyzer and anonymizer engines, built once."""
    try:
        import spacy
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_anonymizer import AnonymizerEngine
    except ImportError as err:
        raise ImportError(FIX) from err
    model = next((m for m in _SPACY_MODELS if spacy.util.is_package(m)),
                 None)
    if model is None:
        found = ", ".join(_SPACY_MODELS)
        raise ImportError(f"No spaCy English model found ({found}). "
                          + FIX)
    nlp = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": model}],
    }).create_engine()
    return (AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"]),
            AnonymizerEngine())


@lru_cache(maxsize=1)
def ready() -> bool:
    try:
        engines()
    except (ImportError, OSError):
        return False
    return True


def matches(text: str) -> list[tuple[str, int, int]]:
    # Dates are left to the rules: Presidio's DATE_TIME also takes
    # durations such as "3 months" and "daily", which are clinical content.
    analyzer, _ = engines()
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


def replace(text: str, spans: list) -> str:
    from presidio_anonymizer.entities import OperatorConfig, RecognizerResult
    _, anonymizer = engines()
    results = [RecognizerResult(s.kind, s.start, s.end, 1.0) for s in spans]
    operators = {k: OperatorConfig("replace", {"new_value": f"<{k}>"})
                 for k in {s.kind for s in spans}}
    return anonymizer.anonymize(text=text, analyzer_results=results,
                                operators=operators).text
