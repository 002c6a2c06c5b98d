"""Exercises of ``04_fairness_dashboard.ipynb``."""
from __future__ import annotations

from .core import Exercise
from .runs import metrics, newest
from .training import DEFAULTS


def dpd_direction(preset: str = "demo", *, low: float = 0.45,
                  margin: float = 1e-9) -> str:
    """How race DPD moves when the threshold falls from 0.5 to ``low`` on
    the newest CLIP run's Test predictions, by fairlearn (Unknown left
    out)."""
    import numpy as np
    from fairlearn.metrics import demographic_parity_difference
    z = np.load(newest("03_fairclip", method="clip", seed=0,
                       preset=preset, **DEFAULTS) / "predictions.npz")
    race = z["attr_race"]
    known = race >= 0
    values = [demographic_parity_difference(
        z["y_true"][known], (z["y_score"][known] >= t).astype(int),
        sensitive_features=race[known]) for t in (0.5, low)]
    if abs(values[1] - values[0]) <= margin:
        return "same"
    return "higher" if values[1] > values[0] else "lower"


def lower_deodds(preset: str = "demo", attribute: str = "race") -> str:
    """``posthoc`` when equalized-odds thresholds on CLIP (seed 0) end
    with a lower Test DEOdds than FairCLIP (seed 0) has, else
    ``fairclip``."""
    from ..posthoc import run_thresholds
    from ..predictions import Predictions
    clip = newest("03_fairclip", method="clip", seed=0, preset=preset,
                  **DEFAULTS)
    fair = newest("03_fairclip", method="fairclip", seed=0, preset=preset,
                  fair_weight=10.0, **DEFAULTS)
    post = run_thresholds(clip, Predictions.load(clip / "predictions.npz"),
                          attribute=attribute,
                          constraints="equalized_odds")["equalized_odds"]
    after = post.summary()["deodds_after"]
    return "posthoc" if after < metrics(fair)[f"deodds_{attribute}"] \
        else "fairclip"


EXERCISES = [
    Exercise(
        "04.1", "Train `03` with `-p method clip` and with `-p method "
        "fairclip`, then run this notebook with `-p compare_to <the other "
        "run>`. Which differences are within noise?",
        code='''budget = {"epochs": epochs} if epochs else {}
runs = {m: fnb.jobs.run_or_reuse(method=m, seed=0, preset=preset, **budget) for m in ("clip", "fairclip")}
preds = {m: fnb.Predictions.load(p / "predictions.npz") for m, p in runs.items()}
table = fnb.metrics.compare_predictions(preds["clip"], preds["fairclip"], "race", n_boot=500)
table[table["group"] == "all"].round(3)''',
        explanation="Usually every row: one seed of each on a few hundred "
        "Test patients gives paired intervals about ±0.02–0.05 wide for "
        "AUC and wider for the group AUCs. A row outside noise on one "
        "seed is a lead for 06, not a finding.",
        hint=""),
    Exercise(
        "04.2", "Set `-p threshold 0.45`: does the race DPD of the CLIP run "
        "go higher, lower or stay the same?",
        code='''run = fnb.exercises.runs.newest("03_fairclip", method="clip", seed=0, preset=preset, summaries="", protocol="fairnb")
pred = fnb.Predictions.load(run / "predictions.npz")
dpd = {t: fnb.metrics.group_report(pred.y_true, pred.y_score, groups=pred.attributes["race"], attribute="race",
                                   threshold=t, n_boot=100).value("all", "dpd") for t in (0.5, 0.45)}
print({t: round(v, 4) for t, v in dpd.items()})
answer = "same" if abs(dpd[0.45] - dpd[0.5]) <= 1e-9 else ("higher" if dpd[0.45] > dpd[0.5] else "lower")''',
        explanation="DPD and DEOdds are computed on thresholded "
        "predictions, so they move with the threshold, in either "
        "direction depending on where each group's scores lie around it; "
        "AUC and ES-AUC do not move at all. A fairness claim in DPD "
        "therefore names its threshold.",
        kind="direction", reference=dpd_direction,
        hint="Recompute DPD for race at thresholds 0.5 and 0.45 on the "
             "same predictions."),
    Exercise(
        "04.3", "Halve `n_boot`. How much do the interval ends move? What "
        "does that say about the Monte Carlo error of the bootstrap?",
        code='''run = fnb.exercises.runs.newest("03_fairclip", method="clip", seed=0, preset=preset, summaries="", protocol="fairnb")
pred = fnb.Predictions.load(run / "predictions.npz")
ends = {}
for n_boot in (1000, 500):
    table = fnb.metrics.report_table(pred, "race", n_boot=n_boot)
    ends[n_boot] = table[table["metric"] == "auc"].set_index("group")[["ci_low", "ci_high"]]
(ends[500] - ends[1000]).round(4)''',
        explanation="The ends move by a few thousandths: that is the Monte "
        "Carlo error of estimating a 2.5 % quantile from 500 or 1000 "
        "resamples, much smaller than the intervals themselves. More "
        "resamples sharpen the ends, never the interval's width: that "
        "comes from the number of patients.",
        hint=""),
    Exercise(
        "04.4", "Compare the post-hoc thresholds with FairCLIP: which lowers "
        "race DEOdds more on Test, equalized-odds thresholds on the CLIP "
        "run (`posthoc`) or training FairCLIP (`fairclip`)? Why can "
        "post-processing not change the AUC gap?",
        code='''budget = {"epochs": epochs} if epochs else {}
clip = fnb.jobs.run_or_reuse(method="clip", seed=0, preset=preset, **budget)
fair = fnb.jobs.run_or_reuse(method="fairclip", seed=0, preset=preset, **budget)
post = fnb.posthoc.run_thresholds(clip, fnb.Predictions.load(clip / "predictions.npz"), attribute="race",
                                  constraints="equalized_odds")["equalized_odds"]
summary = post.summary()
deodds = {"clip": summary["deodds_before"], "posthoc": summary["deodds_after"],
          "fairclip": fnb.exercises.runs.metrics(fair)["deodds_race"]}
print({k: round(v, 3) for k, v in deodds.items()}, "| accuracy", round(summary["acc_before"], 3), "->", round(summary["acc_after"], 3))
answer = min(("posthoc", "fairclip"), key=deodds.get)''',
        explanation="Thresholds fitted on Validation for equalized odds "
        "usually lower DEOdds on Test more than FairCLIP's training does, "
        "at some cost in accuracy. They cannot change any AUC: a per-group "
        "threshold moves points along each group's ROC curve, never the "
        "curve, so the AUC gap (and ES-AUC) stays what the scores make it.",
        kind="choice", reference=lower_deodds,
        hint="Fit equalized_odds thresholds on the CLIP run "
             "(fnb.posthoc.run_thresholds) and compare their DEOdds after "
             "with the FairCLIP run's deodds_race."),
]
