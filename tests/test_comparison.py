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
