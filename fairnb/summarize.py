"""Summarize clinical notes to the paper's 180 characters, resumably.

One protocol for every backend: a summarizer is a callable
``list[str] -> list[str]`` with a ``name`` (``extractive``, the offline
default; ``transformers``, a local model folder; ``openai``, any
OpenAI-compatible endpoint). :func:`summarize_notes` de-identifies each
note first (:mod:`fairnb.deid`), calls the summarizer in batches,
post-checks every summary (:func:`fit_summary`) and appends the rows to
``<summarizer>_summarized_notes.csv`` in the official layout (``File
Name``, ``Original Note``, ``Summarized Note``). An interrupted run resumes
where it stopped: rows already in the CSV are never computed again.

Used in: 02_summarize_notes.
"""
from __future__ import annotations

import csv
import io
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from .attributes import check_choice
from .deid import PLACEHOLDERS, scrub_notes
from .notes import CLIP_CONTEXT, count_tokens
from .runs import atomic_write_text
from .summarizers.extractive import ExtractiveSummarizer, cut_words

#: Backends of :func:`make_summarizer`.
SUMMARIZERS = ("extractive", "transformers", "openai")
#: Columns of the summaries CSV, as in the official release.
CSV_COLUMNS = ("File Name", "Original Note", "Summarized Note")
#: the summary written for an empty (or whitespace-only) note: explicit,
#: so 03 can train on the row and a reader sees there was no note
EMPTY_NOTE_SUMMARY = "No clinical note."
#: De-identification engines (``off`` only for local backends).
DEID_ENGINES = ("auto", "rules", "presidio", "off")


def csv_name(summarizer: str) -> str:
    """``<summarizer>_summarized_notes.csv`` (the official naming)."""
    return f"{summarizer}_summarized_notes.csv"


def notes_frame(dataset, *, splits: Sequence[str] | None = None,
                limit: int = 0) -> pd.DataFrame:
    """The notes to summarize: ``file`` (``data_NNNNN.npz``, the CSV's
    key), ``note``, ``id``, ``split`` and ``label``, in dataset order;
    ``limit`` > 0 keeps the first ``limit``."""
    meta = dataset.metadata()
    if splits:
        meta = meta[meta["split"].isin(list(splits))]
    if limit:
        meta = meta.head(limit)
    return pd.DataFrame({"file": meta["id"] + ".npz", "note": meta["note"],
                         "id": meta["id"], "split": meta["split"],
                         "label": meta["label"]}).reset_index(drop=True)


def make_summarizer(name: str = "extractive", *, max_chars: int = 180,
                    model_path: str = "", base_url: str = "",
                    model_name: str = "", timeout: float = 30.0,
                    retries: int = 2, **options) -> Callable:
    """A summarizer by name; ``options`` go to its constructor.

    ``transformers`` needs ``model_path`` (a local folder); ``openai``
    needs ``base_url`` and ``model_name`` (its key is read from the
    ``OPENAI_API_KEY`` environment variable, never passed here) and uses
    ``timeout`` (seconds per request) and ``retries`` (after the first
    try), which the other backends ignore.
    """
    check_choice("summarizer", name, SUMMARIZERS)
    if name == "extractive":
        return ExtractiveSummarizer(max_chars=max_chars, **options)
    if name == "transformers":
        if not model_path:
            raise ValueError(
                "summarizer='transformers' needs model_path: a local folder "
                "with config.json, tokenizer and weights (e.g. a Flan-T5 "
                "saved with save_pretrained); downloads are disabled.")
        from .summarizers.local import LocalModelSummarizer
        return LocalModelSummarizer(model_path, max_chars=max_chars,
                                    **options)
    if not base_url or not model_name:
        raise ValueError(
            "summarizer='openai' needs base_url (e.g. "
            "https://api.openai.com/v1 or http://localhost:8000/v1) and "
            "model_name; the API key comes only from the OPENAI_API_KEY "
            "environment variable.")
    from .summarizers.openai_api import OpenAISummarizer
    return OpenAISummarizer(base_url=base_url, model=model_name,
                            max_chars=max_chars, timeout=timeout,
                            retries=retries, **options)


def fit_summary(text, *, max_chars: int = 180,
                max_tokens: int = CLIP_CONTEXT) -> tuple[str, bool]:
    """``(summary, fixed)``: whitespace collapsed, then cut at a word
    boundary when over ``max_chars`` characters or ``max_tokens`` CLIP
    tokens; ``fixed`` says it had to be cut.

    Examples
    --------
    >>> fit_summary("Moderate POAG OU, IOP 22 mmHg", max_chars=20)
    ('Moderate POAG OU', True)
    """
    text = " ".join(str(text or "").split())
    if (len(text) <= max_chars
            and int(count_tokens([text])[0]) <= max_tokens):
        return text, False
    return cut_words(text, max_chars=max_chars, max_tokens=max_tokens), True


@dataclass
class SummaryRun:
    """What :func:`summarize_notes` did.

    ``table`` holds every row of the CSV for the requested files (columns
    :data:`CSV_COLUMNS`); the counts are of this call, except
    ``n_resumed`` (rows found in the CSV and not recomputed).
    """

    csv: Path
    table: pd.DataFrame
    n_resumed: int
    n_new: int
    n_fixed: int
    n_fallback: int
    phi_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    #: files whose note was empty: given :data:`EMPTY_NOTE_SUMMARY`
    empty_notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"SummaryRun({self.csv.name}: {len(self.table)} rows, "
                f"{self.n_new} new, {self.n_resumed} resumed, "
                f"{self.n_fixed} cut to fit, {self.n_fallback} empty "
                f"outputs replaced, {len(self.empty_notes)} empty notes "
                f"given {EMPTY_NOTE_SUMMARY!r}, {self.seconds:.1f} s)")


def read_summaries_csv(path) -> pd.DataFrame:
    """The rows of a summaries CSV written by :func:`summarize_notes`.

    A last line cut short by an interruption is dropped (and removed from
    the file, so appends continue cleanly).
    """
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=list(CSV_COLUMNS))
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        keep = raw[:raw.rfind(b"\n") + 1]
        with open(path, "r+b") as f:
            f.truncate(len(keep))
        raw = keep
    frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    if tuple(frame.columns) != CSV_COLUMNS:
        raise ValueError(
            f"{path} has columns {list(frame.columns)}, expected "
            f"{list(CSV_COLUMNS)}. Choose another output or move the file "
            "away; it is not a summaries CSV this run can resume.")
    return frame


def _rows_text(rows: Sequence[tuple[str, str, str]], *,
               header: bool = False) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return buf.getvalue()


def _append(path: Path, rows) -> None:
    """Append ``rows`` with ONE write, flushed to disk: a crash leaves
    whole rows plus at most one partial last line, which the next
    :func:`read_summaries_csv` drops."""
    data = _rows_text(rows).encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        view = memoryview(data)
        while view:  # a regular file takes it whole, barring a full disk
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def summarize_notes(notes: pd.DataFrame, summarizer: Callable, *, csv,
                    max_chars: int = 180, max_tokens: int = CLIP_CONTEXT,
                    batch_size: int = 16, deid: str = "auto",
                    progress: bool = True) -> SummaryRun:
    """Summarize ``notes`` (columns ``file`` and ``note``) into ``csv``.

    Each batch is de-identified (``deid`` engine; ``"off"`` keeps notes
    as they are and is refused by the ``openai`` backend's own check),
    summarized, post-checked with :func:`fit_summary` (an empty output for
    a non-empty note is replaced by the extractive summary) and appended.
    ``Original Note`` holds the note the summarizer saw (de-identified),
    whitespace collapsed to one line.
    """
    check_choice("deid", deid, DEID_ENGINES)
    missing = {"file", "note"} - set(notes.columns)
    if missing:
        raise ValueError(f"notes needs columns 'file' and 'note'; missing "
                         f"{sorted(missing)} (got {list(notes.columns)}).")
    path = Path(csv)
    path.parent.mkdir(parents=True, exist_ok=True)
    done_before = read_summaries_csv(path)
    blank = done_before["Summarized Note"].str.strip() == ""
    if path.is_file() and blank.any():  # an older run left them empty
        atomic_write_text(path, _rows_text(
            list(done_before[~blank].itertuples(index=False, name=None)),
            header=True))
        done_before = done_before[~blank]
    if not path.is_file():
        atomic_write_text(path, _rows_text([], header=True))
    done = set(done_before["File Name"])
    todo = notes[~notes["file"].isin(done)]
    fallback = ExtractiveSummarizer(max_chars=max_chars,
                                    max_tokens=max_tokens)
    n_fixed = n_fallback = 0
    phi = dict.fromkeys(PLACEHOLDERS, 0)
    start = time.perf_counter()
    from tqdm.auto import tqdm

    bar = tqdm(total=len(notes), initial=len(notes) - len(todo),
               desc=f"{getattr(summarizer, 'name', 'summarizer')} summaries",
               unit="note", disable=not progress)
    for lo in range(0, len(todo), batch_size):
        part = todo.iloc[lo:lo + batch_size]
        texts = [" ".join(str(n).split()) for n in part["note"]]
        if deid != "off":
            report = scrub_notes(texts, engine=deid)
            texts = report.texts
            for k, v in report.counts.items():
                phi[k] = phi.get(k, 0) + v
        outputs = summarizer(texts)
        if len(outputs) != len(texts):
            raise RuntimeError(
                f"The {getattr(summarizer, 'name', '')} summarizer returned "
                f"{len(outputs)} summaries for {len(texts)} notes.")
        rows = []
        for file, text, out in zip(part["file"], texts, outputs):
            summary, fixed = fit_summary(out, max_chars=max_chars,
                                         max_tokens=max_tokens)
            if not text.strip():
                summary, fixed = EMPTY_NOTE_SUMMARY, False
            elif not summary:
                summary, n_fallback = fallback([text])[0], n_fallback + 1
            n_fixed += fixed
            rows.append((file, text, summary))
        _append(path, rows)
        bar.update(len(rows))
    bar.close()
    table = read_summaries_csv(path)
    table = table[table["File Name"].isin(set(notes["file"]))]
    empty = table.loc[table["Original Note"].str.strip() == "", "File Name"]
    return SummaryRun(csv=path, table=table.reset_index(drop=True),
                      empty_notes=sorted(empty),
                      n_resumed=len(notes) - len(todo), n_new=len(todo),
                      n_fixed=n_fixed, n_fallback=n_fallback,
                      phi_counts=phi,
                      seconds=time.perf_counter() - start)
