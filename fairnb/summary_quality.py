"""How good are the summaries? Lengths, diagnosis retention, examples and
PHI placeholders: the quality report of notebook 02.

Retention asks the question that matters for CLIP: does the summary still
state glaucoma / no glaucoma as the note did, and as the label says?
(:func:`fairnb.summarizers.extractive.stated_diagnosis` reads the
statement; a note that states nothing is counted apart.)

Used in: 02_summarize_notes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .deid import count_placeholders
from .notes import CLIP_CONTEXT, count_tokens, truncate_note
from .summarizers.extractive import stated_diagnosis

STATEMENTS = {1: "states glaucoma", 0: "states no glaucoma",
              None: "states nothing"}


@dataclass
class QualityReport:
    """Quality of one set of summaries.

    ``lengths``: one row per text and ``source`` (``note``, ``note cut at
    max_chars`` as the official fallback, ``summary``) with ``chars`` and
    ``tokens``. ``retention``: per label, the share of summaries stating
    the label, the other class or nothing, next to the same shares of the
    notes. ``examples``: side-by-side notes and summaries. ``metrics``:
    flat numbers for ``metrics.json``.
    """

    lengths: pd.DataFrame
    retention: pd.DataFrame
    examples: pd.DataFrame
    placeholders: dict[str, int]
    metrics: dict


def _statement_shares(texts, labels) -> pd.DataFrame:
    said = pd.Series([stated_diagnosis(t) for t in texts], dtype=object)
    labels = pd.Series(np.asarray(labels)).reset_index(drop=True)
    rows = []
    for label in sorted(labels.unique()):
        part = said[labels == label]
        n = len(part)
        rows.append(dict(
            label=int(label), n=n,
            states_label=float((part == label).sum() / n),
            states_other=float((part == 1 - label).sum() / n),
            states_nothing=float(part.isna().sum() / n)))
    return pd.DataFrame(rows)


def quality_report(table: pd.DataFrame, *, labels, notes=None,
                   max_chars: int = 180, max_tokens: int = CLIP_CONTEXT,
                   n_examples: int = 6, seed: int = 0) -> QualityReport:
    """Quality of the summaries in ``table`` (the CSV's columns).

    Parameters
    ----------
    table : DataFrame with ``File Name``, ``Original Note``,
        ``Summarized Note``
    labels : (n,) glaucoma labels in ``table``'s order
    notes : (n,) original notes (default: ``Original Note``, which is the
        de-identified note the summarizer saw)
    """
    summaries = table["Summarized Note"].astype(str).tolist()
    notes = (table["Original Note"] if notes is None else notes)
    notes = [str(n) for n in notes]
    labels = np.asarray(labels).astype(int)
    if len(labels) != len(summaries) or len(notes) != len(summaries):
        raise ValueError(f"labels ({len(labels)}), notes ({len(notes)}) and "
                         f"summaries ({len(summaries)}) must align.")
    cut = [truncate_note(n, max_chars=max_chars) for n in notes]
    lengths = pd.concat([
        pd.DataFrame({"source": source, "chars": [len(t) for t in texts],
                      "tokens": count_tokens(texts)})
        for source, texts in (("note", notes),
                              (f"note cut at {max_chars}", cut),
                              ("summary", summaries))],
        ignore_index=True)
    retention = _statement_shares(summaries, labels).merge(
        _statement_shares(notes, labels), on=["label", "n"],
        suffixes=("", "_note"))
    said_note = [stated_diagnosis(n) for n in notes]
    said_summary = [stated_diagnosis(s) for s in summaries]
    stated = [i for i, s in enumerate(said_note) if s is not None]
    kept = (np.mean([said_summary[i] == said_note[i] for i in stated])
            if stated else np.nan)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(summaries), min(n_examples, len(summaries)),
                      replace=False)
    examples = pd.DataFrame({
        "File Name": table["File Name"].to_numpy()[pick],
        "label": labels[pick],
        "note (first 300 characters)": [notes[i][:300] for i in pick],
        "summary": [summaries[i] for i in pick]})
    s = lengths[lengths["source"] == "summary"]
    n = lengths[lengths["source"] == "note"]
    placeholders = count_placeholders(summaries)
    metrics = {
        "n_summaries": len(summaries),
        "summary_chars_mean": float(s["chars"].mean()),
        "summary_chars_max": int(s["chars"].max()),
        "summary_tokens_mean": float(s["tokens"].mean()),
        "summary_tokens_max": int(s["tokens"].max()),
        "share_within_limits": float(np.mean(
            (s["chars"] <= max_chars) & (s["tokens"] <= max_tokens))),
        "share_empty": float(np.mean(s["chars"] == 0)),
        "share_notes_over_tokens": float(np.mean(n["tokens"] > max_tokens)),
        "diagnosis_kept": float(kept),
        "summary_states_label": float(np.mean(
            [d == y for d, y in zip(said_summary, labels)])),
        "note_states_label": float(np.mean(
            [d == y for d, y in zip(said_note, labels)])),
        # the fallback without summaries: the note cut at max_chars
        "cut_note_states_label": float(np.mean(
            [stated_diagnosis(c) == y for c, y in zip(cut, labels)])),
        "placeholders_in_summaries": int(sum(placeholders.values())),
    }
    return QualityReport(lengths=lengths, retention=retention,
                         examples=examples, placeholders=placeholders,
                         metrics=metrics)
