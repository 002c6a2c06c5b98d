"""Data cards: the required sections, and statistics filled from data.

A card (``data_cards/*.md``) has one ``## `` heading per entry of
:data:`REQUIRED_SECTIONS`; :func:`fill_stats` rewrites only the text between
:data:`STATS_START` and :data:`STATS_END`, leaving the prose as written.

Used in: 01_explore_data.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Sequence

import pandas as pd

from . import attributes as schema

REQUIRED_SECTIONS: tuple[str, ...] = (
    "Summary", "Source and collection", "Composition", "Demographics",
    "Labels", "Splits", "Preprocessing and de-identification",
    "Licence and access", "Intended uses", "Out-of-scope uses",
    "Known limitations and disparities", "PHI rules", "Maintenance")
STATS_START = "<!-- stats:start -->"
STATS_END = "<!-- stats:end -->"
SPLIT_ORDER: tuple[str, ...] = ("train", "val", "test")

_HEADING = re.compile(r"^##\s+(.+?)\s*#*\s*$")


def _headings(text: str) -> list[str]:
    found, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (m := _HEADING.match(line)):
            found.append(m.group(1).strip().lower())
    return found


def check_card(path: str | os.PathLike) -> list[str]:
    """Required sections that the card at ``path`` lacks (empty = ok).

    A section is present when a level-2 heading (``## Title``) matches its
    title, ignoring case; headings inside code fences do not count.
    """
    present = set(_headings(Path(path).read_text(encoding="utf-8")))
    return [s for s in REQUIRED_SECTIONS if s.lower() not in present]


def validate_card(path: str | os.PathLike) -> None:
    """Raise ``ValueError`` listing the required sections ``path`` lacks."""
    if missing := check_card(path):
        raise ValueError(f"Data card {path} lacks the required section(s): "
                         + ", ".join(f"'## {s}'" for s in missing) + ".")


def _splits(meta: pd.DataFrame) -> list[str]:
    present = list(dict.fromkeys(meta["split"].astype(str)))
    known = [s for s in SPLIT_ORDER if s in present]
    return known + sorted(s for s in present if s not in SPLIT_ORDER)


def _count(n: int, total: int) -> str:
    return f"{n:,} ({100 * n / total:.1f}%)" if total else "0 (—)"


def _age(values: pd.Series) -> str:
    values = values.dropna()
    if len(values) < 2:
        return f"{values.mean():.1f}" if len(values) else "—"
    return f"{values.mean():.1f} ± {values.std(ddof=1):.1f}"


def stats_table(meta: pd.DataFrame, *,
                attributes: Sequence[str] = schema.ATTRIBUTES) -> str:
    """Markdown table of group counts and shares per split.

    A cell reads ``n (p%)`` with :math:`p = 100\\,n_{g,s} / n_s`, the
    share of group :math:`g` in split :math:`s` ("All" pools the splits);
    an ``Unknown`` row (code -1) appears only when the data hold one. Last
    come age, mean ± sd (ddof = 1), and prevalence of ``label == 1``.

    Parameters
    ----------
    meta : pandas.DataFrame, shape (n_samples, ...)
        Columns ``split`` (train / val / test), ``label`` (0/1), ``age``,
        and one integer-code column per name in ``attributes``.
    attributes : sequence of str
        Attributes to tabulate, in order (default: all of the schema).

    Returns
    -------
    str
        The table, without a trailing newline. Raises ``ValueError`` for an
        attribute outside the schema or a missing column.

    Examples
    --------
    >>> meta = pd.DataFrame({"split": ["train", "train", "test"],
    ...                      "label": [1, 0, 1], "age": [50, 70, 60],
    ...                      "gender": [0, 1, 0]})
    >>> print(stats_table(meta, attributes=["gender"]).splitlines()[2])
    | gender | Female | 1 (50.0%) | 1 (100.0%) | 2 (66.7%) |
    """
    need = ("split", "label", "age", *map(schema.check_attribute, attributes))
    if missing := [c for c in need if c not in meta.columns]:
        raise ValueError(f"meta lacks column(s): {', '.join(missing)}.")
    splits = _splits(meta)
    parts = [meta[meta["split"].astype(str) == s] for s in splits] + [meta]
    head = ["Attribute", "Group", *(s.capitalize() for s in splits), "All"]
    rows = [head, ["---"] * len(head)]
    for a in attributes:
        unknown = [schema.UNKNOWN] if (meta[a] == schema.UNKNOWN).any() else []
        for code in schema.group_codes(a) + unknown:
            rows.append([a, schema.code_to_name(a, code)] + [
                _count(int((p[a] == code).sum()), len(p)) for p in parts])
    rows.append(["age", "mean ± sd"] + [_age(p["age"]) for p in parts])
    rows.append(["glaucoma", "prevalence"] + [
        _count(int((p["label"] == 1).sum()), len(p)) for p in parts])
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def fill_stats(path: str | os.PathLike, meta: pd.DataFrame, *,
               attributes: Sequence[str] = schema.ATTRIBUTES) -> str:
    """Replace the text between the stats markers with :func:`stats_table`.

    The file is replaced atomically (temporary file in the same folder,
    then ``os.replace``) and keeps its line endings; filling twice with the
    same data gives the same file. Returns the card's new text; raises
    ``ValueError`` naming the markers when they are missing, repeated or
    out of order.
    """
    path = Path(path)
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    start, end = text.find(STATS_START), text.find(STATS_END)
    if (start < 0 or end < start or text.count(STATS_START) != 1
            or text.count(STATS_END) != 1):
        raise ValueError(
            f"Data card {path} needs exactly one '{STATS_START}' line "
            f"followed by one '{STATS_END}' line around its statistics "
            "table; add them under '## Demographics'.")
    newline = "\r\n" if "\r\n" in text else "\n"
    table = stats_table(meta, attributes=attributes).replace("\n", newline)
    new = (text[:start + len(STATS_START)] + newline + table + newline
           + text[end:])
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(new)
        os.chmod(tmp, path.stat().st_mode & 0o777)  # mkstemp gives 0600
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return new
