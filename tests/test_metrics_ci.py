"""Tests of fairnb.metrics group reports: hand-made known answers,
scikit-learn / fairlearn / summarize as oracles, bootstrap coverage on a
simulated population, and paired comparisons."""
import math
import warnings
from types import SimpleNamespace

import fairlearn.metrics as flm
import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.metrics import accuracy_score, roc_auc_score

from fairnb import _bootstrap as bs
from fairnb import metrics
from fairnb.attributes import SCHEMA, code_to_name

TOL = dict(rtol=0, atol=1e-9)  # assert_allclose
EXACT = dict(rel=0, abs=1e-9)  # pytest.approx

# Same fixture as tests/test_metrics.py (three race groups, no ties):
#   Asian: neg .10 .20, pos .90 .80 -> AUC 1,   TPR 1,  FPR 0, sel 1/2
#   Black: neg .85 .95, pos .15 .25 -> AUC 0,   TPR 0,  FPR 1, sel 1/2
#   White: neg .30 .45, pos .40 .70 -> AUC 3/4, TPR .5, FPR 0, sel 1/4
# ECE of Asian: one sample per bin, |s - y| = .1 .2 .1 .2 -> .6 / 4.
HAND_Y = np.array([0, 0, 1, 1] * 3)
HAND_S = np.array([.10, .20, .90, .80, .85, .95, .15, .25,
                   .30, .45, .40, .70])
HAND_RACE = np.repeat([0, 1, 2], 4)


def random_data(n=600, seed=0, unknown=True, ties=False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.clip(0.5 + 0.15 * (y - 0.5) + 0.1 * rng.standard_normal(n), 0, 1)
    if ties:
        s = np.round(s, 2)
    low = -1 if unknown else 0
    attrs = {a: rng.integers(low, len(g), n) for a, g in SCHEMA.items()}
    return y, s, attrs


def naive_ece(y, s, bins=10):
    b = np.clip(np.floor(s * bins), 0, bins - 1)
    return sum(np.mean(b == k) * abs(s[b == k].mean() - y[b == k].mean())
               for k in range(bins) if np.any(b == k))


def test_hand_made_known_values():
    r = metrics.group_report(HAND_Y, HAND_S, groups=HAND_RACE,
                             attribute="race", n_boot=20)
    g = r.by_group
    assert list(g.index) == ["Asian", "Black", "White"]
    np.testing.assert_allclose(g["auc"], [1, 0, .75], **TOL)
    np.testing.assert_allclose(g["acc"], [1, 0, .75], **TOL)
    np.testing.assert_allclose(g["tpr"], [1, 0, .5], **TOL)
    np.testing.assert_allclose(g["fpr"], [0, 1, 0], **TOL)
    np.testing.assert_allclose(g["positive_rate"], [.5, .5, .25], **TOL)
    assert g.loc["Asian", "ece"] == pytest.approx(.15, abs=1e-12)
    assert g["n"].tolist() == [4, 4, 4]
    a = 19 / 36
    assert r.overall["auc"] == pytest.approx(a, abs=1e-12)
    assert r.overall["acc"] == pytest.approx(7 / 12, abs=1e-12)
    assert r.overall["n"] == 12
    b = r.between
    assert b["es_auc"] == pytest.approx(
        a / (1 + (1 - a) + a + abs(.75 - a)), abs=1e-12)
    assert b["dpd"] == pytest.approx(.25, abs=1e-12)
    assert b["deodds"] == pytest.approx(1.0, abs=1e-12)
    assert b["auc_max_disparity"] == pytest.approx(1 / a, abs=1e-12)
    assert b["auc_std_disparity"] == pytest.approx(
        np.std([1, 0, .75]) / a, abs=1e-12)


def test_weighted_auc_counts_ties_as_half():
    W = np.ones((1, 4))
    got = bs.weighted_auc(W, np.array([0, 1, 0, 1]),
                          np.array([.5, .5, .2, .7]))
    assert got[0] == pytest.approx(roc_auc_score([0, 1, 0, 1],
                                                 [.5, .5, .2, .7]))
    assert got[0] == pytest.approx(.875)  # 3 wins + 1 tie of 4 pairs


@pytest.mark.parametrize("include_unknown", [False, True])
def test_point_values_match_oracles(include_unknown):
    y, s, attrs = random_data(ties=True)
    summ = metrics.summarize(y, s, attributes=attrs,
                             include_unknown=include_unknown)
    reports = metrics.group_reports(
        pd.DataFrame({"y_true": y, "y_score": s, **attrs}), n_boot=5,
        include_unknown=include_unknown)
    p = (s >= .5).astype(int)
    for a, r in reports.items():
        keep = np.ones(y.size, bool) if include_unknown else attrs[a] >= 0
        yk, sk, pk, gk = y[keep], s[keep], p[keep], attrs[a][keep]
        for k in metrics.BETWEEN_GROUP_KEYS:
            assert r.between[k] == pytest.approx(summ[f"{k}_{a}"], **EXACT)
        assert r.between["dpd"] == pytest.approx(
            flm.demographic_parity_difference(yk, pk, sensitive_features=gk),
            **EXACT)
        assert r.between["deodds"] == pytest.approx(
            flm.equalized_odds_difference(yk, pk, sensitive_features=gk),
            **EXACT)
        assert r.overall["auc"] == pytest.approx(roc_auc_score(yk, sk),
                                                 **EXACT)
        for code in np.unique(gk):
            m, row = gk == code, r.by_group.loc[code_to_name(a, code)]
            assert row["n"] == m.sum()
            assert row["auc"] == pytest.approx(
                roc_auc_score(yk[m], sk[m]), **EXACT)
            assert row["acc"] == pytest.approx(
                accuracy_score(yk[m], pk[m]), **EXACT)
            assert row["tpr"] == pytest.approx(
                flm.true_positive_rate(yk[m], pk[m]), **EXACT)
            assert row["fpr"] == pytest.approx(
                flm.false_positive_rate(yk[m], pk[m]), **EXACT)
            assert row["positive_rate"] == pytest.approx(
                flm.selection_rate(yk[m], pk[m]), **EXACT)
            assert row["ece"] == pytest.approx(
                naive_ece(yk[m], sk[m]), **EXACT)


def test_vectorised_auc_equals_sklearn_on_resamples():
    y, s, attrs = random_data(n=300, seed=3, ties=True)
    cells = 2 * attrs["race"] + y
    W = bs.resample_counts(cells, 6, np.random.default_rng(1))
    got = bs.weighted_auc(W, y, s)
    for r in range(W.shape[0]):
        idx = np.repeat(np.arange(y.size), W[r].astype(int))
        assert idx.size == y.size
        assert got[r] == pytest.approx(roc_auc_score(y[idx], s[idx]), **EXACT)
    # stratified: every (group, label) cell keeps its size
    for c in np.unique(cells):
        np.testing.assert_array_equal(W[:, cells == c].sum(1),
                                      np.sum(cells == c))


def test_ci_coverage_on_simulated_population():
    # Each gender group has 75 positives and 75 negatives (fixed, as the
    # stratified bootstrap assumes); positives score N(mu_g, 1), negatives
    # N(0, 1), so AUC_g = Phi(mu_g / sqrt 2), TPR_g = Phi(mu_g) at 0.5 and
    # the positive rate is (Phi(mu_g) + 1/2) / 2. Male TPR = Phi(1.5) =
    # .933 of 75 positives is the case where percentile intervals
    # under-cover (about 89 %); the Wilson interval of rates must not.
    mu = np.array([1.0, 1.5])
    y = np.tile(np.repeat([0, 1], 75), 2)
    g = np.repeat([0, 1], 150)
    truth = {("all", "auc"): norm.cdf(mu / np.sqrt(2)).mean(),
             ("Male", "auc"): norm.cdf(mu[1] / np.sqrt(2)),
             ("Female", "tpr"): norm.cdf(mu[0]),
             ("Male", "tpr"): norm.cdf(mu[1]),
             ("Male", "fpr"): 0.5,
             ("Male", "positive_rate"): (norm.cdf(mu[1]) + .5) / 2}
    rng = np.random.default_rng(0)
    hits = dict.fromkeys(truth, 0)
    n_sim = 300
    for _ in range(n_sim):
        x = rng.standard_normal(y.size) + y * mu[g]
        r = metrics.group_report(y, 1 / (1 + np.exp(-x)), groups=g,
                                 attribute="gender", n_boot=200,
                                 seed=int(rng.integers(1 << 31)))
        for key, value in truth.items():
            lo, hi = r.ci[key]
            hits[key] += lo <= value <= hi
    coverage = {k: v / n_sim for k, v in hits.items()}
    assert all(0.91 <= c <= 0.99 for c in coverage.values()), coverage


def test_rate_interval_is_wilson_and_never_a_point():
    # 20 positives all detected: TPR 1; the percentile interval would be
    # [1, 1], Wilson's is [0.839, 1] (z = 1.96).
    y = np.repeat([0, 1], 20)
    s = np.r_[np.full(20, .2), np.full(20, .9)]
    r = metrics.group_report(y, s, groups=np.tile([0, 1], 20),
                             attribute="gender", n_boot=100)
    lo, hi = r.ci["Female", "tpr"]
    assert (lo, hi) == pytest.approx((0.7225, 1.0), abs=1e-3)  # n = 10
    lo, hi = r.ci["all", "tpr"]
    assert (lo, hi) == pytest.approx((0.8389, 1.0), abs=1e-3)  # n = 20
    assert all(math.isnan(v) for v in bs.wilson_ci(0.5, 0, 0.95))
    # the AUC keeps the percentile bootstrap interval
    assert r.ci["all", "auc"] == bs.percentile_ci(
        r.replicates["all", "auc"], 0.95)


def test_single_class_group_is_nan_with_warning():
    y = HAND_Y.copy()
    y[HAND_RACE == 1] = 0  # Black: negatives only
    with pytest.warns(UserWarning, match="race=Black: AUC is undefined"):
        r = metrics.group_report(y, HAND_S, groups=HAND_RACE,
                                 attribute="race", n_boot=50)
    assert math.isnan(r.by_group.loc["Black", "auc"])
    assert all(math.isnan(v) for v in r.ci["Black", "auc"])
    assert r.by_group.loc["Black", "acc"] == pytest.approx(.5)
    # ES-AUC and disparities skip the undefined group, as summarize does
    with pytest.warns(UserWarning):
        summ = metrics.summarize(y, HAND_S, attributes={"race": HAND_RACE})
    for k in metrics.BETWEEN_GROUP_KEYS:
        assert r.between[k] == pytest.approx(summ[f"{k}_race"], **EXACT)
    assert not any(math.isnan(v) for v in r.ci["all", "es_auc"])


def test_all_unknown_attribute():
    y, s, _ = random_data(n=50)
    codes = np.full(50, -1)
    with pytest.warns(UserWarning, match="0 group"):
        r = metrics.group_report(y, s, groups=codes, attribute="language",
                                 n_boot=20)
    assert r.overall["n"] == 0 and r.by_group["n"].sum() == 0
    assert all(math.isnan(v) for v in r.between.values())
    assert math.isnan(r.overall["auc"])
    with pytest.warns(UserWarning, match="1 group"):
        r = metrics.group_report(y, s, groups=codes, attribute="language",
                                 n_boot=20, include_unknown=True)
    assert r.by_group.loc["Unknown", "n"] == 50
    assert r.overall["auc"] == pytest.approx(roc_auc_score(y, s), **EXACT)
    assert math.isnan(r.between["es_auc"])


def test_to_frame_and_reproducibility():
    y, s, attrs = random_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # clean data warns about nothing
        r = metrics.group_report(y, s, groups=attrs["race"],
                                 attribute="race", n_boot=100, seed=4)
    f = r.to_frame()
    assert list(f.columns) == ["attribute", "group", "metric", "value", "n",
                               "ci_low", "ci_high"]
    n_all = len(bs.GROUP_METRICS) + len(bs.BETWEEN_METRICS)
    assert len(f) == n_all + 3 * len(bs.GROUP_METRICS)
    assert (f["group"] == "all").sum() == n_all
    assert set(f["attribute"]) == {"race"}
    assert (f["ci_low"] <= f["ci_high"]).all()
    row = f[(f["group"] == "Black") & (f["metric"] == "auc")].iloc[0]
    assert row["n"] == np.sum(attrs["race"] == 1)
    assert row["value"] == r.by_group.loc["Black", "auc"]
    again = metrics.group_report(y, s, groups=attrs["race"],
                                 attribute="race", n_boot=100, seed=4)
    assert again.ci == r.ci


def test_group_reports_accepts_predictions_object():
    y, s, attrs = random_data()
    ids = np.array([f"s{i}" for i in range(y.size)])
    pred = SimpleNamespace(y_true=y, y_score=s, attributes=attrs, ids=ids)
    out = metrics.group_reports(pred, attributes=["gender", "race"],
                                n_boot=30)
    assert list(out) == ["gender", "race"]
    one = metrics.group_report(y, s, groups=attrs["race"], attribute="race",
                               n_boot=30, ids=ids)
    pd.testing.assert_frame_equal(out["race"].to_frame(), one.to_frame())
    assert list(metrics.group_reports(pred, n_boot=2)) == list(SCHEMA)
    with pytest.raises(ValueError, match="no column for attributes"):
        metrics.group_reports(pd.DataFrame({"y_true": y, "y_score": s}),
                              attributes=["race"])


def test_compare_identical_reports_is_zero_and_within_noise():
    y, s, attrs = random_data()
    a = metrics.group_report(y, s, groups=attrs["race"], attribute="race",
                             n_boot=100)
    b = metrics.group_report(y, s, groups=attrs["race"], attribute="race",
                             n_boot=100)
    d = metrics.compare(a, b)
    assert list(d.columns) == ["attribute", "group", "metric", "a", "b",
                               "diff", "ci_low", "ci_high", "verdict"]
    assert len(d) == len(a.to_frame())
    np.testing.assert_array_equal(d[["diff", "ci_low", "ci_high"]], 0.0)
    assert set(d["verdict"]) == {"within noise"}


def test_compare_detects_a_better_model():
    rng = np.random.default_rng(5)
    n = 1000
    y = rng.integers(0, 2, n)
    g = rng.integers(0, 2, n)
    noise = rng.standard_normal(n)
    weak = 1 / (1 + np.exp(-(0.3 * (2 * y - 1) + noise)))
    strong = 1 / (1 + np.exp(-(2.0 * (2 * y - 1) + noise)))
    kw = dict(groups=g, attribute="gender", n_boot=200)
    a = metrics.group_report(y, weak, **kw)
    b = metrics.group_report(y, strong, **kw)
    d = metrics.compare(a, b).set_index(["group", "metric"])
    for key in [("all", "auc"), ("all", "acc"), ("Female", "auc"),
                ("all", "es_auc")]:
        assert d.loc[key, "verdict"] == "better", key
        assert d.loc[key, "ci_low"] > 0
    assert d.loc[("all", "tpr"), "verdict"] == "higher"
    assert d.loc[("all", "fpr"), "verdict"] == "lower"
    assert d.loc[("all", "auc"), "diff"] == pytest.approx(
        roc_auc_score(y, strong) - roc_auc_score(y, weak), **EXACT)
    back = metrics.compare(b, a).set_index(["group", "metric"])
    assert back.loc[("all", "auc"), "verdict"] == "worse"
    assert back.loc[("all", "fpr"), "verdict"] == "higher"


def test_compare_rejects_unpaired_reports():
    y, s, attrs = random_data()
    kw = dict(groups=attrs["race"], attribute="race", n_boot=20)
    a = metrics.group_report(y, s, **kw)
    with pytest.raises(ValueError, match="same samples"):
        metrics.compare(a, metrics.group_report(1 - y, s, **kw))
    with pytest.raises(ValueError, match="same samples"):
        metrics.compare(a, metrics.group_report(y[::-1], s, **kw))
    with pytest.raises(ValueError, match="same samples"):
        metrics.compare(a, metrics.group_report(
            y, s, include_unknown=True, **kw))
    with pytest.raises(ValueError, match="seed, n_boot"):
        metrics.compare(a, metrics.group_report(y, s, seed=1, **kw))
    with pytest.raises(ValueError, match="one attribute"):
        metrics.compare(a, metrics.group_report(
            y, s, groups=attrs["gender"], attribute="gender", n_boot=20))
    ids = np.arange(y.size)
    with pytest.raises(ValueError, match="same samples"):
        metrics.compare(metrics.group_report(y, s, ids=ids, **kw),
                        metrics.group_report(y, s, ids=ids[::-1], **kw))


def test_report_input_validation():
    with pytest.raises(ValueError, match="level"):
        metrics.group_report(HAND_Y, HAND_S, groups=HAND_RACE,
                             attribute="race", level=95)
    with pytest.raises(ValueError, match="Did you mean 'race'"):
        metrics.group_report(HAND_Y, HAND_S, groups=HAND_RACE,
                             attribute="raec")
    with pytest.raises(ValueError, match=r"groups has 3"):
        metrics.group_report(HAND_Y, HAND_S, groups=[0, 1, 2],
                             attribute="race")
