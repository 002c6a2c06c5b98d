"""Group reports with stratified-bootstrap confidence intervals
(``group_report``, ``group_reports``), paired comparisons of two runs
(``compare``) and the tidy tables written as ``by_group.csv`` and
``metrics.json``. Vectorised kernels: ``fairnb._bootstrap``.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import _bootstrap as bs
from .._bootstrap import (  # noqa: F401 (re-exported)
    COMPARE_COLUMNS,
    REPORT_COLUMNS,
    GroupReport,
)
from ..attributes import (
    ATTRIBUTES,
    UNKNOWN,
    check_attribute,
    code_to_name,
    group_codes,
    group_slug,
)
from .scores import (
    _check_lengths,
    _codes,
    _labels,
    _scores,
    warn_undefined,
)


def group_report(y_true, y_score, *, groups, attribute: str,
                 threshold: float = 0.5, n_boot: int = 1000, seed: int = 0,
                 include_unknown: bool = False, level: float = 0.95,
                 ids=None) -> GroupReport:
    r"""Per-group and between-group metrics of one attribute, with
    percentile bootstrap confidence intervals.

    With :math:`\hat y_i = 1[p_i \ge t]`, for all samples and each group
    :math:`g`: AUC, accuracy, :math:`\mathrm{TPR}_g`,
    :math:`\mathrm{FPR}_g`, positive rate :math:`P(\hat y=1 \mid A=g)`
    and the expected calibration error over 10 equal-width bins
    :math:`B_k`

    .. math:: \mathrm{ECE} = \sum_k \frac{|B_k|}{n}\,
              \bigl|\bar p_{B_k} - \bar y_{B_k}\bigr| ;

    between groups: ES-AUC, ES-Acc, DPD, DEOdds, AUC std- and
    max-disparity, as in :func:`summarize` (whose ``_<attribute>`` keys
    they equal). The overall terms are over the attribute's known samples
    (all samples with ``include_unknown=True``, Unknown then a group).
    A group without positives has NaN TPR here but counts as TPR 0 in
    DEOdds, as in fairlearn (likewise FPR).

    Resamples keep the size of every (group, label) cell, draw with
    replacement within it, and are evaluated together as weight rows
    (Mann-Whitney AUC with midranks, weighted sums for rates). The
    interval is the ``(1 - level)/2`` and ``(1 + level)/2`` quantiles,
    except for the rates ``acc, tpr, fpr, positive_rate``: their
    percentile interval collapses to a point at 0 or 1 and under-covers
    near them in small groups, so they get Wilson's score interval on the
    group's (or label's) count (:func:`fairnb._bootstrap.wilson_ci`).

    Parameters
    ----------
    y_true : (n,) array of {0, 1}
    y_score : (n,) array of float
        Predicted probability of class 1.
    groups : (n,) array of int codes of ``attribute`` (-1 Unknown)
    attribute : str
        Schema attribute, e.g. ``"race"``.
    n_boot : int
        Resamples; 0 gives NaN intervals.
    seed : int
        Equal seeds on equal samples give equal resamples, which
        :func:`compare` relies on.
    ids : (n,) array, optional
        Sample ids, part of the fingerprint :func:`compare` checks.

    Returns
    -------
    GroupReport

    References
    ----------
    Luo et al., "FairCLIP", CVPR 2024; Efron & Tibshirani, "An
    Introduction to the Bootstrap", 1993 (percentile interval); Brown,
    Cai & DasGupta, "Interval Estimation for a Binomial Proportion",
    Statistical Science 2001 (Wilson interval).

    Examples
    --------
    >>> r = group_report([0, 1, 0, 1], [.2, .8, .6, .4], n_boot=50,
    ...                  groups=[0, 0, 1, 1], attribute="gender")
    >>> r.by_group["auc"].tolist(), r.between["dpd"]
    ([1.0, 0.0], 0.0)
    """
    y, s = _labels(y_true), _scores(y_score)
    codes = _codes(attribute, groups)
    _check_lengths({"y_true": y, "y_score": s, "groups": codes})
    if n_boot < 0 or not 0 < level < 1:
        raise ValueError(f"Need n_boot >= 0 and 0 < level < 1; got "
                         f"n_boot={n_boot}, level={level}.")
    keep = np.ones(y.size, bool) if include_unknown else codes != UNKNOWN
    listed = group_codes(attribute) + ([UNKNOWN] if include_unknown else [])
    names = {c: code_to_name(attribute, c) for c in listed}
    yk, sk, gk = y[keep], s[keep], codes[keep]
    warn_undefined(attribute, yk, gk, names, int(np.sum(~keep)))
    boot = bs.resample_counts(2 * gk + yk, n_boot,
                              np.random.default_rng(seed))
    W = np.vstack([np.ones((1, yk.size)), boot])
    stats = bs.replicate_stats(W, yk, sk, (sk >= threshold).astype(np.int64),
                               gk, names)
    return bs.make_report(attribute, stats, names, n_boot=n_boot, level=level,
                        seed=seed, threshold=threshold,
                        fingerprint=bs.fingerprint(y, codes, keep, ids))


def group_reports(data, *, attributes: Sequence[str] | None = None,
                  **kw) -> dict[str, GroupReport]:
    """:func:`group_report` of each attribute of a predictions table.

    Parameters
    ----------
    data : pandas.DataFrame or fairnb.evaluate.Predictions
        A frame with columns ``y_true``, ``y_score``, one int column per
        attribute and optionally ``ids``; or an object with ``.y_true``,
        ``.y_score``, ``.attributes`` (dict) and optionally ``.ids``.
    attributes : sequence of str, optional
        Default: every schema attribute the data has, in schema order.
    **kw
        Passed to :func:`group_report` (``n_boot``, ``seed``, ...).

    Used in: 03_fairclip, 04_fairness_dashboard.
    """
    if isinstance(data, pd.DataFrame):
        y, s = data["y_true"].to_numpy(), data["y_score"].to_numpy()
        have = {a: data[a].to_numpy() for a in ATTRIBUTES if a in data}
        ids = data["ids"].to_numpy() if "ids" in data else None
    else:
        y, s, have = data.y_true, data.y_score, dict(data.attributes)
        ids = getattr(data, "ids", None)
    names = [a for a in ATTRIBUTES if a in have] if attributes is None \
        else [check_attribute(a) for a in attributes]
    missing = [a for a in names if a not in have]
    if missing:
        raise ValueError(f"group_reports: no column for attributes "
                         f"{missing}; the data has {sorted(have)}.")
    return {a: group_report(y, s, groups=have[a], attribute=a, ids=ids, **kw)
            for a in names}


def compare(report_a: GroupReport, report_b: GroupReport) -> pd.DataFrame:
    r"""Paired-bootstrap differences ``b - a`` of every metric.

    .. math:: \Delta = m_b - m_a, \quad
              \mathrm{CI} = \mathrm{quantiles}_{(1\mp\mathrm{level})/2}
              \{m_b^{*r} - m_a^{*r}\}_{r=1}^{R}

    Both reports must come from the same samples with the same seed and
    ``n_boot``, so resample ``r`` draws the same samples for both runs.
    ``verdict``: "within noise" when the interval holds 0; else "better" or
    "worse" (higher is better for AUC, accuracy, ES-AUC, ES-Acc; lower for
    ECE, DPD, DEOdds and disparities), or "higher"/"lower" for TPR, FPR and
    positive rate; "undefined" for NaN.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COMPARE_COLUMNS`, rows in report order.

    Used in: 03_fairclip, 04_fairness_dashboard.
    """
    bs.check_paired(report_a, report_b)
    rows = []
    for g, m in report_a.keys():
        va, vb = report_a.value(g, m), report_b.value(g, m)
        delta = report_b.replicates[g, m] - report_a.replicates[g, m]
        lo, hi = bs.percentile_ci(delta, report_a.level)
        rows.append((report_a.attribute, g, m, va, vb, vb - va, lo, hi,
                     bs.verdict(m, lo, hi)))
    return pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))


def reports_frame(reports: Mapping[str, GroupReport]) -> pd.DataFrame:
    """One tidy table (``by_group.csv``) from several reports."""
    return pd.concat([r.to_frame() for r in reports.values()],
                     ignore_index=True)


def flat_metrics(table: pd.DataFrame, *, attribute: str,
                 overall: pd.DataFrame) -> dict:
    """Flat ``metrics.json`` keys from tidy report tables.

    ``auc``, ``acc``, ``tpr``, ... (un-suffixed) and ``n`` are over *every*
    evaluated sample, from ``overall`` (the tidy table of a report with
    ``include_unknown=True``), as in 03's ``metrics.json``; the same
    metrics over the samples with a known value of ``attribute`` are
    ``<metric>_known_<attribute>``. Then ``<metric>_<attribute>`` for
    between-group metrics and ``<metric>_<attribute>_<group>`` per group,
    each with ``_ci_low`` and ``_ci_high``, and ``n_<attribute>_<group>``.
    """
    from .._bootstrap import BETWEEN_METRICS

    out: dict = {}

    def put(key, row):
        out[key] = row.value
        out[f"{key}_ci_low"], out[f"{key}_ci_high"] = row.ci_low, row.ci_high

    for row in overall.itertuples():
        if row.group == "all" and row.metric not in BETWEEN_METRICS:
            put(row.metric, row)
            out["n"] = int(row.n)
    for row in table.itertuples():
        slug = group_slug(row.group)
        if row.group == "all" and row.metric in BETWEEN_METRICS:
            put(f"{row.metric}_{row.attribute}", row)
        elif row.group == "all":
            if row.attribute == attribute:
                put(f"{row.metric}_known_{attribute}", row)
        else:
            put(f"{row.metric}_{row.attribute}_{slug}", row)
            out[f"n_{row.attribute}_{slug}"] = int(row.n)
    return out


def report_table(pred, attribute: str, threshold: float = 0.5, *,
                 n_boot: int = 500, include_unknown: bool = False
                 ) -> pd.DataFrame:
    """Tidy report table of one attribute of a ``Predictions`` (the
    dashboard's redraw)."""
    return group_report(pred.y_true, pred.y_score,
                        groups=pred.attributes[attribute],
                        attribute=attribute, threshold=threshold,
                        n_boot=n_boot, include_unknown=include_unknown,
                        ids=pred.ids).to_frame()


def compare_predictions(pred_a, pred_b, attribute: str,
                        threshold: float = 0.5, *, n_boot: int = 500,
                        include_unknown: bool = False) -> pd.DataFrame:
    """:func:`compare` of two ``Predictions`` on the same samples."""
    reports = [group_report(p.y_true, p.y_score,
                            groups=p.attributes[attribute],
                            attribute=attribute, threshold=threshold,
                            n_boot=n_boot, include_unknown=include_unknown,
                            ids=p.ids)
               for p in (pred_a, pred_b)]
    return compare(*reports)
