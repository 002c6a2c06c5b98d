"""Post-hoc group thresholds (fairlearn's ThresholdOptimizer) on scores."""
import numpy as np
import pytest

from fairnb.posthoc import decision_rates, fit_thresholds
from fairnb.predictions import Predictions


def scores(n, seed, *, shift=1.0):
    """Scores whose positive rate depends on the group (race 0, 1, 2)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    g = rng.choice(3, n, p=[0.2, 0.3, 0.5])
    logit = 2.0 * (y - 0.5) + shift * (g - 1) + rng.normal(0, 1, n)
    s = 1 / (1 + np.exp(-logit))
    return Predictions(np.arange(n).astype(str), y, s, np.zeros(n),
                       {"race": g, "gender": rng.integers(0, 2, n)})


def expected_by_fairlearn(y, p, g, metric):
    """Oracle: fairlearn's MetricFrame on each sample split into a
    positive and a negative decision weighted p and 1 - p."""
    from fairlearn.metrics import MetricFrame, selection_rate
    from sklearn.metrics import recall_score
    yy = np.concatenate([y, y])
    pred = np.concatenate([np.ones_like(y), np.zeros_like(y)])
    w = np.concatenate([p, 1 - p])
    fn = {"positive_rate": selection_rate, "tpr": recall_score}[metric]
    frame = MetricFrame(metrics=fn, y_true=yy, y_pred=pred,
                        sensitive_features=np.concatenate([g, g]),
                        sample_params={"sample_weight": w})
    return frame.by_group


@pytest.mark.parametrize("constraint, metric", [
    ("demographic_parity", "positive_rate"),
    ("equal_opportunity", "tpr")])
def test_thresholds_fitted_on_validation_equalise_test_decisions(
        constraint, metric):
    val, test = scores(4000, 0), scores(4000, 1)
    out = fit_thresholds(val, test, attribute="race", constraint=constraint)
    g = test.attributes["race"]
    fair = expected_by_fairlearn(test.y_true, out.p_positive, g, metric)
    rates = decision_rates(test.y_true, out.p_positive, g).set_index(
        "group")
    np.testing.assert_allclose(rates.loc[[0, 1, 2], metric].to_numpy(),
                               fair.to_numpy(), rtol=1e-9)
    before = decision_rates(test.y_true, (test.y_score >= 0.5).astype(float),
                            g).set_index("group")
    spread_before = np.ptp(before.loc[[0, 1, 2], metric])
    spread_after = np.ptp(rates.loc[[0, 1, 2], metric])
    assert spread_before > 0.3 and spread_after < 0.06
    summary = out.summary()
    key = "dpd" if constraint == "demographic_parity" else None
    if key:
        assert summary["dpd_after"] == pytest.approx(spread_after)
        assert summary["dpd_before"] == pytest.approx(spread_before)
    # one seeded draw of the randomised decisions agrees with p in mean
    assert abs(out.y_pred.mean() - out.p_positive.mean()) < 0.03
    assert set(np.unique(out.y_pred)) <= {0, 1}


def test_equalized_odds_bounds_both_rates_and_scores_stay():
    val, test = scores(4000, 2), scores(4000, 3)
    out = fit_thresholds(val, test, attribute="race",
                         constraint="equalized_odds")
    rows = out.report.set_index(["group", "metric"])
    assert rows.loc[("all", "deodds"), "after"] < 0.08 < rows.loc[
        ("all", "deodds"), "before"]
    assert set(out.report["group"]) == {"all", "Asian", "Black", "White"}


def test_groups_that_cannot_be_fitted_keep_the_single_threshold():
    val, test = scores(500, 0), scores(500, 1)
    missing = fit_thresholds(val.subset(val.attributes["race"] != 0), test,
                             attribute="race")
    one = val.y_true.copy()
    one[val.attributes["race"] == 0] = 1  # Asian: one class on Validation
    degenerate = fit_thresholds(Predictions(val.ids, one, val.y_score,
                                            val.similarity, val.attributes),
                                test, attribute="race")
    asian = test.attributes["race"] == 0
    for out in (missing, degenerate):
        assert out.unfitted == ("Asian",)
        np.testing.assert_array_equal(out.p_positive[asian],
                                      (test.y_score[asian] >= 0.5))
        assert not np.array_equal(out.p_positive[~asian],
                                  test.y_score[~asian] >= 0.5)
    none = val.y_true.copy()
    none[:] = 1
    with pytest.raises(ValueError, match="No race group has both classes"):
        fit_thresholds(Predictions(val.ids, none, val.y_score,
                                   val.similarity, val.attributes), test,
                       attribute="race")
    with pytest.raises(ValueError, match="Valid choices"):
        fit_thresholds(val, test, attribute="race", constraint="parity")


def test_posthoc_rows_average_each_method_over_seeds(tmp_path):
    import json

    from scipy import stats

    from fairnb.comparison import collect, posthoc_rows
    runs = []
    for seed in range(3):
        path = tmp_path / f"clip_{seed}"
        path.mkdir()
        val, test = scores(800, 10 + seed), scores(800, 20 + seed)
        val.save(path / "predictions_val.npz")
        test.save(path / "predictions.npz")
        (path / "params.json").write_text(json.dumps(
            {"method": "clip", "seed": seed, "attribute": "race"}))
        (path / "metrics.json").write_text(json.dumps({"auc": 0.7}))
        runs.append(path)
    rows = posthoc_rows(collect(runs), constraints="equalized_odds")
    assert rows["metric"].tolist() == ["DPD", "DEOdds", "Acc"]
    one = [fit_thresholds(scores(800, 10 + s), scores(800, 20 + s),
                          attribute="race", constraint="equalized_odds")
           .summary() for s in range(3)]
    deodds = rows.set_index("metric").loc["DEOdds"]
    before = [o["deodds_before"] for o in one]
    after = [o["deodds_after"] for o in one]
    assert deodds["before"] == pytest.approx(np.mean(before))
    assert deodds["after"] == pytest.approx(np.mean(after))
    ci = stats.ttest_rel(after, before).confidence_interval()
    assert (deodds["seeds_low"], deodds["seeds_high"]) == pytest.approx(
        (ci.low, ci.high))
    assert deodds["n_seeds"] == 3


def test_unknown_keeps_the_single_threshold_and_is_not_constrained():
    val, test = scores(3000, 4), scores(3000, 5)
    for p in (val, test):
        p.attributes["race"][::10] = -1  # a tenth Unknown
    out = fit_thresholds(val, test, attribute="race")
    unknown = test.attributes["race"] == -1
    assert out.unfitted == ("Unknown",)
    np.testing.assert_array_equal(out.p_positive[unknown],
                                  test.y_score[unknown] >= 0.5)
    rates = decision_rates(test.y_true, out.p_positive,
                           test.attributes["race"]).set_index("group")
    assert np.ptp(rates.loc[[0, 1, 2], "positive_rate"]) < 0.06
    assert -1 not in rates.index  # Unknown stays out of the group rows
