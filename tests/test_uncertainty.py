"""fairnb.uncertainty against scipy, hand computations and known answers."""
import numpy as np
import pytest
from scipy import stats

from fairnb.metrics import compare, group_report
from fairnb.predictions import Predictions
from fairnb.uncertainty import (
    holm,
    seed_difference,
    seeds_needed,
    signed_rank_floor,
    two_level_bootstrap,
)


def test_seed_difference_is_scipys_paired_t():
    a = np.array([0.71, 0.69, 0.74, 0.70])
    b = np.array([0.73, 0.74, 0.75, 0.70])
    d = seed_difference(a, b, metric="auc")
    test = stats.ttest_rel(b, a)
    ci = test.confidence_interval(0.95)
    assert d.diff == pytest.approx(np.mean(b - a))
    assert (d.low, d.high) == pytest.approx((ci.low, ci.high))
    assert d.p_value == pytest.approx(test.pvalue)
    assert np.isnan(seed_difference([0.7], [0.8]).low)  # one seed: no CI


def test_holm_by_hand():
    # sorted: .005*4 = .02, .01*3 = .03, .03*2 = .06, .04*1 = .04 -> .06
    assert holm([0.01, 0.04, 0.03, 0.005]).tolist() == pytest.approx(
        [0.03, 0.06, 0.06, 0.02])
    out = holm([0.2, np.nan, 0.01])  # NaN is not counted: m = 2
    assert out[0] == pytest.approx(0.2) and np.isnan(out[1])
    assert out[2] == pytest.approx(0.02)


@pytest.mark.parametrize("n", range(3, 9))
def test_the_signed_rank_floor_is_scipys_exact_p_with_one_sign(n):
    d = np.arange(1, n + 1) / 100  # every seed better: the best case
    assert signed_rank_floor(n) == pytest.approx(
        stats.wilcoxon(d, method="exact").pvalue)
    assert (signed_rank_floor(n) < 0.05) == (n >= 6)


def test_seeds_needed_is_the_first_n_whose_interval_excludes_zero():
    d = [0.01, 0.03, -0.005, 0.02]
    n = seeds_needed(d)
    mean, sd = np.mean(d), np.std(d, ddof=1)

    def excludes(k):
        return stats.t.ppf(0.975, k - 1) * sd / np.sqrt(k) < abs(mean)

    assert n is not None and excludes(n) and not excludes(n - 1)
    assert seeds_needed([0.01, -0.01]) is None  # mean 0


def preds(y, score, race, ids=None):
    n = len(y)
    return Predictions(ids=np.arange(n) if ids is None else ids,
                       y_true=np.asarray(y), y_score=np.asarray(score, float),
                       similarity=np.zeros(n),
                       attributes={"race": np.asarray(race)})


@pytest.fixture
def data():
    rng = np.random.default_rng(4)
    n = 240
    y = rng.integers(0, 2, n)
    race = rng.integers(0, 3, n)
    runs = [preds(y, np.clip(y * 0.3 + rng.random(n) * 0.7, 0, 1), race)
            for _ in range(3)]
    return y, race, runs


def test_identical_methods_differ_by_exactly_zero(data):
    _, _, runs = data
    d = two_level_bootstrap(runs, runs, attribute="race", n_boot=200)
    assert (d.diff, d.low, d.high, d.p_value) == (0, 0, 0, 1)
    assert d.verdict == "within noise"


def test_one_seed_without_seed_resampling_is_the_paired_bootstrap(data):
    y, race, runs = data
    a, b = runs[0], runs[1]
    d = two_level_bootstrap([a], [b], attribute="race", metric="es_auc",
                            n_boot=300, seed=7, resample_seeds=False)
    ra, rb = (group_report(p.y_true, p.y_score, groups=race,
                           attribute="race", n_boot=300, seed=7,
                           ids=p.ids) for p in (a, b))
    row = compare(ra, rb).query("group == 'all' and metric == 'es_auc'")
    assert d.diff == pytest.approx(float(row["diff"].iloc[0]))
    assert (d.low, d.high) == pytest.approx(
        (float(row["ci_low"].iloc[0]), float(row["ci_high"].iloc[0])))


def test_a_group_metric_by_name(data):
    _, _, runs = data
    d = two_level_bootstrap(runs[:1], runs[1:2], attribute="race",
                            metric="auc:Black", n_boot=100)
    assert d.low <= d.diff <= d.high
    with pytest.raises(ValueError, match="Unknown metric 'acu'"):
        two_level_bootstrap(runs, runs, attribute="race", metric="acu")


def test_seed_resampling_of_a_known_seed_spread():
    """Accuracy: seed 0 of b is right where a is wrong on every sample
    (difference 1 on any resample), seeds 1 and 2 equal (difference 0).
    The two-level replicate is then the mean of three seeds drawn from
    (1, 0, 0): P(0) = (2/3)^3, P(1) = 1/27; so the interval is [0, 1]
    and p = 2 (2/3)^3 = 0.593."""
    n = 60
    y = np.tile([0, 1], n // 2)
    race = np.tile([0, 1, 2], n // 3)
    right, wrong = preds(y, y * 0.8 + 0.1, race), preds(y, 0.9 - y * 0.8,
                                                         race)
    d = two_level_bootstrap([wrong, right, right], [right, right, right],
                            attribute="race", metric="acc", n_boot=20000,
                            seed=1)
    assert d.diff == pytest.approx(1 / 3)
    assert (d.low, d.high) == (0.0, 1.0)
    assert d.p_value == pytest.approx(2 * (2 / 3) ** 3, abs=0.02)
    fixed = two_level_bootstrap([wrong, right, right], [right] * 3,
                                attribute="race", metric="acc",
                                n_boot=500, resample_seeds=False)
    assert (fixed.low, fixed.high) == pytest.approx((1 / 3, 1 / 3))


def test_runs_on_other_samples_are_refused(data):
    y, race, runs = data
    other = preds(y, runs[0].y_score, race, ids=np.arange(len(y)) + 1)
    with pytest.raises(ValueError, match="same Test samples"):
        two_level_bootstrap([runs[0]], [other], attribute="race")


def test_auc_covers_every_sample_as_in_metrics_json(data):
    from sklearn.metrics import roc_auc_score
    y, race, runs = data
    race = race.copy()
    race[::5] = -1  # some Unknown: still counted in the overall AUC
    a, b = (preds(y, r.y_score, race) for r in runs[:2])
    d = two_level_bootstrap([a], [b], attribute="race", n_boot=50)
    assert d.diff == pytest.approx(roc_auc_score(y, b.y_score)
                                   - roc_auc_score(y, a.y_score))


def test_a_group_metric_verdict_uses_its_direction(data):
    from fairnb.uncertainty import Difference
    d = Difference("auc:Black", "both", 0.1, 0.05, 0.15, 0.01, 3)
    assert d.verdict == "better"
    assert Difference("dpd", "both", 0.1, 0.05, 0.15, 0.01, 3).verdict == \
        "worse"


def test_the_bootstrap_p_value_never_reaches_zero():
    from fairnb.uncertainty import _bootstrap_p
    assert _bootstrap_p(np.ones(99)) == pytest.approx(2 / 100)


def test_the_verdict_interval_holds_its_level_under_no_difference():
    """a and b from one distribution, three seeds: the combined interval
    (the verdict's) rejects at about its 5 % level or less, where the
    two-level percentile bootstrap rejects far more often."""
    from fairnb.uncertainty import bootstrap_differences
    rng = np.random.default_rng(11)
    n, trials = 300, 60
    y = rng.integers(0, 2, n)
    race = rng.integers(0, 3, n)
    rejected = {"both": 0, "two_level": 0}
    for _ in range(trials):
        # seed noise dominates: each run's signal strength varies
        runs = [preds(y, 0.5 + (y - 0.5) * rng.normal(0.3, 0.1)
                      + rng.normal(0, 0.25, n), race) for _ in range(6)]
        out = bootstrap_differences(runs[:3], runs[3:], attribute="race",
                                    metrics=["auc"], n_boot=200,
                                    seed=int(rng.integers(1 << 30)))["auc"]
        for source in rejected:
            rejected[source] += out[source].p_value < 0.05
    assert rejected["both"] / trials <= 0.10
    assert rejected["two_level"] > rejected["both"]
