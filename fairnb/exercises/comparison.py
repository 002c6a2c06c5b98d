"""Exercises of ``06_compare_methods.ipynb``: they read the newest 06 run
(its ``comparison.csv``, ``gap_response.csv`` and its grid, rebuilt from
its ``params.json``)."""
from __future__ import annotations

import pandas as pd

from .core import Exercise
from .runs import config_of, newest

#: the first lines of most 06 solutions: the newest comparison and its config
_SETUP = '''cmp = fnb.exercises.runs.newest("06_compare_methods", preset=preset)  # the newest comparison
cfg = fnb.exercises.runs.config_of(cmp)  # its parameters, as 06 resolved them
'''


def _several_levels(params: dict) -> bool:
    return len([v for v in params["bias_levels"].split(",") if v]) > 1


def _would_train(preset: str = "demo") -> bool:
    """Whether re-running the newest comparison would train a cell: a
    cell of its grid without a complete run."""
    from ..sweep import complete_run
    cfg = config_of(newest("06_compare_methods", preset=preset))
    return any(complete_run(c) is None for c in cfg.cells())


def _wider_interval(preset: str = "demo") -> str:
    """Which interval of the AUC rows is wider in sum: ``seeds`` or
    ``samples`` (the only one where a single seed leaves no seed
    interval)."""
    diffs = pd.read_csv(newest("06_compare_methods", preset=preset)
                        / "comparison.csv")
    auc = diffs[diffs["metric"] == "AUC"]
    seeds = (auc["seeds_high"] - auc["seeds_low"]).sum()
    return "seeds" if seeds > (auc["samples_high"]
                               - auc["samples_low"]).sum() else "samples"


def _rescued_by_holm(preset: str = "demo") -> int:
    """Rows whose raw ``both_p`` is below 0.05 and whose verdict is
    "within noise"."""
    diffs = pd.read_csv(newest("06_compare_methods", preset=preset)
                        / "comparison.csv")
    return int(((diffs["both_p"] < 0.05)
                & (diffs["verdict"] == "within noise")).sum())


def _baseline_gap_direction(preset: str = "demo", *,
                            margin: float = 0.005) -> str:
    """How the baseline's AUC gap moves from the lowest planted level to
    the highest, for the first attribute (``same`` within ``margin``)."""
    gaps = pd.read_csv(newest("06_compare_methods", preset=preset,
                              where=_several_levels,
                              needs="-p bias_levels 0,1,2")
                       / "gap_response.csv")
    gaps = gaps[gaps["attribute"] == gaps["attribute"].iloc[0]]
    level = gaps["condition"].str.extract(r"bias=([0-9.]+)")[0].astype(float)
    base = gaps.groupby(level)["baseline"].first().sort_index()
    change = base.iloc[-1] - base.iloc[0]
    if abs(change) <= margin:
        return "same"
    return "higher" if change > 0 else "lower"


EXERCISES = [
    Exercise(
        "06.1", "Run the comparison again with the same parameters. Does "
        "the second run train anything? Answer yes or no, and say why.",
        code=_SETUP + '''cells = cfg.cells()
result = fnb.sweep.run_grid(cells, folder=cmp / "cells")  # 06's section 1 once more
print(result)
trained = len(result.runs) - len(result.skipped)
print(f"{len(cells)} cells, {len(result.skipped)} with a complete run already, {trained} trained now")
answer = "yes" if trained else "no"''',
        explanation="Every cell of the grid is a 03 (or 07, 08) run with "
        "fully resolved parameters; `fnb.sweep.run_grid` skips a cell whose "
        "complete run (`metrics.json` written, the same `params.json`) "
        "exists, so the second comparison recomputes the tables from the "
        "stored predictions and trains nothing. Change any parameter of "
        "the cells (epochs, a seed, the data) and only those cells train.",
        kind="yesno", reference=_would_train,
        hint="Look at the SweepResult line of section 1: how many cells "
             "were 'already complete'?"),
    Exercise(
        "06.2", "Run the comparison with six seeds (`-p seeds "
        "0,1,2,3,4,5`). How do the seed intervals and `seeds_needed` "
        "change as seeds are added?",
        code=_SETUP + '''six = fnb.exercises.runs.config_of(cmp, seeds="0,1,2,3,4,5", bias_levels="",
                                   test_conditions="", posthoc="")
folders = fnb.exercises.runs.ensure(six.cells())  # trains only the seeds the runs folder lacks
frame = fnb.comparison.collect(folders, axes=six.axes, conditions=six.conditions,
                               test_conditions=six.test_condition_list)
frame, _ = fnb.comparison.select(frame, rule=six.selection)
rows = []
for k in range(2, len(six.seed_list) + 1):  # the first k seeds of both methods
    diffs = fnb.comparison.differences(frame[frame["seed"].isin(six.seed_list[:k])],
                                       baseline=six.baseline, n_boot=200)
    for _, r in diffs[diffs["metric"].isin(["AUC", "ES-AUC"])].iterrows():
        rows.append({"seeds": k, "method": r["method"], "metric": r["metric"], "diff": r["diff"],
                     "seed_width": r["seeds_high"] - r["seeds_low"],
                     "both_width": r["both_high"] - r["both_low"], "seeds_needed": r["seeds_needed"]})
table = pd.DataFrame(rows)
table.round(3)''',
        explanation="The seed interval is $\\bar d \\pm t_{0.975,K-1}\\, "
        "s_d/\\sqrt K$: from two seeds to six its multiplier falls from "
        "12.7 to 2.57 and $\\sqrt K$ grows, so it narrows several-fold "
        "even when the spread $s_d$ stays the same; the `both` interval "
        "narrows less, since its Test-sample part does not shrink with "
        "seeds. `seeds_needed` is an estimate from the observed spread and "
        "mean difference: it moves as they do, and is large when the "
        "difference is small against its spread. Six seeds is also where "
        "the exact signed-rank test can first reach 0.05.",
        hint=""),
    Exercise(
        "06.3", "In the AUC rows of `comparison.csv`, which interval is "
        "wider, the one over seeds or the one over Test samples (answer "
        "seeds or samples)? What does that say about where the noise comes "
        "from?",
        code=_SETUP + '''diffs = pd.read_csv(cmp / "comparison.csv")
auc = diffs[diffs["metric"] == "AUC"]
widths = pd.DataFrame({"condition": auc["condition"], "method": auc["method"],
                       "seeds": auc["seeds_high"] - auc["seeds_low"],
                       "samples": auc["samples_high"] - auc["samples_low"],
                       "both": auc["both_high"] - auc["both_low"]})
print(widths.round(3))
answer = "seeds" if widths["seeds"].sum() > widths["samples"].sum() else "samples"''',
        explanation="With few seeds the seed interval is usually the "
        "widest of the two: the training noise (initialisation, batch "
        "order) between runs is large next to the Test-sample noise of a "
        "seed-averaged difference, and its t multiplier with K - 1 degrees "
        "of freedom is large. The `both` interval counts the two together "
        "and is wider than each. A single seed has no seed "
        "interval at all, which is why a one-seed comparison can only say "
        "how uncertain its Test set is.",
        kind="choice", reference=_wider_interval,
        hint="Subtract seeds_low from seeds_high and samples_low from "
             "samples_high in the AUC rows, and add them up."),
    Exercise(
        "06.4", "How many cells of `comparison.csv` have a raw `both_p` "
        "below 0.05 but the verdict \"within noise\"? What made the "
        "difference?",
        code=_SETUP + '''diffs = pd.read_csv(cmp / "comparison.csv")
cells = diffs[(diffs["both_p"] < 0.05) & (diffs["verdict"] == "within noise")]
print(f"{len(diffs)} cells tested at once: Holm multiplies the smallest p by {len(diffs)}")
print(diffs.sort_values("both_p")[["condition", "method", "metric", "diff", "both_p", "holm_p", "verdict"]].head(8).round(4))
answer = len(cells)''',
        explanation="The Holm adjustment: each row of the table is one "
        "test, and the smallest raw p is multiplied by the number of rows "
        "(the next by one fewer, and so on), so a p of 0.01 among 20 cells "
        "becomes 0.2. Without it, one cell in twenty would be 'beyond "
        "noise' by chance alone. On a small grid the answer is often 0: "
        "raise the number of cells (`-p attributes all`) and the same raw "
        "p values are adjusted more.",
        kind="number", reference=_rescued_by_holm, tolerance=0,
        hint="Filter comparison.csv on both_p < 0.05 and verdict == "
             "'within noise', and count the rows."),
    Exercise(
        "06.5", "Run `-p bias_levels 0,1,2`. Does the baseline's gap go "
        "higher, lower or stay the same (within 0.005) from the lowest "
        "level to the highest? Does the method remove a larger share of a "
        "larger gap, and is any reduction beyond noise?",
        code='''cmp = fnb.exercises.runs.newest("06_compare_methods", preset=preset,  # one with several levels
                                where=lambda p: len([v for v in p["bias_levels"].split(",") if v]) > 1,
                                needs="-p bias_levels 0,1,2")
gaps = pd.read_csv(cmp / "gap_response.csv")
gaps["level"] = gaps["condition"].str.extract(r"bias=([0-9.]+)")[0].astype(float)
print(gaps[["level", "attribute", "method", "baseline", "value", "reduction", "both_low", "both_high",
            "verdict"]].round(3))
first = gaps[gaps["attribute"] == gaps["attribute"].iloc[0]]
base = first.groupby("level")["baseline"].first().sort_index()
change = base.iloc[-1] - base.iloc[0]
answer = "same" if abs(change) <= 0.005 else ("higher" if change > 0 else "lower")''',
        explanation="The planted disparity degrades one group's images and "
        "notes, so a plain model's gap usually grows with the level; at "
        "level 0 what is left is the groups' sampling noise. A method that "
        "mitigates the planted mechanism removes a larger share "
        "(`reduction`) as the level grows; FairCLIP, which matches "
        "similarity distributions rather than repairing the degraded "
        "inputs, usually removes little, and with a few seeds of the smoke "
        "or demo preset its reductions are within noise.",
        kind="direction", reference=_baseline_gap_direction,
        hint="Read the baseline column of gap_response.csv at the lowest "
             "and the highest level."),
]
