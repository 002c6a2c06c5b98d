"""Exercises of ``07_multifair.ipynb``: each varies the notebook's own
MultiFair run (the newest with the released mechanisms, on fundus and
note) and trains the variant here (:func:`fairnb.multimodal.run_or_reuse`)."""
from __future__ import annotations

import pandas as pd

from .core import Exercise
from .runs import metrics, newest, params

#: the 07 run the exercises start from, 07's defaults: MultiFair on
#: gender with dual modulation and the released (inactive) direction and
#: fairness terms, on fundus and note
BASE = {"method": "multifair", "attribute": "gender", "modulation": "dual",
        "direction": "off", "fair_loss": "constant", "modalities": "slo+note"}

#: the first lines of the 07 solutions: that run and its parameters
_SETUP = '''base = fnb.exercises.multifair.base_run(preset)  # 07's own MultiFair run
p = fnb.exercises.runs.params(base)  # each variant below changes one thing
'''


def base_run(preset: str = "demo"):
    """The newest 07 run of :data:`BASE` on the notebook's notes (the
    latest 02 output or notes cut at 180 characters), not a variant an
    exercise trained."""
    return newest("07_multifair", preset=preset, **BASE,
                  where=lambda p: p["summaries"] in ("", "none"))


def _base(preset: str, **match):
    return newest("07_multifair", preset=preset, **{**BASE, **match})


def _variant(preset: str, **change):
    """The newest run of the base run's parameters with ``change``."""
    base = params(base_run(preset))
    return newest("07_multifair", preset=preset, **{
        k: base[k] for k in ("summaries", "seed", "epochs")}, **{
        **BASE, **change})


def _direction(change: float, margin: float) -> str:
    if abs(change) <= margin:
        return "same"
    return "higher" if change > 0 else "lower"


def _mean(path, column: str) -> float:
    return float(pd.read_csv(path / "epochs.csv")[column].mean())


def note_coefficient_direction(preset: str = "demo") -> str:
    """How the note's mean coefficient B_note moves from a run on
    summaries to one on notes cut at 180 characters (within 0.01)."""
    cut = _base(preset, summaries="none")
    full = _base(preset, where=lambda p: p["summaries"] not in ("", "none"))
    return _direction(_mean(cut, "B_note") - _mean(full, "B_note"), 0.01)


def larger_es_auc_change(preset: str = "demo") -> str:
    """Which of ``modality`` and ``group`` modulation moves ES-AUC more
    from the dual run (the newest of each, same attribute)."""
    dual = base_run(preset)
    key = f"es_auc_{params(dual)['attribute']}"
    change = {m: abs(metrics(_variant(preset, modulation=m))[key]
                     - metrics(dual)[key]) for m in ("modality", "group")}
    return max(change, key=change.get)


def priority_direction(preset: str = "demo") -> str:
    """How the mean priority rate moves when the direction and fairness
    terms are differentiable (within 0.02)."""
    dual = base_run(preset)
    active = _variant(preset, direction="differentiable",
                      fair_loss="differentiable")
    return _direction(_mean(active, "priority_rate")
                      - _mean(dual, "priority_rate"), 0.02)


def race_groups_above_one(preset: str = "demo") -> int:
    """Race groups whose fundus factor r_slo,g is above 1 in the last
    epoch of the newest MultiFair run on race."""
    last = pd.read_csv(_variant(preset, attribute="race") / "epochs.csv"
                       ).iloc[-1]
    return int(sum(last[c] > 1 for c in last.index
                   if c.startswith("r_slo_")))


EXERCISES = [
    Exercise(
        "07.1", "Make the note less informative: train on notes cut at 180 "
        "characters (`-p summaries none`, which cuts about half of them "
        "before their diagnosis) and on 02's summaries. Does the note's "
        "coefficient $B_{note}$ go higher, lower or stay the same (within "
        "0.01) when the notes are cut?",
        code=_SETUP + '''budget = {"epochs": epochs} if epochs else {}
ds = fnb.open_dataset(preset=preset, summaries="latest")  # the latest 02 output, if any
csv = ds.summary_source or fnb.sources.summarize_dataset(  # else 02's default summaries
    ds.root, fnb.paths.runs_dir() / "exercises", progress=False)
runs = {label: fnb.multimodal.run_or_reuse(**{**p, "summaries": s, **budget})
        for label, s in (("summaries", str(csv)), ("notes cut", "none"))}
B = pd.DataFrame({k: pd.read_csv(r / "epochs.csv")[["B_slo", "B_note", "aux_auc_note"]].mean()
                  for k, r in runs.items()})
print(B.round(3))
change = B.loc["B_note", "notes cut"] - B.loc["B_note", "summaries"]
answer = "same" if abs(change) <= 0.01 else ("higher" if change > 0 else "lower")''',
        explanation="$B_m$ gives the larger share to the modality whose "
        "auxiliary AUC moved *less* in the step (with two modalities "
        "$B_{slo} + B_{note} = 1$), meant to speed up the encoder that "
        "learns slowly. Cut notes carry less signal (`aux_auc_note` stays "
        "near 0.5), but a head that has learned little has a batch AUC "
        "that jumps about from batch to batch: on batches of 32 the "
        "step-to-step change is mostly sampling noise, so $B_{note}$ can "
        "move either way and on the stand-in often falls. The coefficient "
        "measures movement, not information; and no gradient scaling "
        "recovers a diagnosis the cut removed.",
        kind="direction", reference=note_coefficient_direction,
        hint="Average B_note over the epochs of each run's epochs.csv and "
             "subtract the summaries run's from the cut notes run's."),
    Exercise(
        "07.2", "Turn the group level off (`-p modulation modality`) and "
        "on alone (`-p modulation group`). Which of the two (answer "
        "modality or group) moves ES-AUC further from the dual run's?",
        code=_SETUP + '''budget = {"epochs": epochs} if epochs else {}
runs = {m: fnb.multimodal.run_or_reuse(**{**p, "modulation": m, **budget})
        for m in ("dual", "modality", "group")}
key = f"es_auc_{p['attribute']}"
es = pd.Series({m: fnb.exercises.runs.metrics(r)[key] for m, r in runs.items()})
table = pd.DataFrame({"ES-AUC": es, "change from dual": es - es["dual"]})
print(table.round(4))
answer = table.drop("dual")["change from dual"].abs().idxmax()''',
        explanation="The group level only acts in steps where the fused "
        "model's group AUCs differ by more than τ (the priority rate), and "
        "then scales each encoder's gradient by $R_m$, close to one; the "
        "modality level scales every step by $B_m \\rho$. So on the "
        "stand-in turning the group level off usually changes less than "
        "turning the modality level off (`group`), though on one seed "
        "either change is within noise: 06 with `-p methods "
        "multifair,fusion` over seeds says more.",
        kind="choice", reference=larger_es_auc_change,
        hint="Subtract the dual run's ES-AUC from each variant's and "
             "compare the sizes."),
    Exercise(
        "07.3", "Switch on the terms the released code leaves inactive: "
        "`-p direction differentiable -p fair_loss differentiable`. Does "
        "the priority rate go higher, lower or stay the same (within "
        "0.02)?",
        code=_SETUP + '''budget = {"epochs": epochs} if epochs else {}
runs = {"released": fnb.multimodal.run_or_reuse(**{**p, **budget}),
        "active terms": fnb.multimodal.run_or_reuse(**{**p, "direction": "differentiable",
                                                       "fair_loss": "differentiable", **budget})}
rates = pd.DataFrame({k: pd.read_csv(r / "epochs.csv").set_index("epoch")["priority_rate"]
                      for k, r in runs.items()})
print(rates.round(3))
change = rates["active terms"].mean() - rates["released"].mean()
answer = "same" if abs(change) <= 0.02 else ("higher" if change > 0 else "lower")''',
        explanation="The priority rate is the share of steps whose batch "
        "group AUCs differ by more than τ. A differentiable F pays the "
        "model to bring the fused group AUCs together, which should lower "
        "it; but on small batches the batch AUCs of a group are so noisy "
        "that the gap exceeds τ in many steps whatever the model does, so "
        "on one seed the change is noisy: larger batches make the trigger "
        "less noisy, a stronger term does not.",
        kind="direction", reference=priority_direction,
        hint="Average priority_rate of each run's epochs.csv and compare."),
    Exercise(
        "07.4", "Train on race instead of gender (`-p attribute race`), "
        "where the stand-in plants its gap; the released code cannot. How "
        "many race groups get a fundus factor $r_{slo,g}$ above one in the "
        "last epoch, and does ES-AUC (race) move against `fusion`?",
        code=_SETUP + '''budget = {"epochs": epochs} if epochs else {}
runs = {m: fnb.multimodal.run_or_reuse(**{**p, "method": m, "attribute": "race", **budget})
        for m in ("multifair", "fusion")}
last = pd.read_csv(runs["multifair"] / "epochs.csv").iloc[-1]
factors = last[[c for c in last.index if c.startswith("r_slo_")]]
print(factors.round(3))
print(pd.DataFrame({m: fnb.exercises.runs.metrics(r) for m, r in runs.items()}).loc[
    ["auc", "es_auc_race", "auc_race_black"]].round(3))
answer = int((factors > 1).sum())''',
        explanation="$r_{m,g} = 1 + \\kappa(\\mu_m - \\bar A_{m,g})/\\tau$ "
        "is above one for every group whose running surrogate AUC is below "
        "the mean over groups: with three race groups, one or two of them, "
        "usually including the Black group whose images the stand-in "
        "degrades. The released code hard-codes two groups; fairnb's "
        "generalisation takes any number (Unknown left out). Whether "
        "ES-AUC (race) beats `fusion` is a question for 06 over seeds: "
        "speeding up an encoder's learning for a group cannot restore the "
        "information its degraded images lack.",
        kind="number", reference=race_groups_above_one, tolerance=0,
        hint="Count the r_slo_<group> columns above 1 in the last row of "
             "the race run's epochs.csv."),
]
