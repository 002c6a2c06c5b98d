"""fairnb.comparison on hand-made 03 run folders."""
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fairnb.comparison import (
    collect,
    differences,
    mechanism,
    ranks,
    seed_table,
    table_metrics,
    too_few_seeds,
    wide_table,
)
from fairnb.predictions import Predictions

N = 400


def make_run(root, method, seed, *, shift=0.0, attribute="race"):
    """A 03-shaped run folder whose scores improve with ``shift``."""
    rng = np.random.default_rng(1000 * seed + sum(map(ord, method)))
    base = np.random.default_rng(7)  # the same Test set for every run
    y = base.integers(0, 2, N)
    race = base.integers(0, 3, N)
    gender = base.integers(0, 2, N)
    score = np.clip(0.5 + (y - 0.5) * (0.2 + shift) + rng.normal(0, 0.2, N),
                    0, 1)
    pred = Predictions(ids=np.arange(N), y_true=y, y_score=score,
                       similarity=rng.normal(0.3, 0.05 + shift, N),
                       attributes={"race": race, "gender": gender})
    path = root / f"{method}_{seed}"
    path.mkdir(parents=True)
    pred.save(path / "predictions.npz")
    (path / "params.json").write_text(json.dumps(
        {"method": method, "seed": seed, "attribute": attribute}))
    metrics = {k: (None if isinstance(v, float) and np.isnan(v) else v)
               for k, v in pred.metrics().items()}
    (path / "metrics.json").write_text(json.dumps(
        {"schema_version": 1, "notebook": "03_fairclip", **metrics}))
    return path


@pytest.fixture
def frame(tmp_path):
    runs = [make_run(tmp_path, m, s, shift=shift)
            for m, shift in (("clip", 0.0), ("fairclip", 0.4),
                             ("twin", 0.0))
            for s in range(6)]  # six seeds: enough for a verdict after Holm
    return collect(runs)


def test_seed_table_is_mean_and_sample_std(frame):
    table = seed_table(frame)
    row = table.query("method == 'fairclip' and metric == 'ES-AUC'")
    values = frame.loc[frame["method"] == "fairclip", "es_auc_race"]
    assert float(row["mean"].iloc[0]) == pytest.approx(np.mean(values))
    assert float(row["std"].iloc[0]) == pytest.approx(np.std(values,
                                                             ddof=1))
    wide = wide_table(table)
    assert list(wide.columns) == [lab for lab, _, _ in table_metrics("race")]
    assert " ± " in wide.loc[("race", "clip"), "AUC"]


def test_differences_have_three_intervals_and_holm(frame):
    out = differences(frame, baseline="clip", n_boot=2000)
    assert set(out["method"]) == {"fairclip", "twin"}
    auc = out.query("method == 'fairclip' and metric == 'AUC'").iloc[0]
    from sklearn.metrics import roc_auc_score

    def sklearn_auc(method):  # independent of fairnb's kernels
        runs = frame[frame["method"] == method].sort_values("seed")["run"]
        return np.array([roc_auc_score(z["y_true"], z["y_score"]) for z in
                         (np.load(f"{r}/predictions.npz") for r in runs)])
    a, b = sklearn_auc("clip"), sklearn_auc("fairclip")
    ci = stats.ttest_rel(b, a).confidence_interval()
    assert (auc["seeds_low"], auc["seeds_high"]) == pytest.approx(
        (ci.low, ci.high))
    assert auc["diff"] == pytest.approx(np.mean(b - a))
    # the verdict's interval: t with K - 1 df on s_d^2 / K plus the
    # samples bootstrap's variance, hence wider than the seeds-only one
    assert auc["both_high"] - auc["both_low"] > auc["seeds_high"] - \
        auc["seeds_low"]
    assert auc["verdict"] == "better"  # a clear planted gain
    twin = out[out["method"] == "twin"]  # the baseline's distribution
    assert set(twin["verdict"]) == {"within noise"}
    # Holm over every row: never below the raw p, monotone in the raw p
    assert (out["holm_p"] >= out["both_p"] - 1e-12).all()
    order = np.argsort(out["both_p"].to_numpy(), kind="stable")
    assert np.all(np.diff(out["holm_p"].to_numpy()[order]) >= -1e-12)
    with pytest.raises(ValueError, match="baseline 'clop' has no runs"):
        differences(frame, baseline="clop")


def test_too_few_seeds_is_said():
    assert "no signed-rank test can reject" in too_few_seeds(3)
    assert too_few_seeds(6) is None


def test_ranks_by_hand(frame):
    r = ranks(frame, metric="AUC")
    # by hand: rank the three methods' AUCs in each seed (1 = best)
    x = frame.pivot(index="seed", columns="method", values="auc")[
        ["clip", "fairclip", "twin"]].to_numpy()
    rank = np.array([[sorted(-row).index(-v) + 1 for v in row] for row in x])
    assert r.mean_ranks == pytest.approx(dict(zip(
        ["clip", "fairclip", "twin"], rank.mean(axis=0))))
    k, n = 3, 6
    chi2 = 12 / (n * k * (k + 1)) * np.sum(rank.sum(axis=0) ** 2) \
        - 3 * n * (k + 1)
    assert r.statistic == pytest.approx(chi2)
    # Demsar (JMLR 2006), Table 5a: q_0.05 = 2.343 for k = 3
    assert r.cd == pytest.approx(2.343 * np.sqrt(k * (k + 1) / (6 * n)),
                                 abs=1e-3)


def test_mechanism_pairs_each_seed_with_the_baselines(frame):
    m = mechanism(frame, baseline="clip")
    assert len(m) == 12  # two methods x six seeds
    row = m.query("method == 'fairclip' and seed == 1").iloc[0]
    one = frame.set_index(["method", "seed"])
    w1 = [c for c in frame.columns if c.startswith("similarity_w1_race_")]
    assert row["w1_change"] == pytest.approx(
        one.loc[("fairclip", 1), w1].sum() - one.loc[("clip", 1), w1].sum())


def test_select_applies_each_validation_rule_by_hand(monkeypatch):
    from fairnb import comparison
    frame = pd.DataFrame({
        "run": ["a0", "a1", "b0", "b1"], "method": "fairclip",
        "seed": [0, 1, 0, 1], "attribute": "race",
        "setting": ["w=1", "w=1", "w=100", "w=100"], "auc": 0.5,
        "val_auc": 0.5})  # as 03's metrics.json has
    # setting w=1: higher overall AUC, one weak group; w=100: balanced
    scores = pd.DataFrame({
        "run": ["a0", "a1", "b0", "b1"],
        "val_auc": [0.90, 0.88, 0.80, 0.82],
        "val_auc_Asian": [0.95, 0.93, 0.81, 0.79],
        "val_auc_Black": [0.60, 0.62, 0.78, 0.80],
        "val_auc_White": [0.92, 0.90, 0.80, 0.82]})
    from fairnb import selection
    monkeypatch.setattr(selection, "validation_scores", lambda f: scores)
    pick = {rule: comparison.select(frame, rule=rule)[1].iloc[0]
            for rule in ("auc", "worst_group_auc", "dto")}
    assert pick["auc"]["setting"] == "w=1"
    assert pick["auc"]["score"] == pytest.approx(0.89)
    assert pick["worst_group_auc"]["setting"] == "w=100"
    assert pick["worst_group_auc"]["score"] == pytest.approx(0.79)
    # by hand: u = (0.94, 0.79, 0.91); w=1: (0, 0.18/0.79, 0);
    # w=100: (0.14/0.94, 0, 0.10/0.91) -> w=100 is nearer
    d100 = np.hypot(0.14 / 0.94, 0.10 / 0.91)
    assert pick["dto"]["setting"] == "w=100"
    assert pick["dto"]["score"] == pytest.approx(d100)
    chosen, _ = comparison.select(frame, rule="dto")
    assert chosen["run"].tolist() == ["b0", "b1"]
    with pytest.raises(ValueError, match="auc, worst_group_auc, dto"):
        comparison.select(frame, rule="test_auc")
    # a group undefined for one setting leaves both group rules alike
    scores.loc[[0, 1], "val_auc_Black"] = np.nan  # undefined for w=1
    worst = comparison.select(frame, rule="worst_group_auc")[1].iloc[0]
    assert worst["setting"] == "w=1"  # Black left out for both settings
    assert worst["score"] == pytest.approx(0.91)
    scores[["val_auc_Asian", "val_auc_White"]] = np.nan
    with pytest.raises(ValueError, match="no group has a defined"):
        comparison.select(frame, rule="dto")


def test_validation_scores_are_sklearns_on_predictions_val(tmp_path):
    from sklearn.metrics import roc_auc_score

    from fairnb.comparison import validation_scores
    path = make_run(tmp_path, "clip", 0)
    pred = Predictions.load(path / "predictions.npz")
    pred.save(path / "predictions_val.npz")  # any predictions will do
    row = validation_scores(collect([path])).iloc[0]
    assert row["val_auc"] == pytest.approx(roc_auc_score(pred.y_true,
                                                         pred.y_score))
    black = pred.attributes["race"] == 1
    assert row["val_auc_Black"] == pytest.approx(roc_auc_score(
        pred.y_true[black], pred.y_score[black]))
    (path / "predictions_val.npz").unlink()
    with pytest.raises(FileNotFoundError, match="predictions_val.npz"):
        validation_scores(collect([path]))


# -- data conditions: a planted gap of known size --------------------------
def make_gap_run(root, method, seed, *, level, mitigation=0.0):
    """A 03-shaped run on data with a planted gap: group 1's scores get
    extra noise growing with ``level``; ``mitigation`` removes a share."""
    rng = np.random.default_rng(
        [seed, int(10 * level), sum(map(ord, method))])
    base = np.random.default_rng(11)
    y = base.integers(0, 2, N)
    race = base.integers(0, 3, N)
    gender = base.integers(0, 2, N)
    sigma = 0.15 + (race == 1) * 0.25 * level * (1 - mitigation)
    score = 1 / (1 + np.exp(-((y - 0.5) * 2 + rng.normal(0, 1, N) * sigma
                              * 4)))
    pred = Predictions(ids=np.arange(N), y_true=y, y_score=score,
                       similarity=rng.normal(0.3, 0.05, N),
                       attributes={"race": race, "gender": gender})
    path = root / f"{method}_{seed}_bias{level}"
    path.mkdir(parents=True)
    pred.save(path / "predictions.npz")
    (path / "params.json").write_text(json.dumps(
        {"method": method, "seed": seed, "attribute": "race",
         "bias": float(level)}))
    metrics = {k: (None if isinstance(v, float) and np.isnan(v) else v)
               for k, v in pred.metrics().items()}
    (path / "metrics.json").write_text(json.dumps(
        {"schema_version": 1, "notebook": "03_fairclip", **metrics}))
    return path


@pytest.fixture
def gap_frame(tmp_path):
    runs = [make_gap_run(tmp_path, m, s, level=level, mitigation=mit)
            for level in (0.0, 2.0)
            for m, mit in (("clip", 0.0), ("fairclip", 0.8))
            for s in range(6)]
    return collect(runs, conditions=["bias"])


def sklearn_gap(run):
    """(max - min group AUC) / AUC of race, by scikit-learn alone."""
    from sklearn.metrics import roc_auc_score
    z = np.load(f"{run}/predictions.npz")
    y, s, g = z["y_true"], z["y_score"], z["attr_race"]
    groups = [roc_auc_score(y[g == k], s[g == k]) for k in np.unique(g)
              if k >= 0]
    return (max(groups) - min(groups)) / roc_auc_score(y, s)


def test_conditions_split_every_table(gap_frame):
    assert sorted(set(gap_frame["condition"])) == ["bias=0", "bias=2"]
    table = seed_table(gap_frame)
    assert set(table["condition"]) == {"bias=0", "bias=2"}
    # seven Table 3 rows for race (DPD, DEOdds, AUC, ES-AUC, 3 groups)
    assert table.groupby("condition").size().tolist() == [14, 14]
    wide = wide_table(table)
    assert wide.index.names == ["condition", "attribute", "method"]
    diffs = differences(gap_frame, baseline="clip", n_boot=500)
    assert diffs.groupby("condition").size().tolist() == [7, 7]
    # seeds of one condition are never paired with another's
    auc = diffs.set_index(["condition", "metric"]).loc[("bias=2", "AUC")]
    from sklearn.metrics import roc_auc_score

    def aucs(method):
        part = gap_frame.query("method == @method and condition == 'bias=2'")
        return [roc_auc_score(*(lambda z: (z["y_true"], z["y_score"]))(
            np.load(f"{r}/predictions.npz")))
            for r in part.sort_values("seed")["run"]]
    assert auc["diff"] == pytest.approx(np.mean(
        np.subtract(aucs("fairclip"), aucs("clip"))))
    from fairnb.comparison import flat_metrics
    flat = flat_metrics(diffs, n_runs=len(gap_frame))
    assert "diff_fairclip_race_bias_2_auc" in flat


def test_gap_response_measures_the_planted_gap(gap_frame):
    from fairnb.comparison import gap_response
    gaps = gap_response(gap_frame, baseline="clip", n_boot=1000)
    assert set(gaps["metric"]) == {"AUC gap"}
    rows = gaps.set_index("condition")
    for condition in ("bias=0", "bias=2"):
        part = gap_frame[gap_frame["condition"] == condition]
        clip = [sklearn_gap(r) for r in part.query("method == 'clip'")
                .sort_values("seed")["run"]]
        fair = [sklearn_gap(r) for r in part.query("method == 'fairclip'")
                .sort_values("seed")["run"]]
        row = rows.loc[condition]
        assert row["baseline"] == pytest.approx(np.mean(clip))
        assert row["value"] == pytest.approx(np.mean(fair))
        assert row["reduction"] == pytest.approx(1 - np.mean(fair)
                                                 / np.mean(clip))
    # the planted gap grows with the level; the mitigation removes a
    # clear share of the large one and has nothing to remove at level 0
    assert rows.loc["bias=2", "baseline"] > 2 * rows.loc["bias=0",
                                                         "baseline"]
    assert rows.loc["bias=2", "verdict"] == "better"
    assert rows.loc["bias=2", "reduction"] > 0.3
    assert rows.loc["bias=0", "verdict"] == "within noise"
    from fairnb.comparison import flat_metrics
    flat = flat_metrics(gaps.iloc[:0], n_runs=0, gaps=gaps)
    assert flat["gap_verdict_fairclip_race_bias_2"] == "better"


def test_select_and_ranks_stay_within_a_condition(gap_frame):
    from fairnb.comparison import ranks
    clip = gap_frame[gap_frame["method"] == "clip"]
    r = ranks(pd.concat([gap_frame, clip.assign(method="twin")]),
              metric="AUC")
    assert r.n_blocks == 12  # six seeds x two conditions
    m = mechanism(gap_frame, baseline="clip")
    assert set(m["condition"]) == {"bias=0", "bias=2"} and len(m) == 12
