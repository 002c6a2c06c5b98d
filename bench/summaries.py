"""Throughput of the offline summary pipeline of 02_summarize_notes.

:func:`fairnb.summarize.summarize_notes` with the extractive summarizer on
2,000 synthetic clinic notes: rule-based de-identification, summarizing,
the post-check with the open_clip tokenizer and the appended CSV, all
included. Target: >= 200 notes/s on 2 CPU cores, i.e. the 10,000 notes of
Harvard-FairVLMed in under a minute. The de-identification share is
reported beside it.

Run: ``python -m bench.summaries``.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pandas as pd

from fairnb.data import _clinic_notes
from fairnb.deid import scrub_notes
from fairnb.summarize import make_summarizer, summarize_notes

TARGET_NOTES_PER_S = 200.0


def synthetic_notes(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """``file`` and ``note`` columns of ``n`` templated clinic notes."""
    notes = _clinic_notes.sample_notes(n, seed=seed)["note"]
    return pd.DataFrame({"file": [f"data_{i:05d}.npz" for i in range(n)],
                         "note": notes})


def bench_summaries(*, n: int = 2000) -> dict:
    """Notes per second of the whole pipeline and of de-identification."""
    notes = synthetic_notes(n)
    summarizer = make_summarizer("extractive")
    summarizer(list(notes["note"].head(5)))  # warm-up: tokenizer
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run = summarize_notes(notes, summarizer, deid="rules",
                              csv=Path(tmp) / "extractive.csv",
                              progress=False)
        total = time.perf_counter() - start
    assert len(run.table) == n
    start = time.perf_counter()
    scrub_notes(list(notes["note"]), engine="rules")
    deid = time.perf_counter() - start
    rate = n / total
    return {"n": n, "seconds": total, "notes_per_s": rate,
            "deid_share": deid / total, "target": TARGET_NOTES_PER_S,
            "ok": rate >= TARGET_NOTES_PER_S}


def main() -> int:
    r = bench_summaries()
    print(f"summarize_notes (extractive, rules de-identification): "
          f"{r['n']} notes in {r['seconds']:.1f} s = "
          f"{r['notes_per_s']:.0f} notes/s (target >= {r['target']:.0f}), "
          f"de-identification {r['deid_share']:.0%} of it "
          f"{'ok' if r['ok'] else 'SLOW'}")
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
