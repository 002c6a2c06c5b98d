"""Point metrics of group performance: AUC, accuracy, equity-scaled (ES)
metrics, demographic parity and equalized odds differences, disparity
summaries (``summarize``) and the official protocol's sample mask.

Definitions follow shared/METHODS.md §0.3 (FairCLIP ``src/modules.py``,
MultiFair ``model_evaluation.py``). Every function is pure and takes numpy
arrays, so resampling (bootstrap) can call them on indexed copies.
"""
from __future__ import annotations

import warnings
from typing import Callable, Mapping, Sequence

import numpy as np
from fairlearn import metrics as flm
from sklearn.metrics import roc_auc_score

from .._bootstrap import (  # noqa: F401 (re-exported)
    COMPARE_COLUMNS,
    REPORT_COLUMNS,
    GroupReport,
    replicate_stats,
)
from ..attributes import (
    PAPER_ATTRIBUTES,
    UNKNOWN,
    check_attribute,
    code_to_name,
    group_codes,
    group_slug,
)


def _as_1d(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {x.shape}.")
    return x


def _labels(y, name: str = "y_true") -> np.ndarray:
    y = _as_1d(y, name)
    bad = np.setdiff1d(np.unique(y), [0, 1])
    if bad.size:
        raise ValueError(f"{name} must be binary (0/1); found values "
                         f"{bad[:5].tolist()}.")
    return y.astype(np.int64)


def _scores(s, name: str = "y_score") -> np.ndarray:
    s = _as_1d(s, name).astype(np.float64)
    n_bad = int(np.sum(~np.isfinite(s)))
    if n_bad:
        raise ValueError(f"{name} has {n_bad} NaN or infinite values of "
                         f"{s.size}; metrics need a finite score per sample.")
    return s


def _codes(attribute: str, codes) -> np.ndarray:
    check_attribute(attribute)
    c = _as_1d(codes, f"attributes[{attribute!r}]")
    valid = [*group_codes(attribute), UNKNOWN]
    bad = np.setdiff1d(np.unique(c), valid) if c.dtype.kind in "biuf" else c
    if bad.size:
        raise ValueError(f"attributes[{attribute!r}] has codes "
                         f"{bad[:5].tolist()} outside the schema; valid: "
                         f"{valid} (-1 is Unknown).")
    return c.astype(np.int64)


def _check_lengths(arrays: Mapping[str, np.ndarray]) -> None:
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError("Arrays differ in length: " + ", ".join(
            f"{k} has {n}" for k, n in lengths.items()) + ".")


def _labelled(label: str, metric: Callable, *args) -> float:
    """Call ``metric``, re-emitting its warnings prefixed by ``label``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = metric(*args)
    for w in caught:
        warnings.warn(f"{label}: {w.message}", w.category, stacklevel=3)
    return float(value)


def auc(y_true, y_score) -> float:
    r"""Area under the ROC curve of ``y_score`` against ``y_true``.

    .. math:: \mathrm{AUC} = P(p_i > p_j \mid y_i = 1, y_j = 0)
              + \tfrac12 P(p_i = p_j \mid y_i = 1, y_j = 0)

    Parameters
    ----------
    y_true : (n,) array of {0, 1}
    y_score : (n,) array of float
        Score of class 1; NaN is returned, with a ``UserWarning``, when
        ``y_true`` holds a single class.

    References
    ----------
    scikit-learn ``roc_auc_score``; Luo et al., "FairCLIP", CVPR 2024.

    Examples
    --------
    >>> auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y, s = _labels(y_true), _scores(y_score)
    _check_lengths({"y_true": y, "y_score": s})
    classes = np.unique(y)
    if classes.size < 2:
        warnings.warn(f"AUC is undefined when y_true has a single class "
                      f"(classes {classes.tolist()}, n={y.size}); returning "
                      "NaN.", UserWarning, stacklevel=2)
        return np.nan
    return float(roc_auc_score(y, s))


def accuracy(y_true, y_pred) -> float:
    r"""Fraction of correct predictions.

    .. math:: \mathrm{Acc} = \frac1n \sum_i 1[\hat y_i = y_i]

    Parameters
    ----------
    y_true, y_pred : (n,) arrays of {0, 1}
        With no samples, NaN is returned with a ``UserWarning``.
    """
    y, p = _labels(y_true), _labels(y_pred, "y_pred")
    _check_lengths({"y_true": y, "y_pred": p})
    if y.size == 0:
        warnings.warn("Accuracy of no samples is undefined; returning NaN.",
                      UserWarning, stacklevel=2)
        return np.nan
    return float(np.mean(y == p))


def group_values(metric: Callable, y_true, y_x, groups) -> dict[int, float]:
    r"""``metric`` on each group present in ``groups``, in code order.

    .. math:: m_g = m(\{(y_i, x_i) : A_i = g\}), \quad g \in G

    Parameters
    ----------
    metric : callable ``(y_true, y_x) -> float``
        E.g. :func:`auc` (``y_x = y_score``) or :func:`accuracy`; its
        warnings are re-emitted naming the group.
    y_true, y_x, groups : (n,) arrays
        ``groups`` holds integer group codes.
    """
    y, x, g = (_as_1d(v, k) for v, k in ((y_true, "y_true"), (y_x, "y_x"),
                                         (groups, "groups")))
    _check_lengths({"y_true": y, "y_x": x, "groups": g})
    return {int(c): _labelled(f"group {c}", metric, y[g == c], x[g == c])
            for c in np.unique(g)}


def equity_scaled(overall: float, by_group: Mapping[int, float], *,
                  alpha: float = 1.0) -> float:
    r"""Equity-scaled metric (ES-AUC, ES-Acc).

    .. math:: \mathrm{ES}\text{-}m = \frac{m}{1 + \alpha
              \sum_{g \in G} |m_g - m|}

    The sum runs over groups (it is not a mean), so attributes with more
    groups are penalised more. Groups whose ``m_g`` is NaN (e.g. an AUC of
    a single-class group) are skipped, as MultiFair does.

    Parameters
    ----------
    overall : float
        ``m`` over the samples of all groups in ``by_group``.
    by_group : mapping of group code -> float

    References
    ----------
    Luo et al., "Harvard Glaucoma Fairness" (Harvard-GF / FIN), IEEE TMI
    2024; Luo et al., "FairCLIP", CVPR 2024.

    Examples
    --------
    >>> round(equity_scaled(0.8, {0: 0.7, 1: 0.9}), 4)  # 0.8 / 1.2
    0.6667
    """
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0; got {alpha}.")
    gaps = [abs(v - overall) for v in by_group.values() if not np.isnan(v)]
    return float(overall / (1.0 + alpha * sum(gaps)))


def demographic_parity_difference(y_pred, groups) -> float:
    r"""Largest gap in positive-prediction rate between groups.

    .. math:: \mathrm{DPD} = \max_g P(\hat y = 1 \mid A = g)
              - \min_g P(\hat y = 1 \mid A = g)

    A thin wrapper over fairlearn (``method="between_groups"``).

    References
    ----------
    fairlearn ``demographic_parity_difference``; Luo et al., "FairCLIP",
    CVPR 2024.
    """
    p, g = _labels(y_pred, "y_pred"), _as_1d(groups, "groups")
    _check_lengths({"y_pred": p, "groups": g})
    # fairlearn ignores y_true for this metric
    return float(flm.demographic_parity_difference(
        p, p, sensitive_features=g, method="between_groups"))


def equalized_odds_difference(y_true, y_pred, groups) -> float:
    r"""Worst between-group gap in true- or false-positive rate.

    .. math:: \mathrm{DEOdds} = \max\bigl(\max_g \mathrm{TPR}_g
              - \min_g \mathrm{TPR}_g,\ \max_g \mathrm{FPR}_g
              - \min_g \mathrm{FPR}_g\bigr)

    with :math:`\mathrm{TPR}_g = P(\hat y = 1 \mid y = 1, A = g)` and
    :math:`\mathrm{FPR}_g = P(\hat y = 1 \mid y = 0, A = g)`. A thin wrapper
    over fairlearn (``method="between_groups"``, worst case); fairlearn
    counts the TPR of a group without positives (FPR: negatives) as 0.

    References
    ----------
    fairlearn ``equalized_odds_difference``; Luo et al., "FairCLIP",
    CVPR 2024.
    """
    y, p = _labels(y_true), _labels(y_pred, "y_pred")
    g = _as_1d(groups, "groups")
    _check_lengths({"y_true": y, "y_pred": p, "groups": g})
    # agg="worst_case" is fairlearn's default and is omitted because
    # fairlearn < 0.11 has no ``agg``; it is the value FairCLIP reports.
    return float(flm.equalized_odds_difference(
        y, p, sensitive_features=g, method="between_groups"))


#: Between-group keys of :func:`summarize`, each suffixed ``_<attribute>``.
BETWEEN_GROUP_KEYS = ("es_auc", "es_acc", "dpd", "deodds",
                      "auc_std_disparity", "auc_max_disparity")


def warn_undefined(attribute: str, y, g, names: Mapping[int, str],
                   n_left_out: int) -> None:
    """Warn about groups whose AUC is undefined (one class) and about an
    attribute with fewer than two groups with data."""
    present = [c for c in names if np.any(g == c)]
    for c in present:
        classes = np.unique(y[g == c]).tolist()
        if len(classes) < 2:
            warnings.warn(f"{attribute}={names[c]}: AUC is undefined when "
                          f"y_true has a single class (classes {classes}, "
                          f"n={int(np.sum(g == c))}); it is NaN.",
                          UserWarning, stacklevel=4)
    if len(present) < 2:
        warnings.warn(
            f"{attribute}: {len(present)} group(s) with data ({n_left_out} "
            "Unknown samples left out); between-group metrics (ES, DPD, "
            "DEOdds, disparity) need two and are NaN.", UserWarning,
            stacklevel=4)


def _attribute_summary(a: str, codes: np.ndarray, y: np.ndarray,
                       s: np.ndarray, p: np.ndarray,
                       include_unknown: bool) -> dict[str, float]:
    """One attribute's keys of :func:`summarize`, from the same weighted
    kernels as the bootstrap reports (one weight row of ones)."""
    keep = np.ones(codes.size, bool) if include_unknown else codes != UNKNOWN
    y, s, p, g = y[keep], s[keep], p[keep], codes[keep]
    listed = group_codes(a) + ([UNKNOWN] if include_unknown else [])
    names = {c: code_to_name(a, c) for c in listed}
    warn_undefined(a, y, g, names, codes.size - g.size)
    stats = replicate_stats(np.ones((1, y.size)), y, s, p, g, names)
    out = {f"{k}_{a}": float(stats["all", k][0]) for k in BETWEEN_GROUP_KEYS}
    for c, name in names.items():
        slug = group_slug(name)
        out[f"auc_{a}_{slug}"] = float(stats[name, "auc"][0])
        out[f"acc_{a}_{slug}"] = float(stats[name, "acc"][0])
        out[f"n_{a}_{slug}"] = int(np.sum(g == c))
    return out


def summarize(y_true, y_score, *, attributes: Mapping[str, np.ndarray],
              threshold: float = 0.5,
              include_unknown: bool = False) -> dict[str, float]:
    r"""Flat metrics of one split, the keys of a run's ``metrics.json``.

    ``y_pred = y_score >= threshold``. Keys: ``auc``, ``acc``, ``n`` over
    all samples, and for each attribute ``a`` given:

    - ``es_auc_<a>``, ``es_acc_<a>`` (:func:`equity_scaled`, alpha 1),
      ``dpd_<a>``, ``deodds_<a>``;
    - ``auc_std_disparity_<a>`` :math:`= \mathrm{std}_g(\mathrm{AUC}_g) /
      \mathrm{AUC}` (population std) and ``auc_max_disparity_<a>``
      :math:`= (\max_g \mathrm{AUC}_g - \min_g \mathrm{AUC}_g) /
      \mathrm{AUC}`, over groups with a defined AUC (NaN if fewer than
      two);
    - ``auc_<a>_<group>``, ``acc_<a>_<group>``, ``n_<a>_<group>`` for every
      schema group (slug of its name, e.g. ``auc_race_black``); a group
      absent from the data has n 0 and NaN metrics, so keys are stable.

    Samples with code -1 are left out of an attribute's group and
    between-group metrics, whose overall term (the AUC or Acc in ES and in
    the disparities) is then taken over that attribute's known samples.
    With ``include_unknown=True`` Unknown is a group of its own (slug
    ``unknown``). An attribute with fewer than two groups with data gets
    NaN between-group metrics and a warning.

    Parameters
    ----------
    y_true : (n,) array of {0, 1}
    y_score : (n,) array of float
        Predicted probability of class 1.
    attributes : mapping of attribute name -> (n,) array of int codes

    References
    ----------
    Luo et al., "FairCLIP", CVPR 2024 (metric set and disparity columns).
    """
    y, s = _labels(y_true), _scores(y_score)
    codes = {a: _codes(a, v) for a, v in attributes.items()}
    _check_lengths({"y_true": y, "y_score": s,
                    **{f"attributes[{a!r}]": c for a, c in codes.items()}})
    p = (s >= threshold).astype(np.int64)
    if np.unique(y).size < 2:
        warnings.warn(f"AUC is undefined when y_true has a single class "
                      f"(classes {np.unique(y).tolist()}, n={y.size}); "
                      "it is NaN.", UserWarning, stacklevel=2)
    overall = replicate_stats(np.ones((1, y.size)), y, s, p, y, {})
    out = {"auc": float(overall["all", "auc"][0]),
           "acc": float(overall["all", "acc"][0]), "n": int(y.size)}
    for a, c in codes.items():
        out.update(_attribute_summary(a, c, y, s, p, include_unknown))
    return out


def official_mask(attributes: Mapping[str, np.ndarray], *,
                  names: Sequence[str] = PAPER_ATTRIBUTES) -> np.ndarray:
    r"""(n,) bool array of the samples FairCLIP evaluates on: those with
    no Unknown (-1) in any of ``names``.

    .. math:: \mathrm{mask}_i = \bigwedge_{a \in \mathrm{names}}
              [A_{a,i} \ne -1]

    References
    ----------
    Luo et al., "FairCLIP", CVPR 2024 (shared/METHODS.md §0.1).
    """
    if not names:
        raise ValueError("official_mask needs at least one attribute name.")
    for a in names:
        check_attribute(a)
    missing = [a for a in names if a not in attributes]
    if missing:
        raise ValueError(f"official_mask needs attributes {missing}; got "
                         f"{sorted(attributes)}.")
    codes = {f"attributes[{a!r}]": _codes(a, attributes[a]) for a in names}
    _check_lengths(codes)
    return np.logical_and.reduce([c != UNKNOWN for c in codes.values()])
