"""Exercises of ``05_linear_probe.ipynb`` (open questions: worked
solutions that run, no single answer to check)."""
from __future__ import annotations

from .core import Exercise

#: the lines every 05 solution starts with: the probed runs, and features
_SETUP = '''budget = {"epochs": epochs} if epochs else {}  # 0: the preset's
runs = {m: fnb.jobs.run_or_reuse(method=m, seed=0, keep="best", preset=preset, **budget)  # weights kept
        for m in ("clip", "fairclip")}

def features(run, kind="image"):  # the split features 05 computes for a run
    ds = fnb.open_run_dataset(run, preset=preset)
    feats, _, _ = fnb.features.split_features("clip", dataset=ds, kind=kind, run=str(run),
                                              conditions=fnb.sources.run_conditions(run))
    return feats
'''

EXERCISES = [
    Exercise(
        "05.1", "Probe the weights of a CLIP and of a FairCLIP run from 03 "
        "(`-p run <folder>`). Does FairCLIP's term lower the attribute "
        "probe's AUC for the attribute it was trained on?",
        code=_SETUP + '''
signal = {}
for m, run in runs.items():
    feats = features(run)
    signal[m] = fnb.probes.attribute_probes(feats["train"], feats["test"]).set_index("attribute")["auc"]
table = pd.DataFrame(signal).assign(change=lambda t: t["fairclip"] - t["clip"])
table.round(3)''',
        explanation="FairCLIP's term matches the groups' similarity "
        "*distributions*; it does not ask the embeddings to forget the "
        "attribute, so the race probe's AUC usually stays far above 0.5 "
        "and moves little. A model can encode race and still treat the "
        "groups alike, or encode it weakly and treat them unequally: the "
        "attribute probe and the glaucoma probe answer different "
        "questions.",
        hint=""),
    Exercise(
        "05.2", "Compare `features=image` and `features=multimodal`. Which "
        "groups gain most from the note?",
        code=_SETUP + '''
gain = {}
for kind in ("image", "multimodal"):
    feats = features(runs["clip"], kind)
    pred = fnb.probes.fit_probe("logistic", feats["train"], feats["val"], feats["test"]).test
    table = fnb.evaluate.group_table(pred)
    gain[kind] = table[(table["attribute"] == "race") & (table["metric"] == "auc")].set_index("group")["value"]
frame = pd.DataFrame(gain).assign(gain=lambda t: t["multimodal"] - t["image"])
frame.round(3)''',
        explanation="The note states the diagnosis for most patients, so "
        "image + note probes beat image probes overall; the gain is "
        "largest where the images are least informative. On the stand-in "
        "that is the Black group's degraded images, but its notes state "
        "the diagnosis less often too (data card), which caps its gain.",
        hint=""),
    Exercise(
        "05.3", "Switch to `probe=mae`. Do the two probes rank the groups "
        "the same way?",
        code=_SETUP + '''
feats = features(runs["clip"])
ranks = {}
for kind in ("logistic", "mae"):
    pred = fnb.probes.fit_probe(kind, feats["train"], feats["val"], feats["test"]).test
    table = fnb.evaluate.group_table(pred)
    ranks[kind] = table[(table["attribute"] == "race") & (table["metric"] == "auc")].set_index("group")["value"]
frame = pd.DataFrame(ranks)
print(frame.round(3))
print("same order:", list(frame["logistic"].sort_values().index) == list(frame["mae"].sort_values().index))''',
        explanation="Both are linear read-outs of the same features, so "
        "they usually agree on which group is served worst; the AUC "
        "values differ by the probes' regularisation (C chosen on "
        "Validation for the logistic probe, BatchNorm and LARS for the "
        "MAE-style one). A ranking that flips between probes is within "
        "the groups' intervals.",
        hint=""),
    Exercise(
        "05.4", "Open the probe's run in 04 (`-p run <this run's folder>`) "
        "and compare it with the zero-shot scores of its 03 run.",
        code=_SETUP + '''
feats = features(runs["clip"])
probe = fnb.probes.fit_probe("logistic", feats["train"], feats["val"], feats["test"]).test
zero = fnb.Predictions.load(runs["clip"] / "predictions.npz")  # 03's zero-shot scores of the same Test
rows = {name: {k: p.metrics()[k] for k in ("auc", "es_auc_race", "dpd_race", "deodds_race")}
        for name, p in (("zero-shot", zero), ("linear probe", probe))}
pd.DataFrame(rows).round(3)''',
        explanation="The probe reads the same image features with a "
        "classifier fitted on Training's labels, so its AUC is usually "
        "higher than zero-shot's two prompts; whether its ES-AUC is "
        "higher too is a separate question, and 04's paired comparison "
        "(`-p compare_to`) says whether the difference is beyond noise.",
        hint=""),
]
