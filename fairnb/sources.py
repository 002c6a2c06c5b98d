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
                 bias: float = 1.0, summaries="auto", splits=None,
                 summarize_into=None) -> FairVLMed:
    """The dataset a notebook works on.

    ``data_dir`` empty means the embedded default: the synthetic stand-in of
    the preset's size, generated on first use into ``FAIRNB_DATA_DIR``.
    Otherwise ``data_dir`` is a folder in the Harvard-FairVLMed layout
    (relative paths resolve against the repository root). ``bias`` is the
    strength of the stand-in's planted disparity (0 none, 1 the default,
    2 twice as strong; :meth:`fairnb.Bias.scaled`).
    ``summaries="latest"`` picks the CSV with :func:`find_summaries`;
    when there is none and ``summarize_into`` names a folder, the notes are
    summarized there first (:func:`summarize_dataset`), since training on
    notes cut at 180 characters loses whatever they state later.
    ``"none"`` uses no summaries (notes cut at 180 characters).
    """
    root = locate_dataset(data_dir, preset=preset, seed=seed, bias=bias)
    if summaries == "latest":
        summaries = find_summaries("", root)
        if summaries == "auto" and summarize_into is not None and read_dataset(
                root, summaries="auto", validate=False).summary_source is None:
            summaries = str(summarize_dataset(root, summarize_into))
    elif summaries == "none":
        summaries = None
    kw = {} if splits is None else {"splits": splits}
    return read_dataset(root, summaries=summaries, **kw)


#: the file a training run writes to say which data it read
DATA_RECORD = "data.json"


def record_data(run, dataset: FairVLMed, *,
                conditions: dict[str, str] | None = None) -> Path:
    """Write ``data.json`` into ``run`` (a :class:`~fairnb.runs.Run`): the
    dataset folder, the summaries CSV (None: notes cut at 180 characters)
    and the acquisition condition of each split (``conditions``, default
    all ``source``; :mod:`fairnb.data.shift`) the run reads, so that a
    later notebook (05's probe of this run) reads the very same data."""
    src = dataset.summary_source
    return run.write_json(DATA_RECORD, {
        "root": str(dataset.root), "summaries": str(src) if src else None,
        "conditions": {s: (conditions or {}).get(s, "source")
                       for s in ("train", "val", "test")}})


def run_conditions(run) -> dict[str, str]:
    """The acquisition condition of each split a run read (its
    ``data.json``; ``source`` where it records none, or without a run)."""
    record = Path(run) / DATA_RECORD if run else None
    found = json.loads(record.read_text()).get("conditions") or {} if \
        record is not None and record.is_file() else {}
    return {s: found.get(s, "source") for s in ("train", "val", "test")}


def open_run_dataset(run, *, data_dir: str = "", preset: str = "demo",
                     bias: float = 1.0, summaries: str = "") -> FairVLMed:
    """The data of the 03 run folder ``run``: the dataset folder and
    summaries CSV its ``data.json`` records (:func:`record_data`), so a
    probe of the run reads the texts it trained on. A ``data_dir``,
    ``bias`` or ``summaries`` set explicitly wins; without a run (None) or
    a record, :func:`open_dataset` (``summaries`` empty: the latest 02
    output).

    Raises
    ------
    FileNotFoundError
        When the recorded folder or CSV is not on this machine (the message
        says which parameter to set).
    """
    record = Path(run) / DATA_RECORD if run is not None else None
    if record is None or not record.is_file() or data_dir or summaries \
            or float(bias) != 1.0:
        return open_dataset(data_dir, preset=preset, bias=bias,
                            summaries=summaries or "latest")
    found = json.loads(record.read_text())
    root, csv = Path(found["root"]), found.get("summaries")
    if not root.is_dir():
        raise FileNotFoundError(
            f"The run {Path(run).name} trained on {root}, which is not on "
            "this machine; pass its data with -p data_dir (and -p "
            "summaries).")
    if csv and not Path(csv).is_file():
        raise FileNotFoundError(
            f"The run {Path(run).name} read the summaries {csv}, which are "
            "not on this machine; pass a CSV with -p summaries (or none).")
    return read_dataset(root, summaries=csv)


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
