"""The Harvard-FairVLMed attribute schema: codes <-> group names.

Every group list, group count and name used anywhere in fairnb is derived
from :data:`SCHEMA`; nothing else hard-codes how many groups an attribute
has.

Used in: all notebooks.
"""
from __future__ import annotations

import difflib
import re
from typing import Iterable, Sequence

UNKNOWN = -1
UNKNOWN_NAME = "Unknown"

#: The five protected attributes of Harvard-FairVLMed (shared/METHODS.md §0.1).
SCHEMA: dict[str, dict[int, str]] = {
    "race": {0: "Asian", 1: "Black", 2: "White"},
    "gender": {0: "Female", 1: "Male"},
    "ethnicity": {0: "Non-Hispanic", 1: "Hispanic"},
    "language": {0: "English", 1: "Spanish", 2: "Other"},
    "maritalstatus": {
        0: "Married/Partnered",
        1: "Single",
        2: "Divorced",
        3: "Widowed",
        4: "Legally Separated",
    },
}
ATTRIBUTES: tuple[str, ...] = tuple(SCHEMA)

#: The four attributes the FairCLIP paper trains and reports on.
PAPER_ATTRIBUTES: tuple[str, ...] = ("race", "gender", "ethnicity", "language")

LABEL = "glaucoma"
LABEL_NAMES: dict[int, str] = {0: "Non-glaucoma", 1: "Glaucoma"}


def closest(value: str, choices: Iterable[str]) -> str | None:
    """Return the choice closest to ``value`` (for "did you mean" hints)."""
    found = difflib.get_close_matches(str(value), list(choices), n=1,
                                      cutoff=0.5)
    return found[0] if found else None


def check_choice(what: str, value, choices: Sequence) -> None:
    """Raise ``ValueError`` naming the valid choices and the closest one.

    Examples
    --------
    >>> check_choice("attribute", "race", ATTRIBUTES)
    >>> check_choice("attribute", "raec", ATTRIBUTES)
    Traceback (most recent call last):
    ...
    ValueError: Unknown attribute 'raec'. Valid choices: race, gender, \
ethnicity, language, maritalstatus. Did you mean 'race'?
    """
    if value in choices:
        return
    msg = (f"Unknown {what} {value!r}. Valid choices: "
           f"{', '.join(map(str, choices))}.")
    hint = closest(str(value), [str(c) for c in choices])
    if hint is not None:
        msg += f" Did you mean {hint!r}?"
    raise ValueError(msg)


def check_attribute(attribute: str) -> str:
    """Return ``attribute`` if it is in the schema, else raise."""
    check_choice("attribute", attribute, ATTRIBUTES)
    return attribute


def group_codes(attribute: str) -> list[int]:
    """Known group codes of ``attribute`` in code order (Unknown excluded)."""
    return sorted(SCHEMA[check_attribute(attribute)])


def group_names(attribute: str, *, include_unknown: bool = False) -> list[str]:
    """Group names of ``attribute`` in code order, optionally with Unknown."""
    groups = SCHEMA[check_attribute(attribute)]
    names = [groups[c] for c in group_codes(attribute)]
    return names + [UNKNOWN_NAME] if include_unknown else names


def n_groups(attribute: str) -> int:
    """Number of known groups of ``attribute``."""
    return len(SCHEMA[check_attribute(attribute)])


def code_to_name(attribute: str, code: int) -> str:
    """Group name of ``code``; -1 gives ``"Unknown"``."""
    code = int(code)
    if code == UNKNOWN:
        return UNKNOWN_NAME
    groups = SCHEMA[check_attribute(attribute)]
    if code not in groups:
        raise ValueError(
            f"Code {code} is not a {attribute} group. Valid codes: "
            + ", ".join(f"{c} ({n})" for c, n in groups.items())
            + f", {UNKNOWN} ({UNKNOWN_NAME}).")
    return groups[code]


def name_to_code(attribute: str, name: str) -> int:
    """Code of a group name (case-insensitive; slugs such as
    ``"married_partnered"`` are accepted too)."""
    groups = SCHEMA[check_attribute(attribute)]
    lookup = {n.lower(): c for c, n in groups.items()}
    lookup.update({group_slug(n): c for c, n in groups.items()})
    lookup[UNKNOWN_NAME.lower()] = UNKNOWN
    key = str(name).strip().lower()
    if key not in lookup:
        check_choice(f"{attribute} group", name,
                     group_names(attribute, include_unknown=True))
    return lookup[key]


def group_slug(name: str) -> str:
    """Lower-case key of a group name for flat metric keys.

    Examples
    --------
    >>> group_slug("Married/Partnered")
    'married_partnered'
    """
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")


def is_valid_code(attribute: str, code: int) -> bool:
    """True for a known group code or Unknown (-1)."""
    groups = SCHEMA[check_attribute(attribute)]
    return int(code) == UNKNOWN or int(code) in groups


def parse_attributes(value) -> list[str]:
    """Accept ``"race,gender"``, ``["race", "gender"]`` or ``"all"``."""
    if value in ("all", "", None):
        return list(ATTRIBUTES)
    items = value.split(",") if isinstance(value, str) else list(value)
    out = [str(v).strip() for v in items if str(v).strip()]
    for a in out:
        check_attribute(a)
    return out
