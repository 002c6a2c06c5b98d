"""Tests of fairnb.metrics: hand-made cases with known answers, and
scikit-learn / fairlearn as independent oracles on random data."""
import math
import warnings

import fairlearn.metrics as flm
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from fairnb import metrics
from fairnb.attributes import SCHEMA, code_to_name, group_slug

TOL = dict(rtol=0, atol=1e-9)

# Three race groups with distinct scores (no ties):
#   Asian: neg .10 .20, pos .90 .80 -> AUC 1,   y_pred 0 0 1 1 -> Acc 1
#   Black: neg .85 .95, pos .15 .25 -> AUC 0,   y_pred 1 1 0 0 -> Acc 0
#   White: neg .30 .45, pos .40 .70 -> AUC 3/4, y_pred 0 0 0 1 -> Acc 3/4
# Overall: positives beat 5+4+1+2+3+4 = 19 of 36 negatives -> AUC 19/36;
# Acc = (4 + 0 + 3) / 12 = 7/12.
HAND_Y = np.array([0, 0, 1, 1] * 3)
HAND_S = np.array([.10, .20, .90, .80, .85, .95, .15, .25,
                   .30, .45, .40, .70])
HAND_RACE = np.repeat([0, 1, 2], 4)


def random_data(n=600, seed=0, unknown=True):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.clip(0.5 + 0.15 * (y - 0.5) + 0.1 * rng.standard_normal(n), 0, 1)
    low = -1 if unknown else 0
    attrs = {a: rng.integers(low, len(g), n) for a, g in SCHEMA.items()}
    return y, s, attrs


def test_auc_and_accuracy_known_values():
    assert metrics.auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert metrics.auc(HAND_Y, HAND_S) == pytest.approx(19 / 36, abs=1e-12)
    assert metrics.accuracy([0, 1, 1, 0], [0, 1, 0, 0]) == 0.75


def test_auc_single_class_is_nan_with_warning():
    with pytest.warns(UserWarning, match="single class"):
        value = metrics.auc([1, 1, 1], [0.2, 0.5, 0.9])
    assert math.isnan(value)


def test_accuracy_empty_is_nan_with_warning():
    with pytest.warns(UserWarning, match="no samples"):
        assert math.isnan(metrics.accuracy([], []))


def test_group_values_known_and_sorted():
    by_group = metrics.group_values(metrics.auc, HAND_Y[::-1], HAND_S[::-1],
                                    HAND_RACE[::-1])
    assert list(by_group) == [0, 1, 2]
    np.testing.assert_allclose(list(by_group.values()), [1, 0, .75], **TOL)
    pred = (HAND_S >= .5).astype(int)
    assert metrics.group_values(metrics.accuracy, HAND_Y, pred,
                                HAND_RACE) == {0: 1.0, 1: 0.0, 2: 0.75}


def test_group_values_warning_names_group():
    with pytest.warns(UserWarning, match="group 7: AUC is undefined"):
        out = metrics.group_values(metrics.auc, [0, 1, 1, 1],
                                   [.2, .6, .3, .9], [3, 3, 7, 7])
    assert out[3] == 1.0 and math.isnan(out[7])


def test_equity_scaled_sums_over_groups():
    by_group = {0: 0.7, 1: 0.9, 2: 0.6}  # gaps .1 + .1 + .2 = .4
    assert metrics.equity_scaled(0.8, by_group) == pytest.approx(0.8 / 1.4)
    assert metrics.equity_scaled(0.8, by_group, alpha=2) == pytest.approx(
        0.8 / 1.8)
    assert metrics.equity_scaled(0.8, by_group, alpha=0) == 0.8
    # NaN groups are skipped
    assert metrics.equity_scaled(0.8, {0: 0.7, 1: float("nan")}) == (
        pytest.approx(0.8 / 1.1))
    with pytest.raises(ValueError, match="alpha"):
        metrics.equity_scaled(0.8, by_group, alpha=-1)


def test_dpd_and_deodds_by_hand():
    y = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    p = np.array([1, 1, 0, 0, 1, 0, 0, 0])
    g = np.repeat([0, 1], 4)
    # selection .5 vs .25; TPR 1 vs .5; FPR 0 vs 0
    assert metrics.demographic_parity_difference(p, g) == 0.25
    assert metrics.equalized_odds_difference(y, p, g) == 0.5
    # a third group with TPR 1 and FPR 1: FPR gap 1 dominates
    y3, p3, g3 = np.r_[y, 1, 0], np.r_[p, 1, 1], np.r_[g, 2, 2]
    assert metrics.demographic_parity_difference(p3, g3) == 0.75
    assert metrics.equalized_odds_difference(y3, p3, g3) == 1.0


def test_summarize_hand_three_groups():
    out = metrics.summarize(HAND_Y, HAND_S, attributes={"race": HAND_RACE})
    auc, acc = 19 / 36, 7 / 12
    expected = {
        "auc": auc, "acc": acc, "n": 12,
        "auc_race_asian": 1, "auc_race_black": 0, "auc_race_white": .75,
        "acc_race_asian": 1, "acc_race_black": 0, "acc_race_white": .75,
        "n_race_asian": 4, "n_race_black": 4, "n_race_white": 4,
        # 19/36 / (1 + 17/36 + 19/36 + 8/36) = 19/80
        "es_auc_race": 19 / 80,
        # 7/12 / (1 + 5/12 + 7/12 + 2/12) = 7/26
        "es_acc_race": 7 / 26,
        "dpd_race": .25,  # selection rates .5, .5, .25
        "deodds_race": 1.0,  # TPR 1, 0, .5
        "auc_std_disparity_race": np.std([1, 0, .75]) / auc,
        "auc_max_disparity_race": 36 / 19,
    }
    assert set(out) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(out[key], value, **TOL, err_msg=key)


def test_summarize_threshold_is_inclusive():
    y, s = np.array([0, 1, 0, 1]), np.array([.2, .5, .7, .9])
    assert metrics.summarize(y, s, attributes={})["acc"] == 0.75
    out = metrics.summarize(y, s, attributes={}, threshold=0.8)
    assert out["acc"] == 0.75 and out["auc"] == 0.75  # AUC ignores it
    assert metrics.summarize(y, s, attributes={}, threshold=0.1)[
        "acc"] == 0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_summarize_matches_sklearn_and_fairlearn(seed):
    y, s, attrs = random_data(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no group is single-class here
        out = metrics.summarize(y, s, attributes=attrs)
    p = (s >= 0.5).astype(int)
    assert out["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-9)
    assert out["acc"] == pytest.approx(accuracy_score(y, p), abs=1e-9)
    for a, codes in attrs.items():
        known = codes != -1
        yk, sk, pk, gk = y[known], s[known], p[known], codes[known]
        frame = flm.MetricFrame(metrics={"auc": roc_auc_score,
                                         "acc": accuracy_score},
                                y_true=yk, y_pred=pk,
                                sensitive_features=gk)
        frame_auc = flm.MetricFrame(metrics=roc_auc_score, y_true=yk,
                                    y_pred=sk, sensitive_features=gk)
        aucs = frame_auc.by_group.to_numpy()
        accs = frame.by_group["acc"].to_numpy()
        for i, code in enumerate(frame_auc.by_group.index):
            slug = group_slug(code_to_name(a, code))
            m = codes == code
            np.testing.assert_allclose(out[f"auc_{a}_{slug}"], aucs[i],
                                       **TOL)
            np.testing.assert_allclose(out[f"acc_{a}_{slug}"], accs[i],
                                       **TOL)
            assert out[f"n_{a}_{slug}"] == m.sum()
        auc, acc = roc_auc_score(yk, sk), accuracy_score(yk, pk)
        expected = {
            "es_auc": auc / (1 + np.abs(aucs - auc).sum()),
            "es_acc": acc / (1 + np.abs(accs - acc).sum()),
            "dpd": flm.demographic_parity_difference(
                yk, pk, sensitive_features=gk),
            "deodds": flm.equalized_odds_difference(
                yk, pk, sensitive_features=gk),
            "auc_std_disparity": aucs.std() / auc,
            "auc_max_disparity": (aucs.max() - aucs.min()) / auc,
        }
        for k, value in expected.items():
            np.testing.assert_allclose(out[f"{k}_{a}"], value, **TOL,
                                       err_msg=f"{k}_{a}")


def test_wrappers_match_fairlearn_with_unknown_group():
    y, s, attrs = random_data(seed=3)
    p, g = (s >= 0.5).astype(int), attrs["language"]
    np.testing.assert_allclose(
        metrics.demographic_parity_difference(p, g),
        flm.demographic_parity_difference(y, p, sensitive_features=g), **TOL)
    np.testing.assert_allclose(
        metrics.equalized_odds_difference(y, p, g),
        flm.equalized_odds_difference(y, p, sensitive_features=g), **TOL)


def test_single_class_group_is_nan_with_warning():
    y, s = HAND_Y.copy(), HAND_S.copy()
    y[HAND_RACE == 1] = 0  # Black: negatives only
    with pytest.warns(UserWarning, match="race=Black: AUC is undefined"):
        out = metrics.summarize(y, s, attributes={"race": HAND_RACE})
    assert math.isnan(out["auc_race_black"])
    assert out["acc_race_black"] == 0.5  # scores .15 .25 right, .85 .95 not
    auc = roc_auc_score(y, s)
    # the NaN group is skipped in the sum and in the disparities
    np.testing.assert_allclose(out["es_auc_race"],
                               auc / (1 + abs(1 - auc) + abs(.75 - auc)),
                               **TOL)
    np.testing.assert_allclose(out["auc_std_disparity_race"],
                               np.std([1, .75]) / auc, **TOL)
    assert not math.isnan(out["dpd_race"])


def test_disparity_needs_two_defined_aucs():
    y, s = HAND_Y[4:].copy(), HAND_S[4:]
    race = HAND_RACE[4:]
    y[race == 1] = 1  # Black: positives only; White keeps AUC 3/4
    with pytest.warns(UserWarning, match="race=Black"):
        out = metrics.summarize(y, s, attributes={"race": race})
    auc = roc_auc_score(y, s)
    np.testing.assert_allclose(out["es_auc_race"],
                               auc / (1 + abs(.75 - auc)), **TOL)
    assert math.isnan(out["auc_std_disparity_race"])
    assert math.isnan(out["auc_max_disparity_race"])


def test_all_unknown_attribute():
    y, s, _ = random_data(n=50, seed=4)
    attrs = {"ethnicity": np.full(50, -1), "gender": np.repeat([0, 1], 25)}
    with pytest.warns(UserWarning, match="ethnicity: 0 group"):
        out = metrics.summarize(y, s, attributes=attrs)
    for k in metrics.BETWEEN_GROUP_KEYS:
        assert math.isnan(out[f"{k}_ethnicity"])
        assert not math.isnan(out[f"{k}_gender"])
    assert out["n_ethnicity_hispanic"] == out["n_ethnicity_non_hispanic"] == 0
    assert math.isnan(out["auc_ethnicity_hispanic"])
    assert out["n"] == 50 and not math.isnan(out["auc"])


def test_one_group_attribute_warns():
    y, s, _ = random_data(n=40, seed=5)
    with pytest.warns(UserWarning, match="gender: 1 group"):
        out = metrics.summarize(y, s, attributes={"gender": np.zeros(40)})
    assert math.isnan(out["es_auc_gender"]) and math.isnan(out["dpd_gender"])
    assert out["n_gender_female"] == 40
    np.testing.assert_allclose(out["auc_gender_female"], out["auc"], **TOL)


def test_include_unknown_switch():
    y, s, attrs = random_data(seed=6)
    race = attrs["race"]
    known = race != -1
    plain = metrics.summarize(y, s, attributes={"race": race})
    wide = metrics.summarize(y, s, attributes={"race": race},
                             include_unknown=True)
    assert "auc_race_unknown" not in plain
    assert set(wide) - set(plain) == {"auc_race_unknown", "acc_race_unknown",
                                      "n_race_unknown"}
    assert wide["n_race_unknown"] == (~known).sum() > 0
    np.testing.assert_allclose(wide["auc_race_unknown"],
                               roc_auc_score(y[~known], s[~known]), **TOL)
    for a in ("asian", "black", "white"):
        assert wide[f"auc_race_{a}"] == plain[f"auc_race_{a}"]

    def es(mask, codes):
        overall = roc_auc_score(y[mask], s[mask])
        gaps = sum(abs(roc_auc_score(y[mask & (race == c)],
                                     s[mask & (race == c)]) - overall)
                   for c in codes)
        return overall / (1 + gaps)

    everyone = np.ones_like(known)
    np.testing.assert_allclose(plain["es_auc_race"], es(known, [0, 1, 2]),
                               **TOL)
    np.testing.assert_allclose(wide["es_auc_race"],
                               es(everyone, [-1, 0, 1, 2]), **TOL)
    # the overall term is over known samples, not everyone
    assert abs(plain["es_auc_race"] - es(everyone, [0, 1, 2])) > 1e-6


def test_keys_stable_when_groups_absent():
    y, s, attrs = random_data(seed=7, unknown=False)
    full = metrics.summarize(y, s, attributes=attrs)
    keep = attrs["race"] != 1
    part = metrics.summarize(y[keep], s[keep],
                             attributes={a: v[keep] for a, v in attrs.items()})
    assert list(part) == list(full)
    assert part["n_race_black"] == 0 and math.isnan(part["auc_race_black"])
    assert math.isnan(part["acc_race_black"])
    assert not math.isnan(part["es_auc_race"])
    for a, groups in SCHEMA.items():
        for name in groups.values():
            assert f"auc_{a}_{group_slug(name)}" in full


def test_official_mask():
    attrs = {"race": np.array([0, 1, 2, 0, -1]),
             "gender": np.array([0, 1, 1, 0, 1]),
             "ethnicity": np.array([0, -1, 1, 0, 0]),
             "language": np.array([0, 2, 1, 0, 0]),
             "maritalstatus": np.array([-1, -1, -1, 0, 0])}
    np.testing.assert_array_equal(metrics.official_mask(attrs),
                                  [True, False, True, True, False])
    np.testing.assert_array_equal(
        metrics.official_mask(attrs, names=("gender", "maritalstatus")),
        [False, False, False, True, True])
    with pytest.raises(ValueError, match="needs attributes"):
        metrics.official_mask({"race": attrs["race"]})


@pytest.mark.parametrize("call, match", [
    (lambda: metrics.summarize([0, 1, 1], [.1, .2],
                               attributes={}),
     r"y_true has 3, y_score has 2"),
    (lambda: metrics.summarize([0, 1], [.1, .2],
                               attributes={"race": [0, 1, 2]}),
     r"attributes\['race'\] has 3"),
    (lambda: metrics.summarize([0, 2], [.1, .2], attributes={}),
     "binary"),
    (lambda: metrics.auc([0, 1], [.1, float("nan")]),
     "y_score has 1 NaN or infinite"),
    (lambda: metrics.summarize([0, 1, 0], [.1, np.inf, np.nan],
                               attributes={}),
     "y_score has 2 NaN or infinite"),
    (lambda: metrics.summarize([0, 1], [.1, .2],
                               attributes={"raec": [0, 1]}),
     "Did you mean 'race'"),
    (lambda: metrics.summarize([0, 1], [.1, .2],
                               attributes={"race": [0, 3]}),
     r"codes \[3\] outside the schema"),
    (lambda: metrics.summarize([0, 1], [.1, .2],
                               attributes={"gender": [0.5, 1]}),
     "outside the schema"),
    (lambda: metrics.accuracy([0, 1], [[0, 1]]), "1-D"),
    (lambda: metrics.official_mask({"race": [0, 1], "gender": [0]},
                                   names=("race", "gender")),
     r"attributes\['gender'\] has 1"),
])
def test_input_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()
