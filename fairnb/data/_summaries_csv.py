"""The summarized-notes CSV beside a dataset (official layout: ``File
Name``, ``Original Note``, ``Summarized Note``): which one, and its
summaries checked by column name."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import paths
from .layout import _FOLDERS, OFFICIAL_SUMMARIES, DatasetError


def _some(names) -> str:
    names = sorted(names)
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return ", ".join(f"{n}.npz" for n in names[:5]) + more

def _find_summaries(root: Path, summaries) -> Path | None:
    if summaries is None:
        return None
    if summaries == "auto":
        for name in OFFICIAL_SUMMARIES:
            if (root / name).is_file():
                return root / name
        found = sorted(root.glob("*_summarized_notes.csv"))
        if len(found) > 1:
            raise DatasetError(
                f"{root} has several summaries CSVs "
                f"({', '.join(p.name for p in found)}); summaries='auto' "
                "will not guess. Pass summaries=<one of them> or None.")
        return found[0] if found else None
    path = Path(summaries).expanduser()
    if not path.is_absolute():
        path = root / path if (root / path).is_file() else paths.resolve(path)
    if not path.is_file():
        raise DatasetError(
            f"Summaries file {path} does not exist. Pass a CSV with columns "
            "File Name, Original Note, Summarized Note, 'auto' or None.")
    return path


#: header names accepted for each role (compared without case, spaces,
#: underscores or hyphens); the official layout's names come first
COLUMN_ALIASES = {
    "file": ("File Name", "filename", "file", "npz", "npz file"),
    "summary": ("Summarized Note", "summary", "summarised note",
                "summarized notes", "gpt4 summary", "gpt-4 summary"),
    "original": ("Original Note", "original notes", "note"),
}


def _key(name) -> str:
    return "".join(c for c in str(name).casefold() if c.isalnum())


def summary_columns(columns, csv) -> tuple[str, str]:
    """The (file, summary) columns of a summaries CSV, found by header name.

    A header with none of the known names is read by position as the
    released FairCLIP code does (file first, summary third), with a
    warning; a header that names some roles but not both needed ones, or
    names one twice, is refused with the columns found and expected.

    Examples
    --------
    >>> summary_columns(["Summarized Note", "file_name", "x"], "s.csv")
    ('file_name', 'Summarized Note')
    """
    columns = [str(c) for c in columns]
    found: dict[str, list[str]] = {}
    for c in columns:
        for role, names in COLUMN_ALIASES.items():
            if _key(c) in {_key(n) for n in names}:
                found.setdefault(role, []).append(c)
    expected = ("expected a header with a file column (File Name) and a "
                "summary column (Summarized Note); accepted names: " +
                "; ".join(f"{r}: {', '.join(n)}"
                          for r, n in COLUMN_ALIASES.items()))
    twice = {r: c for r, c in found.items() if len(c) > 1}
    if twice:
        raise DatasetError(
            f"{csv} names the same column twice ({twice}); {expected}. "
            "Fix: keep one column per role.")
    if "file" in found and "summary" in found:
        return found["file"][0], found["summary"][0]
    if not found and len(columns) >= 3:
        import warnings
        warnings.warn(
            f"{csv}: no known header names ({', '.join(columns)}); reading "
            f"{columns[0]!r} as the file name and {columns[2]!r} as the "
            "summary, by position as the released FairCLIP code does. "
            "Rename them File Name, Original Note, Summarized Note to be "
            "sure.", stacklevel=3)
        return columns[0], columns[2]
    raise DatasetError(
        f"{csv} has columns {', '.join(columns) or '(none)'}; {expected}. "
        "Fix: rename the columns (File Name, Original Note, Summarized "
        "Note) or pass summaries='none'.")


def _read_summaries(csv: Path, wanted: set[str], root: Path) -> dict:
    try:
        df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"{csv} is not UTF-8 text ({exc.reason} at byte {exc.start}). "
            "Fix: save it as UTF-8 (e.g. in Python: open(path, "
            "encoding='cp1252').read() then write with encoding='utf-8')."
        ) from exc
    except Exception as exc:
        raise DatasetError(f"Cannot read {csv}: {exc}. Re-create it as a "
                           "CSV with a header row.") from exc
    file_col, summary_col = summary_columns(df.columns, csv)
    ids = [Path(n.strip()).name.removesuffix(".npz") for n in df[file_col]]
    table = dict(zip(ids, (t.strip() for t in df[summary_col])))
    known = {p.stem for n in sum(_FOLDERS.values(), ())
             for p in (root / n).glob("data_*.npz")}
    problems = [
        (set(pd.Series(ids)[pd.Series(ids).duplicated()]), "lists twice",
         "keep one row per file"),
        ([i for i in wanted if not table.get(i)], "has no summary for",
         "re-run 02 with the same parameters (it resumes, and fills "
         "missing or empty summaries), or train on the notes cut at 180 "
         "characters (03: -p summaries none)"),
        ([i for i in table if i not in known], "lists files not in "
         f"the dataset at {root}:", "pass the CSV made for this dataset"),
    ]
    for names, what, fix in problems:
        if names:
            raise DatasetError(f"{csv} {what} {len(names)} file(s), e.g. "
                               f"{_some(names)}. Fix: {fix}.")
    return table
