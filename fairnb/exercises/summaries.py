"""Exercises of ``02_summarize_notes.ipynb`` (open questions: no single
answer to check, worked solutions that run)."""
from __future__ import annotations

from .core import Exercise

EXERCISES = [
    Exercise(
        "02.1", "Set `-p max_chars 100`: how much diagnosis retention is "
        "lost? Train `03` on it and compare the AUC with the 180-character "
        "summaries.",
        code='''import tempfile
from pathlib import Path

ds = fnb.open_dataset(preset=preset, summaries=None)
notes = fnb.summarize.notes_frame(ds)
folder = Path(tempfile.mkdtemp())
kept, csvs = {}, {}
for chars in (180, 100):
    csvs[chars] = folder / f"extractive_{chars}.csv"
    result = fnb.summarize.summarize_notes(notes, fnb.summarize.make_summarizer("extractive", max_chars=chars),
                                           csv=csvs[chars], max_chars=chars, progress=False)
    labels = notes.set_index("file").loc[result.table["File Name"], "label"]
    kept[chars] = fnb.summary_quality.quality_report(result.table, labels=labels, max_chars=chars).metrics["diagnosis_kept"]
print("share of summaries that keep the note's diagnosis:", {c: round(k, 3) for c, k in kept.items()})
budget = {"epochs": epochs} if epochs else {}
short = fnb.jobs.run_or_reuse(summaries=str(csvs[100]), seed=0, preset=preset, **budget)
usual = fnb.jobs.run_or_reuse(seed=0, preset=preset, **budget)  # 180 characters, made by 03 itself
print({name: round(fnb.exercises.runs.metrics(p)["auc"], 3) for name, p in (("100", short), ("180", usual))})''',
        explanation="At 100 characters the extractive summarizer still "
        "puts the diagnosis statement first, so most summaries keep it; "
        "what is lost is the supporting detail (C/D, IOP, fields). The AUC "
        "of one seed on each may differ by a few points either way: "
        "compare over seeds (06 with `grid_options summaries:<a>|<b>`) "
        "before reading a difference into it.",
        hint=""),
    Exercise(
        "02.2", "Point `-p summarizer openai -p base_url "
        "http://localhost:11434/v1 -p model_name llama3.1` at a local "
        "Ollama server (if you have one) and compare the quality report "
        "with the extractive one.",
        code='''ds = fnb.open_dataset(preset=preset, summaries=None)
notes = fnb.summarize.notes_frame(ds, limit=100)
import tempfile
from pathlib import Path
csv = Path(tempfile.mkdtemp()) / "extractive_summarized_notes.csv"
result = fnb.summarize.summarize_notes(notes, fnb.summarize.make_summarizer("extractive"), csv=csv, progress=False)
labels = notes.set_index("file").loc[result.table["File Name"], "label"]
baseline = fnb.summary_quality.quality_report(result.table, labels=labels).metrics
keys = ["diagnosis_kept", "summary_states_label", "share_within_limits", "summary_chars_mean"]
print("the extractive baseline to compare with:", {k: round(baseline[k], 3) for k in keys})
print("fixed by the post-check:", result.n_fixed, "| fallbacks:", result.n_fallback)''',
        explanation="Compare `diagnosis_kept` (does the summary say what "
        "the note said?), `share_within_limits`, and the counts of "
        "summaries the post-check had to cut (`n_fixed`) or replace "
        "(`n_fallback`): a language model writes more fluent summaries "
        "but overshoots 180 characters and drops or invents the diagnosis "
        "more often than the extractive rules, which copy the note's own "
        "sentence. Notes are de-identified before they reach the "
        "endpoint either way.",
        hint=""),
    Exercise(
        "02.3", "Interrupt this notebook during step 2 and run it again: "
        "how many rows were resumed?",
        code='''import tempfile
from pathlib import Path

ds = fnb.open_dataset(preset=preset, summaries=None)
notes = fnb.summarize.notes_frame(ds, limit=80)
csv = Path(tempfile.mkdtemp()) / "extractive_summarized_notes.csv"
extractive = fnb.summarize.make_summarizer("extractive")
calls = {"n": 0}

def interrupted(texts):  # stops in the third batch, as Ctrl-C would
    calls["n"] += 1
    if calls["n"] == 3:
        raise KeyboardInterrupt
    return extractive(texts)

try:
    fnb.summarize.summarize_notes(notes, interrupted, csv=csv, batch_size=16, progress=False)
except KeyboardInterrupt:
    print("interrupted; rows on disk:", len(pd.read_csv(csv)))
again = fnb.summarize.summarize_notes(notes, extractive, csv=csv, batch_size=16, progress=False)
print("resumed:", again.n_resumed, "| new:", again.n_new)''',
        explanation="Every finished batch is appended to the CSV at once, "
        "so the rows of the batches done before the interruption are "
        "resumed (here two batches of 16: 32) and only the rest is "
        "summarized again; the batch in flight is lost, never half "
        "written.",
        hint=""),
]
