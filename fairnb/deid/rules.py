"""The rules of :mod:`fairnb.deid`: one regular expression per kind of
PHI, tuned to glaucoma-clinic notes so that clinical numbers (IOP, C/D,
RNFL, MD in dB, visual acuity 20/40, doses, ages up to 89) stay.

Used in: 02_summarize_notes (through :mod:`fairnb.deid`).
"""
from __future__ import annotations

import re

#: Kinds of PHI; each becomes the placeholder ``<KIND>``.
PLACEHOLDERS: tuple[str, ...] = (
    "PERSON_NAME", "DATE", "PHONE_NUMBER", "EMAIL_ADDRESS", "URL", "MRN",
    "STREET_ADDRESS", "ZIP_CODE", "AGE", "US_SSN", "IP_ADDRESS",
    "LOCATION")
PLACEHOLDER_RE = re.compile(r"<(" + "|".join(PLACEHOLDERS) + r")>")


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


def span(match: re.Match) -> tuple[int, int]:
    if "phi" in match.re.groupindex and match.group("phi") is not None:
        return match.span("phi")
    return match.span()


def rule_matches(text: str) -> list[tuple[str, int, int]]:
    placeholders = [m.span() for m in PLACEHOLDER_RE.finditer(text)]
    found = []
    for kind, rx in _COMPILED:
        for m in rx.finditer(text):
            s, e = span(m)
            if not any(s < pe and ps < e for ps, pe in placeholders):
                found.append((kind, s, e))
    return found
