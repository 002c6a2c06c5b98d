"""Post-hoc group thresholds: fairlearn's ``ThresholdOptimizer`` fitted on
a run's Validation scores and applied to its Test scores.

A post-processing baseline (Hardt, Price, Srebro, NeurIPS 2016): the model
is not retrained; each group gets its own decision threshold (randomised
between two where needed) so that the decisions meet a constraint on
Validation: ``demographic_parity`` (equal positive rates),
``equalized_odds`` (equal TPR and FPR) or ``equal_opportunity`` (equal
TPR; fairlearn's ``true_positive_rate_parity``), maximising accuracy.
Scores and so AUC and ES-AUC are unchanged: only the decisions, and the
decision metrics (DPD, DEOdds, accuracy, TPR, FPR per group), move. The
decisions are randomised; the report gives their expected values, exactly,
from fairlearn's probabilities of a positive decision, beside one seeded
draw. Thresholds are fitted on the known groups only (Unknown is not a
group whose rates the others should match); samples Unknown for the
attribute keep the single threshold and, as everywhere, stay out of the
group metrics. fairlearn has no public call for the probabilities of its
randomised decisions; ``ThresholdOptimizer._pmf_predict`` (fairlearn
0.10 to 0.15) is used, and its absence is reported.

Works on :class:`~fairnb.predictions.Predictions` (``predictions_val.npz``
and ``predictions.npz`` of a run), never on a trainer.

Used in: 04_fairness_dashboard, 06_compare_methods.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from .attributes import UNKNOWN, check_attribute, check_choice, code_to_name

#: our names -> fairlearn's constraints
CONSTRAINTS = {"demographic_parity": "demographic_parity",
               "equalized_odds": "equalized_odds",
               "equal_opportunity": "true_positive_rate_parity"}


class PostHocError(ValueError):
    """No group of the attribute can get a threshold of its own."""


class _Scores(BaseEstimator):
    """A "fitted" estimator whose scores are its one input column, so that
    ``ThresholdOptimizer(prefit=True)`` thresholds precomputed scores."""

    def __init__(self):
        self.fitted_ = True

    def fit(self, X, y=None):
        return self

    def predict(self, X):
        return np.asarray(X, dtype=float)[:, 0]


def decision_rates(y_true, p_positive, groups) -> pd.DataFrame:
    """Expected decision metrics of (possibly randomised) decisions with
    probability ``p_positive`` of a positive decision: one row per known
    group and ``all``, with ``n``, ``positive_rate``, ``tpr``, ``fpr``,
    ``acc``."""
    y = np.asarray(y_true).astype(int)
    p = np.asarray(p_positive, dtype=float)
    g = np.asarray(groups)
    rows = []
    for name, mask in [("all", np.ones(len(y), bool))] + [
            (c, g == c) for c in np.unique(g[g != UNKNOWN])]:
        yy, pp = y[mask], p[mask]
        rows.append({"group": name, "n": int(mask.sum()),
                     "positive_rate": pp.mean(),
                     "tpr": pp[yy == 1].mean() if (yy == 1).any() else np.nan,
                     "fpr": pp[yy == 0].mean() if (yy == 0).any() else np.nan,
                     "acc": np.mean(pp * yy + (1 - pp) * (1 - yy))})
    return pd.DataFrame(rows)


def _between(rates: pd.DataFrame) -> dict[str, float]:
    groups = rates[rates["group"] != "all"]
    return {"dpd": float(np.ptp(groups["positive_rate"])),
            "deodds": float(max(np.ptp(groups["tpr"]),
                                np.ptp(groups["fpr"])))}


@dataclass(frozen=True)
class PostHoc:
    """Post-hoc thresholds of one run: ``p_positive`` (Test, the
    probability of a positive decision), ``y_pred`` (one draw), ``report``
    (before and after: DPD, DEOdds, accuracy, and each group's positive
    rate, TPR, FPR) and ``unfitted`` (groups that kept the single
    threshold: one class, or no samples, on Validation)."""

    constraint: str
    attribute: str
    threshold: float
    p_positive: np.ndarray
    y_pred: np.ndarray
    report: pd.DataFrame
    unfitted: tuple[str, ...] = ()

    def summary(self) -> dict[str, float]:
        """``{metric_before, metric_after}`` for dpd, deodds and acc."""
        out = {}
        for row in self.report.itertuples():
            if row.group == "all":
                out[f"{row.metric}_before"] = row.before
                out[f"{row.metric}_after"] = row.after
        return out


def fit_thresholds(val, test, *, attribute: str,
                   constraint: str = "demographic_parity",
                   threshold: float = 0.5, seed: int = 0) -> PostHoc:
    """Fit group thresholds on ``val`` (Predictions) under ``constraint``
    and apply them to ``test``; ``threshold`` is the single threshold the
    "before" column uses. A group with one class (or no samples) on
    Validation cannot get a threshold of its own (fairlearn needs both
    classes), and Unknown samples, keep the single threshold; they are
    listed in ``unfitted``. Raises :class:`PostHocError` naming the fix
    when no group can be fitted."""
    from fairlearn.postprocessing import ThresholdOptimizer
    check_attribute(attribute)
    check_choice("constraint", constraint, tuple(CONSTRAINTS))
    gv, gt = val.attributes[attribute], test.attributes[attribute]
    fitted = [c for c in np.unique(gv[gv != UNKNOWN])
              if len(np.unique(val.y_true[gv == c])) == 2]
    unfitted = sorted(set(np.unique(gt)) - set(fitted))
    if not fitted:
        raise PostHocError(
            f"No {attribute} group has both classes on Validation, so no "
            "group threshold can be fitted; use a larger Validation split "
            "or another attribute.")
    opt = ThresholdOptimizer(estimator=_Scores(),
                             constraints=CONSTRAINTS[constraint],
                             objective="accuracy_score", prefit=True,
                             predict_method="predict")
    keep = np.isin(gv, fitted)
    opt.fit(val.y_score[keep, None], val.y_true[keep].astype(int),
            sensitive_features=gv[keep])
    single = (test.y_score >= threshold).astype(float)
    p, y_pred = single.copy(), single.astype(int)
    own = np.isin(gt, fitted)
    if own.any():
        x, s = test.y_score[own, None], gt[own]
        if not hasattr(opt, "_pmf_predict"):
            raise ImportError(
                "This fairlearn has no ThresholdOptimizer._pmf_predict, "
                "which fairnb reads the decision probabilities from; "
                "install fairlearn>=0.10,<0.16.")
        p[own] = opt._pmf_predict(x, sensitive_features=s)[:, 1]
        y_pred[own] = np.asarray(opt.predict(
            x, sensitive_features=s, random_state=seed)).astype(int)
    before = decision_rates(test.y_true, single, gt)
    after = decision_rates(test.y_true, p, gt)
    rows = []
    for name, value in _between(before).items():
        rows.append(("all", name, value, _between(after)[name]))
    rows.append(("all", "acc", float(before.loc[0, "acc"]),
                 float(after.loc[0, "acc"])))
    for (_, b), (_, a) in zip(before.iloc[1:].iterrows(),
                              after.iloc[1:].iterrows()):
        name = code_to_name(attribute, b["group"])
        for metric in ("positive_rate", "tpr", "fpr", "acc"):
            rows.append((name, metric, b[metric], a[metric]))
    report = pd.DataFrame(rows, columns=["group", "metric", "before",
                                         "after"])
    return PostHoc(constraint, attribute, threshold, p, y_pred, report,
                   tuple(code_to_name(attribute, c) for c in unfitted))


def parse_constraints(value) -> list[str]:
    """``"demographic_parity,equalized_odds"`` (or a list; empty: none)
    -> constraint names, checked.

    Examples
    --------
    >>> parse_constraints("equalized_odds, equal_opportunity")
    ['equalized_odds', 'equal_opportunity']
    """
    items = value if isinstance(value, (list, tuple)) else str(value).split(
        ",")
    out = [str(i).strip() for i in items if str(i).strip()]
    for c in out:
        check_choice("post-hoc constraint", c, tuple(CONSTRAINTS))
    return out


def run_thresholds(run, test, *, attribute: str, constraints,
                   threshold: float = 0.5, seed: int = 0):
    """Post-hoc thresholds for a run folder: fitted on its
    ``predictions_val.npz``, applied to ``test`` (its Test predictions),
    one :class:`PostHoc` per constraint; None when the run has no
    Validation predictions (a 05 probe run, or a 03 run from before they
    were written)."""
    from pathlib import Path

    from .predictions import Predictions
    path = Path(run) / "predictions_val.npz"
    if not path.is_file():
        return None
    val = Predictions.load(path)
    return {c: fit_thresholds(val, test, attribute=attribute, constraint=c,
                              threshold=threshold, seed=seed)
            for c in parse_constraints(constraints)}


def thresholds_frame(results: dict[str, PostHoc]) -> pd.DataFrame:
    """The reports of :func:`run_thresholds` as one table: constraint,
    group, metric, before, after, and ``own_threshold`` (False for a group
    that kept the single threshold, see :attr:`PostHoc.unfitted`)."""
    return pd.concat([r.report.assign(
        constraint=c, own_threshold=~r.report["group"].isin(r.unfitted))
        for c, r in results.items()], ignore_index=True)[
        ["constraint", "group", "metric", "before", "after",
         "own_threshold"]]


__all__ = ["CONSTRAINTS", "PostHoc", "PostHocError", "decision_rates",
           "fit_thresholds",
           "parse_constraints", "run_thresholds", "thresholds_frame"]
