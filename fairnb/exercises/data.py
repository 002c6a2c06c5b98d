"""Exercises of ``01_explore_data.ipynb``."""
from __future__ import annotations

from itertools import combinations

from .core import Exercise

#: attributes with categories whose overlap 01.3 measures (age is numeric)
CATEGORICAL = ("race", "gender", "ethnicity", "language", "maritalstatus")


def _meta(preset: str = "demo"):
    from ..sources import open_dataset
    return open_dataset(preset=preset).metadata()


def smallest_test_group(preset: str = "demo", attribute: str = "race"
                        ) -> str:
    """The group of ``attribute`` with the fewest Test patients (Unknown
    left out)."""
    from ..explore import group_counts
    counts = group_counts(_meta(preset), [attribute])
    part = counts[(counts["split"] == "test") & (counts["group"] != "Unknown")]
    return str(part.set_index("group")["n"].idxmin())


def strongest_overlap(preset: str = "demo") -> tuple[str, str]:
    """The pair of attributes with the largest Cramér's V over every
    patient whose two values are known (scipy's association)."""
    import pandas as pd
    from scipy.stats.contingency import association
    meta = _meta(preset)
    best, pair = -1.0, None
    for a, b in combinations(CATEGORICAL, 2):
        known = meta[(meta[a] >= 0) & (meta[b] >= 0)]
        table = pd.crosstab(known[a], known[b]).to_numpy()
        v = association(table, method="cramer")
        if v > best:
            best, pair = v, (a, b)
    return pair


EXERCISES = [
    Exercise(
        "01.1", "Run with `-p split test`: which race group is smallest in "
        "Test? How wide is its prevalence interval?",
        code='''ds = fnb.open_dataset(preset=preset)
meta = ds.metadata()
test = meta[meta["split"] == "test"].assign(split="test")
prev = fnb.explore.label_prevalence(test, ["race"])
prev = prev[prev["group"] != "Unknown"].assign(width=lambda t: t["ci_high"] - t["ci_low"])
print(prev[["group", "n", "prevalence", "ci_low", "ci_high", "width"]].round(3))
answer = prev.set_index("group")["n"].idxmin()''',
        explanation="The Asian group is the smallest in Test on the "
        "stand-in, as in Harvard-FairVLMed. Its 95 % Wilson interval of "
        "the prevalence is several times wider than the White group's: "
        "every metric of that group (AUC, TPR, ...) will carry an interval "
        "of that order, so a gap of a few points for it is not evidence of "
        "anything.",
        kind="group", reference=smallest_test_group,
        hint="Count Test patients per race group (group_counts, or the n "
             "column of the prevalence table), leaving Unknown out."),
    Exercise(
        "01.2", "Generate data with no planted disparity "
        "(`fnb.make_synthetic(folder, bias=fnb.Bias.none())`) and run this "
        "notebook with `-p data_dir <folder>`: what changes in the images?",
        code='''import tempfile
from pathlib import Path

n = 300 if preset == "smoke" else 1000
folder = Path(tempfile.mkdtemp()) / "no-bias"
plain = fnb.open_dataset(str(fnb.make_synthetic(folder, n=n, bias=fnb.Bias.none())))
planted = fnb.open_dataset(str(fnb.make_synthetic(folder.with_name("planted"), n=n)))

def brightness(ds):  # mean and spread of the pixel values per race group
    meta = ds.metadata()
    rows = []
    for code, part in meta[meta["race"] >= 0].groupby("race"):
        pixels = np.stack([np.asarray(ds.load_image(i), float) for i in part["id"][:40]])
        rows.append({"race": fnb.code_to_name("race", code), "mean": pixels.mean(), "contrast": pixels.std()})
    return pd.DataFrame(rows).set_index("race")

table = pd.concat({"planted": brightness(planted), "none": brightness(plain)}, axis=1)
table.round(1)''',
        explanation="With the planted disparity the Black group's images are "
        "darker, noisier and lower in disc contrast than the others' (its "
        "notes also state the diagnosis less often: data card "
        "`synthetic_fairvlmed.md`); with `Bias.none()` the groups' image "
        "statistics agree within sampling noise. Any gap a model shows on "
        "the unbiased data comes from group sizes and prevalence alone.",
        hint=""),
    Exercise(
        "01.3", "Which attribute pair overlaps most (the largest Cramér's "
        "V)? What does that imply for training FairCLIP on one of them?",
        code='''from itertools import combinations
from scipy.stats.contingency import association

meta = fnb.open_dataset(preset=preset).metadata()
rows = []
for a, b in combinations(["race", "gender", "ethnicity", "language", "maritalstatus"], 2):
    known = meta[(meta[a] >= 0) & (meta[b] >= 0)]  # Unknown (-1) left out
    rows.append({"pair": (a, b), "cramers_v": association(pd.crosstab(known[a], known[b]).to_numpy(), method="cramer")})
table = pd.DataFrame(rows).sort_values("cramers_v", ascending=False)
print(table.round(3).to_string(index=False))
answer = table["pair"].iloc[0]''',
        explanation="Ethnicity and language overlap most (Spanish speakers "
        "are mostly Hispanic). FairCLIP trained on one of them also moves "
        "the other's groups; a gap that closes for language may be the "
        "ethnicity gap closing, and the two are not independent evidence.",
        kind="pair", reference=strongest_overlap,
        hint="Compute Cramér's V of every pair of categorical attributes "
             "(scipy.stats.contingency.association) with Unknown left out."),
]
