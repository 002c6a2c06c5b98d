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


def _read_summaries(csv: Path, wanted: set[str], root: Path) -> dict:
    try:
        df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise DatasetError(f"Cannot read {csv}: {exc}. Re-create it as a "
                           "CSV with a header row.") from exc
    if df.shape[1] < 3:
        raise DatasetError(
            f"{csv} has {df.shape[1]} column(s) ({', '.join(df.columns)}); "
            "expected at least 3: File Name, Original Note, Summarized Note "
            "(file name first, summary third). Re-create it in that layout.")
    ids = [Path(n.strip()).name.removesuffix(".npz") for n in df.iloc[:, 0]]
    table = dict(zip(ids, (t.strip() for t in df.iloc[:, 2])))
    known = {p.stem for n in sum(_FOLDERS.values(), ())
             for p in (root / n).glob("data_*.npz")}
    problems = [
        (set(pd.Series(ids)[pd.Series(ids).duplicated()]), "lists twice",
         "keep one row per file"),
        ([i for i in wanted if not table.get(i)], "has no summary for",
         "re-run the summarizer (it resumes) or pass summaries=None"),
        ([i for i in table if i not in known], "lists files not in "
         f"the dataset at {root}:", "pass the CSV made for this dataset"),
    ]
    for names, what, fix in problems:
        if names:
            raise DatasetError(f"{csv} {what} {len(names)} file(s), e.g. "
                               f"{_some(names)}. Fix: {fix}.")
    return table
