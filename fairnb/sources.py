"""Which dataset and which summaries a notebook reads.

This sits above :mod:`fairnb.data` (which only reads data): it looks up
the newest complete output of notebook 02 for a dataset among the run
folders, and, when there are no summaries at all, makes extractive ones
into a run folder first, since training on notes cut at 180 characters
loses whatever they state later.

Used in: 01_explore_data, 02_summarize_notes, 03_fairclip.
"""
from __future__ import annotations

import json
from pathlib import Path

from .data import FairVLMed, locate_dataset, read_dataset


def open_dataset(data_dir: str = "", *, preset: str = "demo", seed: int = 0,
                 summaries="auto", splits=None,
                 summarize_into=None) -> FairVLMed:
    """The dataset a notebook works on.

    ``data_dir`` empty means the embedded default: the synthetic stand-in of
    the preset's size, generated on first use into ``FAIRNB_DATA_DIR``.
    Otherwise ``data_dir`` is a folder in the Harvard-FairVLMed layout
    (relative paths resolve against the repository root).
    ``summaries="latest"`` picks the CSV with :func:`find_summaries`;
    when there is none and ``summarize_into`` names a folder, the notes are
    summarized there first (:func:`summarize_dataset`), since training on
    notes cut at 180 characters loses whatever they state later.
    ``"none"`` uses no summaries (notes cut at 180 characters).
    """
    root = locate_dataset(data_dir, preset=preset, seed=seed)
    if summaries == "latest":
        summaries = find_summaries("", root)
        if summaries == "auto" and summarize_into is not None and read_dataset(
                root, summaries="auto", validate=False).summary_source is None:
            summaries = str(summarize_dataset(root, summarize_into))
    elif summaries == "none":
        summaries = None
    kw = {} if splits is None else {"splits": splits}
    return read_dataset(root, summaries=summaries, **kw)


def ensure_summaries(dataset: FairVLMed, *, into,
                     requested: str = "") -> FairVLMed:
    """``dataset`` with summaries: itself when it has a summaries CSV or
    ``requested`` (03's ``summaries`` parameter) chose a CSV or ``none``;
    else the dataset re-read with extractive summaries written into the
    folder ``into`` first (:func:`summarize_dataset`). 03 opens its data
    with ``summaries="latest"`` before it makes a run folder, then calls
    this with the run folder."""
    if requested or dataset.summary_source is not None:
        return dataset
    csv = summarize_dataset(dataset.root, into)
    return read_dataset(dataset.root, summaries=str(csv),
                        splits=dataset.splits)


def summarize_dataset(root, folder, *, summarizer: str = "extractive",
                      progress: bool = True) -> Path:
    """Summarize every note of the dataset at ``root`` into
    ``folder/<summarizer>_summarized_notes.csv`` (rules de-identification,
    resumable, as notebook 02 does with its defaults) and return the CSV's
    path. Used when a training run finds no summaries to read."""
    from .summarize import (
        csv_name,
        make_summarizer,
        notes_frame,
        summarize_notes,
    )

    notes = notes_frame(read_dataset(root, summaries=None))
    csv = Path(folder) / csv_name(summarizer)
    summarize_notes(notes, make_summarizer(summarizer), csv=csv,
                    progress=progress)
    return csv


def find_summaries(summaries: str, root) -> str | None:
    """The summaries CSV a training run should use.

    ``summaries`` given: that file. Empty: the newest run of
    ``02_summarize_notes`` made for this dataset (its run folder's
    ``summaries.json`` names the dataset root and the CSV, and says it
    covers every note: ``complete``), else
    ``"auto"`` (the dataset's own official summaries CSV when present; the
    reader then falls back to notes truncated at 180 characters, unless
    :func:`open_dataset` is given ``summarize_into``).
    """
    from .paths import resolve
    from .runs import list_runs

    if summaries:
        return str(resolve(summaries))
    root = Path(root).resolve()
    for run in reversed(list_runs("02_summarize_notes")):
        info = run / "summaries.json"
        if info.is_file():
            meta = json.loads(info.read_text())
            if (meta.get("complete", True) and Path(
                    meta.get("dataset_root", "")).resolve() == root):
                return meta["csv"]
    return "auto"


__all__ = ["ensure_summaries", "find_summaries", "open_dataset",
           "summarize_dataset"]
