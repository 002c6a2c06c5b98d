"""The dashboard's figures of one run (pure: plotly figures, no display).

Used in: 04_fairness_dashboard.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .. import plots
from ..attributes import check_choice
from ..predictions import Predictions

METRICS = ("auc", "acc", "tpr", "fpr")
FIGURES = ("roc", "metrics", "threshold_sweep", "similarity", "reliability",
           "confusion", "comparison")


def quick_table(pred: Predictions, attribute: str, *,
                threshold: float = 0.5) -> pd.DataFrame:
    """Tidy per-group AUC, accuracy, TPR and FPR of one attribute, without
    CIs (columns ``attribute, group, metric, value, n, ci_low, ci_high``;
    groups with samples only): the dashboard's default when no
    ``table_fn`` (e.g. a bootstrap ``group_report``) is given. Computed by
    the same kernels as every other number (:func:`fairnb.metrics.
    group_report` with no resamples)."""
    from ..metrics import group_report

    table = group_report(pred.y_true, pred.y_score,
                         groups=pred.attributes[attribute],
                         attribute=attribute, threshold=threshold,
                         n_boot=0).to_frame()
    keep = (table["group"] != "all") & table["metric"].isin(METRICS) & (
        table["n"] > 0)
    return table[keep].reset_index(drop=True)


def quick_compare(a: Predictions, b: Predictions, attribute: str, *,
                  threshold: float = 0.5) -> pd.DataFrame:
    """Per-group metric differences ``b - a`` without CIs (verdict
    ``"no CI"``), in the layout of ``compare()``."""
    keys = ["attribute", "group", "metric"]
    ta = quick_table(a, attribute, threshold=threshold)
    tb = quick_table(b, attribute, threshold=threshold)
    t = ta[keys + ["value"]].merge(tb[keys + ["value"]], on=keys,
                                   suffixes=("_a", "_b"))
    t = t.rename(columns={"value_a": "a", "value_b": "b"})
    return t.assign(diff=t["b"] - t["a"], ci_low=np.nan, ci_high=np.nan,
                    verdict="no CI")


def build_figures(pred: Predictions, table: pd.DataFrame, *, attribute: str,
                  threshold: float = 0.5, metric: str = "auc",
                  compare_table: pd.DataFrame | None = None,
                  names: tuple[str, str] = ("a", "b")
                  ) -> dict[str, go.Figure]:
    """The static dashboard of one run, in display order: ``roc,
    metrics, threshold_sweep, similarity, reliability, confusion`` and
    ``comparison`` when ``compare_table`` is given.

    ``table`` is a tidy by-group table (``GroupReport.to_frame()`` or
    :func:`quick_table`); ``metric`` leads the bars and selects the rows of
    ``compare_table`` (a ``compare()`` table of run ``names[1]`` against
    ``names[0]``) shown, with ``attribute``.
    """
    check_choice("attribute", attribute, list(pred.attributes))
    y, s = pred.y_true, pred.y_score
    g = pred.attributes[attribute]
    order = (metric,) + tuple(m for m in METRICS if m != metric)
    figs = {
        "roc": plots.roc_figure(y, s, g, attribute),
        "metrics": plots.metric_bars_figure(table, attribute, order),
        "threshold_sweep": plots.threshold_sweep_figure(
            y, s, g, attribute, threshold=threshold),
        # a probe (05) has no matched-pair similarity: no such figure
        "similarity": (plots.similarity_figure(pred.similarity, g, attribute)
                       if np.isfinite(pred.similarity).any() else None),
        "reliability": plots.reliability_figure(y, s, g, attribute),
        "confusion": plots.confusion_figure(
            y, (np.asarray(s) >= threshold).astype(int), g, attribute),
    }
    figs = {k: v for k, v in figs.items() if v is not None}
    if compare_table is not None:
        part = compare_table[compare_table["attribute"] == attribute]
        if metric in set(part["metric"]):
            part = part[part["metric"] == metric]
        figs["comparison"] = plots.comparison_figure(part, names=names)
    return figs


