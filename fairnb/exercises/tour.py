"""Exercises of ``00_tour.ipynb``."""
from __future__ import annotations

import json

import pandas as pd

from .core import Exercise
from .runs import newest


def _tour(preset: str = "demo"):
    return newest("00_tour", preset=preset)


def _lowest_clip_group(preset: str = "demo") -> str:
    tour = _tour(preset)
    table = pd.read_csv(tour / "by_group.csv")
    attribute = json.loads(
        (tour / "params.json").read_text())["attribute"]
    part = table[(table["method"] == "clip") & (table["metric"] == "auc")
                 & (table["attribute"] == attribute)
                 & (table["group"] != "all")]
    return str(part.set_index("group")["value"].idxmin())


def _es_row(preset: str = "demo") -> pd.Series:
    diffs = pd.read_csv(_tour(preset) / "comparison.csv")
    return diffs[diffs["metric"] == "ES-AUC"].iloc[0]


EXERCISES = [
    Exercise(
        "00.1", "Which group of the attribute has the lowest CLIP AUC at "
        "seed 0?",
        code='''tour = fnb.exercises.runs.newest("00_tour", preset=preset)
table = pd.read_csv(tour / "by_group.csv")  # the tour's per-group tables, both methods
attribute = json.loads((tour / "params.json").read_text())["attribute"]
clip = table[(table["method"] == "clip") & (table["metric"] == "auc")
             & (table["attribute"] == attribute) & (table["group"] != "all")]
print(clip[["group", "n", "value", "ci_low", "ci_high"]].round(3))
answer = clip.set_index("group")["value"].idxmin()''',
        explanation="On the stand-in it is usually the Black group, whose "
        "images the data card degrades (lower disc contrast, darker, "
        "noisier) and whose notes state the diagnosis less often. Read the "
        "interval too: with a few dozen patients the group's AUC is "
        "uncertain by about ±0.1, so the *lowest* point estimate is not "
        "always the group the data card names.",
        kind="group", reference=_lowest_clip_group,
        hint="Read the CLIP bars of section 3 (seed 0), not FairCLIP's."),
    Exercise(
        "00.2", "Is FairCLIP's ES-AUC difference from CLIP beyond noise on "
        "this grid? Answer yes or no.",
        code='''tour = fnb.exercises.runs.newest("00_tour", preset=preset)
diffs = pd.read_csv(tour / "comparison.csv")
row = diffs[diffs["metric"] == "ES-AUC"].iloc[0]
print(row[["diff", "both_low", "both_high", "holm_p", "verdict"]])
answer = "no" if row["verdict"] in ("within noise", "undefined") else "yes"''',
        explanation="Beyond noise means the `both` interval (seeds and Test "
        "patients together), after the Holm adjustment over the table's "
        "rows, excludes 0: the verdict column says so. With three seeds it "
        "rarely does; the published FairCLIP gains were smaller than the "
        "seed spread the reproductions found.",
        kind="yesno",
        reference=lambda preset="demo": _es_row(preset)["verdict"] not in (
            "within noise", "undefined"),
        hint="Look at the verdict column of the ES-AUC row, not at the sign "
             "of diff."),
    Exercise(
        "00.3", "How many seeds would the observed spread of the ES-AUC "
        "differences need (seeds_needed; none when over 1000)?",
        code='''tour = fnb.exercises.runs.newest("00_tour", preset=preset)
diffs = pd.read_csv(tour / "comparison.csv")
answer = diffs.loc[diffs["metric"] == "ES-AUC", "seeds_needed"].iloc[0]
print("seeds needed:", answer)''',
        explanation="`seeds_needed` is the smallest K for which a t interval "
        "with the observed mean and spread of the per-seed differences "
        "would exclude 0. A large number says the difference is small "
        "next to the seed noise: more seeds, not more epochs, would "
        "settle it.",
        kind="number", tolerance=0.0,
        reference=lambda preset="demo": _es_row(preset)["seeds_needed"],
        hint="Read seeds_needed in the ES-AUC row of comparison.csv."),
]
