"""Performance and fairness figures: ROC curves, metric bars with
intervals, threshold sweeps, reliability curves, confusion matrices, the
AUC vs ES-AUC Pareto view and paired comparisons.

Used in: 04_fairness_dashboard.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..attributes import (
    LABEL_NAMES,
    group_names,
)
from ._style import (
    DIAGONAL,
    OKABE_ITO,
    UNKNOWN_COLOR,
    _arrays,
    _known_groups,
    _layout,
    group_colors,
)


def sweep_thresholds(y_score, *, steps: int = 101) -> np.ndarray:
    """Thresholds at the 0, 1, ..., 100 % quantiles of the scores
    (``steps`` of them, duplicates dropped).

    Each step moves about 1 % of the samples across the threshold, so the
    sweep stays informative when a zero-shot CLIP crowds its softmax
    probabilities around 0.5, where a fixed 0.05 grid has two points.
    """
    s = _arrays(y_score)[0]
    return np.unique(np.quantile(s, np.linspace(0, 1, steps)))


def roc_figure(y_true, y_score, groups, attribute: str) -> go.Figure:
    """ROC curve of each group, its AUC in the legend.

    Groups are the known codes of ``attribute`` present in ``groups``
    (schema order); a group holding one class only has no ROC and is left
    out. Unknown (-1) is left out.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    y, s, g = _arrays(y_true, y_score, groups)
    colors = group_colors(attribute)
    fig = go.Figure()
    for code, name in _known_groups(g, attribute):
        yy, ss = y[g == code], s[g == code]
        if len(np.unique(yy)) < 2:
            continue
        fpr, tpr, _ = roc_curve(yy, ss)
        auc = roc_auc_score(yy, ss)
        fig.add_scatter(x=fpr, y=tpr, mode="lines",
                        name=f"{name} (AUC {auc:.3f}, n = {len(yy)})",
                        line_color=colors[name],
                        hovertemplate="FPR %{x:.2f}, TPR %{y:.2f}")
    fig.add_shape(**DIAGONAL)
    return _layout(fig, f"ROC by {attribute} (dashed: chance)",
                   xaxis_title="false-positive rate (0-1)",
                   yaxis_title="true-positive rate (0-1)",
                   legend_title=attribute, xaxis_range=[0, 1],
                   yaxis_range=[0, 1.02])


def _table_groups(part: pd.DataFrame, attribute: str) -> list[str]:
    """Group names of a tidy table in schema order (Unknown last)."""
    present = set(part["group"])
    order = group_names(attribute, include_unknown=True)
    return [n for n in order if n in present]


def metric_bars_figure(table: pd.DataFrame, attribute: str,
                       metrics: Sequence[str] = ("auc", "acc", "tpr",
                                                 "fpr")) -> go.Figure:
    """Grouped bars: one bar per metric and group, with CI error bars.

    ``table`` is tidy (columns ``attribute, group, metric, value, n,
    ci_low, ci_high``, as ``GroupReport.to_frame()``); a NaN CI draws no
    error bar; metrics missing from the table are left out.
    """
    part = table[(table["attribute"] == attribute)
                 & table["metric"].isin(metrics)]
    shown = [m for m in metrics if m in set(part["metric"])]
    colors = group_colors(attribute)
    fig = go.Figure()
    for name in _table_groups(part, attribute):
        rows = (part[part["group"] == name].set_index("metric")
                .reindex(shown))
        fig.add_bar(
            x=[m.upper() for m in shown], y=rows["value"], name=name,
            marker_color=colors.get(name, UNKNOWN_COLOR),
            customdata=rows["n"],
            hovertemplate=f"{name} %{{x}}: %{{y:.3f}} "
            "(n = %{customdata})",
            error_y=dict(type="data", symmetric=False,
                         array=(rows["ci_high"] - rows["value"]).to_numpy(),
                         arrayminus=(rows["value"] - rows["ci_low"])
                         .to_numpy()))
    return _layout(fig, f"Metrics by {attribute} (bars: 95 % CI where "
                   "computed)", barmode="group", xaxis_title="metric",
                   yaxis_title="value (0-1)", yaxis_range=[0, 1.05],
                   legend_title=attribute)


def threshold_sweep(y_true, y_score, groups, attribute: str,
                    thresholds=None) -> pd.DataFrame:
    r"""Per-threshold selection rate, TPR and FPR of each known group, and
    the gaps between groups (``y_pred = y_score >= t``).

    .. math:: \mathrm{DPD}(t) = \max_g P(\hat y=1 \mid g)
              - \min_g P(\hat y=1 \mid g), \quad
              \mathrm{DEOdds}(t) = \max(\Delta\mathrm{TPR},
              \Delta\mathrm{FPR})

    Unknown (-1) is left out; a group without positives (negatives) has
    TPR (FPR) 0, as in fairlearn. Returns a long frame with columns
    ``threshold, group, selection_rate, tpr, fpr`` where ``group`` is a
    group name or ``"between groups"`` (there: ``dpd, deodds``).
    ``thresholds`` default: :func:`sweep_thresholds`.
    """
    from .._bootstrap import replicate_stats

    y, s, g = _arrays(y_true, y_score, groups)
    if thresholds is None:
        thresholds = sweep_thresholds(s)
    known = _known_groups(g, attribute)
    names = {c: name for c, name in known}
    keep = g >= 0
    y, s, g = y[keep].astype(np.int64), s[keep], g[keep]
    ones, rows = np.ones((1, y.size)), []
    for t in np.asarray(thresholds, dtype=float):
        st = replicate_stats(ones, y, s, (s >= t).astype(np.int64), g,
                             names)  # the metrics kernels, no resampling

        # fairlearn's convention: a group without the class scores 0
        rows += [dict(threshold=t, group=name, **{
            col: float(np.nan_to_num(st[name, key][0]))
            for col, key in (("selection_rate", "positive_rate"),
                             ("tpr", "tpr"), ("fpr", "fpr"))})
                 for name in names.values()]
        rows.append(dict(threshold=t, group="between groups",
                         dpd=float(st["all", "dpd"][0]),
                         deodds=float(st["all", "deodds"][0])))
    return pd.DataFrame(rows)


def threshold_sweep_figure(y_true, y_score, groups, attribute: str,
                           thresholds=None, *,
                           threshold: float | None = None) -> go.Figure:
    """DPD and DEOdds (left) and each group's TPR (solid) and FPR
    (dashed, right) as the decision threshold sweeps
    (:func:`threshold_sweep`); a dotted line marks ``threshold``."""
    sweep = threshold_sweep(y_true, y_score, groups, attribute, thresholds)
    gap = sweep[sweep["group"] == "between groups"]
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "gaps between groups", "TPR (solid) and FPR (dashed) per group"))
    for col, name, dash in (("dpd", "DPD", "solid"),
                            ("deodds", "DEOdds", "dash")):
        fig.add_scatter(x=gap["threshold"], y=gap[col], name=name,
                        mode="lines", line=dict(
                            color="#000000", dash=dash), row=1, col=1)
    colors = group_colors(attribute)
    for name in [n for n in group_names(attribute)
                 if n in set(sweep["group"])]:
        part = sweep[sweep["group"] == name]
        for col, dash in (("tpr", "solid"), ("fpr", "dash")):
            fig.add_scatter(x=part["threshold"], y=part[col],
                            name=f"{name} {col.upper()}", legendgroup=name,
                            mode="lines", line=dict(color=colors[name],
                                                    dash=dash),
                            row=1, col=2)
    if threshold is not None:
        for col in (1, 2):
            fig.add_vline(x=threshold, line_dash="dot", row=1, col=col)
    xs = gap["threshold"].tolist() + ([threshold] if threshold else [])
    fig.update_xaxes(title_text="decision threshold on p(glaucoma)",
                     range=[min(xs), max(xs)] if xs else [0, 1])
    fig.update_yaxes(title_text="difference (0-1)", row=1, col=1)
    fig.update_yaxes(title_text="rate (0-1)", row=1, col=2)
    fig = _layout(fig, f"Threshold sweep: {attribute}")
    # many traces: a legend at the figure's bottom edge (container
    # coordinates, so at any height it sits below the axis titles and is
    # never cut at the right edge)
    return fig.update_layout(
        legend=dict(orientation="h", yref="container", y=0.01,
                    yanchor="bottom"), margin_b=150, height=480)


def reliability_figure(y_true, y_score, groups, attribute: str,
                       bins: int = 10) -> go.Figure:
    """Reliability curves: observed glaucoma rate against the mean
    predicted probability in ``bins`` equal-width bins, per group (empty
    bins are skipped; Unknown is left out)."""
    y, s, g = _arrays(y_true, y_score, groups)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(s, edges[1:-1]), 0, bins - 1)
    colors = group_colors(attribute)
    fig = go.Figure()
    for code, name in _known_groups(g, attribute):
        m = g == code
        n = np.bincount(idx[m], minlength=bins)
        keep = n > 0
        mean_p = np.bincount(idx[m], s[m], bins)[keep] / n[keep]
        rate = np.bincount(idx[m], y[m].astype(float), bins)[keep] / n[keep]
        fig.add_scatter(x=mean_p, y=rate, name=name, mode="lines+markers",
                        line_color=colors[name], customdata=n[keep],
                        hovertemplate="p %{x:.2f}: observed %{y:.2f} "
                        "(n = %{customdata})")
    fig.add_shape(**DIAGONAL)
    return _layout(fig, f"Reliability by {attribute} ({bins} bins; "
                   "dashed: perfect calibration)",
                   xaxis_title="mean predicted p(glaucoma) (0-1)",
                   yaxis_title="observed glaucoma rate (0-1)",
                   xaxis_range=[0, 1], yaxis_range=[0, 1],
                   legend_title=attribute)


def confusion_figure(y_true, y_pred, groups, attribute: str) -> go.Figure:
    """One confusion matrix per known group: counts and row percentages
    (colour = row %, so groups of different sizes compare)."""
    y, p, g = _arrays(y_true, y_pred, groups)
    known = _known_groups(g, attribute)
    labels = [LABEL_NAMES[k] for k in (0, 1)]
    fig = make_subplots(rows=1, cols=max(1, len(known)),
                        subplot_titles=[f"{n} (n = {(g == c).sum()})"
                                        for c, n in known],
                        horizontal_spacing=0.06)
    for i, (code, name) in enumerate(known):
        m = g == code
        counts = np.array([[np.sum((y[m] == t) & (p[m] == q))
                            for q in (0, 1)] for t in (0, 1)])
        rows = counts.sum(1, keepdims=True)
        pct = np.divide(100 * counts, rows, out=np.zeros(counts.shape),
                        where=rows > 0)
        text = [[f"{counts[t, q]}<br>{pct[t, q]:.0f} %" for q in (0, 1)]
                for t in (0, 1)]
        fig.add_heatmap(z=pct, x=labels, y=labels, text=text, name=name,
                        texttemplate="%{text}", colorscale="Blues",
                        zmin=0, zmax=100, showscale=i == 0,
                        colorbar_title="row %", row=1, col=i + 1,
                        hovertemplate="true %{y}, predicted %{x}: "
                        "%{text}<extra>" + name + "</extra>")
        fig.update_xaxes(title_text="predicted", row=1, col=i + 1)
        fig.update_yaxes(autorange="reversed", showticklabels=i == 0,
                         row=1, col=i + 1)
    fig.update_yaxes(title_text="true", row=1, col=1)
    return _layout(fig, f"Confusion matrices by {attribute} "
                   "(counts, row %)", height=380)


def pareto_front(x, y) -> np.ndarray:
    """Boolean mask of the points no other point beats in both ``x`` and
    ``y`` (higher is better for both)."""
    x, y = _arrays(x, y)
    ok = ~(np.isnan(x) | np.isnan(y))
    front = np.zeros(len(x), dtype=bool)
    for i in np.flatnonzero(ok):
        better = ok & (x >= x[i]) & (y >= y[i]) & ((x > x[i]) | (y > y[i]))
        front[i] = not better.any()
    return front


def pareto_figure(runs: pd.DataFrame, attribute: str) -> go.Figure:
    """Overall AUC against ES-AUC of ``attribute`` across runs (columns
    ``run, auc, es_auc_<attribute>``, optional ``method``), the Pareto
    front joined and ringed."""
    col = f"es_auc_{attribute}"
    missing = {"run", "auc", col} - set(runs.columns)
    if missing:
        raise ValueError(f"pareto_figure needs columns {sorted(missing)}")
    runs = runs.reset_index(drop=True)
    method = (runs["method"].astype(str) if "method" in runs
              else pd.Series(["run"] * len(runs)))
    front = pareto_front(runs["auc"], runs[col])
    fig = go.Figure()
    for i, m in enumerate(dict.fromkeys(method)):
        part = runs[method == m]
        fig.add_scatter(x=part["auc"], y=part[col], mode="markers", name=m,
                        text=part["run"], marker=dict(
                            size=11, color=OKABE_ITO[i % len(OKABE_ITO)],
                            line=dict(width=np.where(front[part.index], 3,
                                                     0), color="#000000")),
                        hovertemplate="%{text}: AUC %{x:.3f}, ES-AUC "
                        "%{y:.3f}")
    best = runs[front].sort_values("auc")
    fig.add_scatter(x=best["auc"], y=best[col], mode="lines",
                    name="Pareto front", line=dict(color="#000000",
                                                   dash="dot"))
    return _layout(fig, f"AUC vs ES-AUC ({attribute}) across runs "
                   "(ringed: Pareto front)", xaxis_title="overall AUC (0-1)",
                   yaxis_title=f"ES-AUC, {attribute} (0-1)",
                   legend_title="method")


def _diff_direction(diff_table: pd.DataFrame,
                    names: tuple[str, str] = ("a", "b")) -> str:
    """Which way ``diff`` was taken, read from the ``a`` and ``b``
    columns, with the runs' ``names``."""
    if not {"a", "b", "diff"} <= set(diff_table.columns) or diff_table.empty:
        return "difference"
    d, a, b = (diff_table[c].to_numpy(float) for c in ("diff", "a", "b"))
    first, second = names
    if np.allclose(d, b - a, equal_nan=True):
        return f"difference {second} − {first}"
    if np.allclose(d, a - b, equal_nan=True):
        return f"difference {first} − {second}"
    return "difference"


#: the colour of each verdict, the same in every comparison figure
VERDICT_COLORS = {"better": OKABE_ITO[2], "worse": OKABE_ITO[5],
                  "within noise": UNKNOWN_COLOR, "higher": OKABE_ITO[0],
                  "lower": OKABE_ITO[1], "undefined": OKABE_ITO[7]}


def comparison_figure(diff_table: pd.DataFrame, *,
                      names: tuple[str, str] = ("a", "b")) -> go.Figure:
    """Forest plot of paired differences with CIs (a ``compare()`` table:
    ``attribute, group, metric, a, b, diff, ci_low, ci_high, verdict``;
    ``names`` of runs a and b label the axis), coloured by verdict; the
    dotted line is no difference."""
    t = diff_table.reset_index(drop=True)
    label = (t["attribute"].astype(str) + " · " + t["group"].astype(str)
             + " · " + t["metric"].astype(str).str.upper())
    verdict = (t["verdict"].astype(str) if "verdict" in t
               else pd.Series(["difference"] * len(t)))
    fig = go.Figure()
    for v in sorted(set(verdict)):
        m = verdict == v
        part = t[m]
        # one colour per verdict in every figure, whichever are present
        color = VERDICT_COLORS.get(v, OKABE_ITO[6])
        fig.add_scatter(
            x=part["diff"], y=label[m], mode="markers", name=v,
            showlegend=True, marker=dict(size=9, color=color),
            error_x=dict(type="data", symmetric=False,
                         array=(part["ci_high"] - part["diff"]).to_numpy(),
                         arrayminus=(part["diff"] - part["ci_low"])
                         .to_numpy()),
            hovertemplate="%{y}: %{x:.3f}")
    fig.add_vline(x=0, line_dash="dot")
    fig.update_yaxes(categoryorder="array",
                     categoryarray=list(label)[::-1])
    return _layout(fig, "Paired differences with 95 % CIs",
                   xaxis_title=f"{_diff_direction(t, names)} (metric "
                   "units, 0-1)",
                   yaxis_title="attribute · group · metric",
                   legend_title="verdict", height=max(350, 28 * len(t)))


def posthoc_figure(frame: pd.DataFrame) -> go.Figure:
    """Post-hoc thresholds (:func:`fairnb.posthoc.thresholds_frame`): DPD,
    DEOdds and accuracy on Test with the single threshold (before) and
    with each constraint's group thresholds (after, expected values of the
    randomised decisions)."""
    t = frame[frame["group"] == "all"]
    labels = {"dpd": "DPD", "deodds": "DEOdds", "acc": "accuracy"}
    fig = go.Figure()
    first = t.drop_duplicates("metric")
    fig.add_bar(x=[labels[m] for m in first["metric"]], y=first["before"],
                name="one threshold", marker_color="#888888")
    for i, (constraint, part) in enumerate(t.groupby("constraint",
                                                     sort=False)):
        fig.add_bar(x=[labels[m] for m in part["metric"]], y=part["after"],
                    name=constraint.replace("_", " "),
                    marker_color=OKABE_ITO[i % len(OKABE_ITO)])
    fig.update_yaxes(title_text="value on Test (DPD, DEOdds: lower is "
                                "fairer)", rangemode="tozero")
    return _layout(fig, "Post-hoc group thresholds, fitted on Validation",
                   barmode="group")
