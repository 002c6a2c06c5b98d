"""Pure plotly figure builders (no display side effects).

Every figure colours a group the same way everywhere (:func:`group_colors`,
the colour-blind-safe Okabe-Ito palette; Unknown is grey) and has axis
titles with units.

Used in: 01_explore_data (and the later notebooks).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .attributes import (
    LABEL_NAMES,
    UNKNOWN_NAME,
    code_to_name,
    group_codes,
    group_names,
)

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9",
             "#D55E00", "#F0E442", "#000000")
UNKNOWN_COLOR = "#999999"
TEMPLATE = "plotly_white"


def group_colors(attribute: str) -> dict[str, str]:
    """Group name -> colour, stable across all figures."""
    names = group_names(attribute)
    colors = {n: OKABE_ITO[i % len(OKABE_ITO)] for i, n in enumerate(names)}
    colors[UNKNOWN_NAME] = UNKNOWN_COLOR
    return colors


def _layout(fig: go.Figure, title: str, **kw) -> go.Figure:
    fig.update_layout(title=title, template=TEMPLATE, **kw)
    return fig


def group_counts_figure(counts: pd.DataFrame, attribute: str) -> go.Figure:
    """Bars of group sizes per split (``explore.group_counts`` output)."""
    part = counts[counts["attribute"] == attribute]
    colors = group_colors(attribute)
    fig = go.Figure()
    for group, g in part.groupby("group", sort=False):
        fig.add_bar(x=g["split"], y=g["n"], name=group,
                    marker_color=colors[group],
                    customdata=np.c_[100 * g["share"]],
                    hovertemplate="%{x}: %{y} (%{customdata[0]:.1f} %)")
    return _layout(fig, f"Group sizes by split: {attribute}",
                   barmode="group", xaxis_title="split",
                   yaxis_title="patients (count)", legend_title=attribute)


def prevalence_figure(prev: pd.DataFrame, attribute: str, *,
                      split: str) -> go.Figure:
    """Glaucoma prevalence per group with 95 % CIs (error bars)."""
    part = prev[(prev["attribute"] == attribute) & (prev["split"] == split)
                & (prev["n"] > 0)]
    colors = group_colors(attribute)
    fig = go.Figure(go.Bar(
        x=part["group"], y=100 * part["prevalence"],
        marker_color=[colors[g] for g in part["group"]],
        error_y=dict(type="data", symmetric=False,
                     array=100 * (part["ci_high"] - part["prevalence"]),
                     arrayminus=100 * (part["prevalence"] - part["ci_low"])),
        customdata=part["n"],
        hovertemplate="%{x}: %{y:.1f} % (n = %{customdata})"))
    return _layout(fig, f"Glaucoma prevalence by {attribute} ({split}),"
                   " 95 % Wilson CI", xaxis_title=attribute,
                   yaxis_title="prevalence (%)", yaxis_range=[0, 100])


def age_figure(meta: pd.DataFrame, attribute: str) -> go.Figure:
    """Age distribution per group (box plots)."""
    colors = group_colors(attribute)
    fig = go.Figure()
    for code, part in meta.groupby(attribute, sort=True):
        name = code_to_name(attribute, code)
        fig.add_box(y=part["age"], name=name, marker_color=colors[name],
                    boxmean="sd")
    return _layout(fig, f"Age by {attribute}", xaxis_title=attribute,
                   yaxis_title="age (years)", showlegend=False)


def note_length_figure(lengths: pd.DataFrame, *, context: int = 77
                       ) -> go.Figure:
    """Histograms of note length in words and in CLIP tokens."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "words per note", f"CLIP tokens per note (limit {context})"))
    fig.add_histogram(x=lengths["words"], nbinsx=40, name="words",
                      marker_color=OKABE_ITO[0], row=1, col=1)
    fig.add_histogram(x=lengths["tokens"], nbinsx=40, name="tokens",
                      marker_color=OKABE_ITO[1], row=1, col=2)
    fig.add_vline(x=context, line_dash="dash", row=1, col=2)
    fig.update_xaxes(title_text="words", row=1, col=1)
    fig.update_xaxes(title_text="tokens", row=1, col=2)
    fig.update_yaxes(title_text="notes (count)")
    share = float(lengths["over_context"].mean())
    return _layout(fig, f"Note lengths: {100 * share:.0f} % of notes exceed "
                   f"the {context}-token CLIP context", showlegend=False)


def image_grid_figure(images: Sequence[np.ndarray], titles: Sequence[str], *,
                      cols: int = 4, title: str = "") -> go.Figure:
    """A grid of grayscale images (uint8 2-D arrays) with titles."""
    rows = max(1, int(np.ceil(len(images) / cols)))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(titles),
                        horizontal_spacing=0.01, vertical_spacing=0.06)
    for i, img in enumerate(images):
        fig.add_trace(go.Image(source=_png_uri(img), hoverinfo="skip"),
                      row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_annotations(font_size=10)
    return _layout(fig, title, height=230 * rows,
                   margin=dict(l=10, r=10, t=60, b=10))


def _png_uri(img: np.ndarray, *, width: int = 256) -> str:
    """A grayscale array as a small PNG data URI (keeps HTML light)."""
    import base64
    import io

    from PIL import Image

    pil = Image.fromarray(np.asarray(img, dtype=np.uint8))
    pil.thumbnail((width, width))
    buf = io.BytesIO()
    pil.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(
        buf.getvalue()).decode()


def crosstab_figure(table: pd.DataFrame, a: str, b: str) -> go.Figure:
    """Heatmap of an attribute x attribute count table."""
    fig = go.Figure(go.Heatmap(
        z=table.to_numpy(), x=list(table.columns), y=list(table.index),
        colorscale="Blues", text=table.to_numpy(), texttemplate="%{text}",
        colorbar_title="patients"))
    return _layout(fig, f"{a} x {b} (counts)", xaxis_title=b,
                   yaxis_title=a)


def example_titles(frame: pd.DataFrame, attribute: str) -> list[str]:
    """Subplot titles ``<group> · <label>`` for an examples table."""
    return [f"{code_to_name(attribute, c)} · {LABEL_NAMES[int(y)]}"
            for c, y in zip(frame[attribute], frame["label"])]


def training_figure(history) -> go.Figure:
    """Training loss per step and validation AUC / ES-AUC per epoch."""
    steps, epochs = history.steps_frame(), history.epochs_frame()
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "training loss", "validation (zero-shot)"))
    if len(steps):
        fig.add_scatter(x=steps["step"], y=steps["loss"], mode="lines",
                        name="loss", line_color=OKABE_ITO[0], row=1, col=1)
        if "fair_term" in steps:
            fig.add_scatter(x=steps["step"], y=steps["fair_term"],
                            mode="lines", name="fairness term",
                            line_color=OKABE_ITO[1], row=1, col=1)
    if len(epochs):
        for col, name, color in (("val_auc", "AUC", OKABE_ITO[2]),
                                 ("val_es_auc", "ES-AUC", OKABE_ITO[3])):
            fig.add_scatter(x=epochs["epoch"], y=epochs[col],
                            mode="lines+markers", name=name,
                            line_color=color, row=1, col=2)
    if history.best_epoch:
        fig.add_vline(x=history.best_epoch, line_dash="dot", row=1, col=2)
    fig.update_xaxes(title_text="step", row=1, col=1)
    fig.update_xaxes(title_text="epoch", row=1, col=2)
    fig.update_yaxes(title_text="loss", row=1, col=1)
    fig.update_yaxes(title_text="score (0-1)", row=1, col=2)
    return _layout(fig, "Training curves (dotted: epoch selected on "
                   "Validation)")


def group_metric_figure(table: pd.DataFrame, attribute: str, *,
                        metric: str = "auc",
                        overall: float | None = None) -> go.Figure:
    """Bars of one metric per group (a tidy by-group table), with CIs
    where the table has them."""
    part = table[(table["attribute"] == attribute)
                 & (table["metric"] == metric)]
    colors = group_colors(attribute)
    ci = part[["ci_low", "ci_high"]].notna().all(axis=1).all()
    fig = go.Figure(go.Bar(
        x=part["group"], y=part["value"],
        marker_color=[colors.get(g, UNKNOWN_COLOR) for g in part["group"]],
        customdata=part["n"], hovertemplate="%{x}: %{y:.3f} (n = "
        "%{customdata})",
        error_y=dict(type="data", symmetric=False,
                     array=part["ci_high"] - part["value"],
                     arrayminus=part["value"] - part["ci_low"])
        if ci else None))
    if overall is not None:
        fig.add_hline(y=overall, line_dash="dash",
                      annotation_text=f"overall {overall:.3f}")
    return _layout(fig, f"{metric.upper()} by {attribute} (Test)",
                   xaxis_title=attribute, yaxis_title=f"{metric} (0-1)",
                   yaxis_range=[0, 1])


def similarity_figure(similarity: np.ndarray, codes: np.ndarray,
                      attribute: str) -> go.Figure:
    """Distributions of matched image-text similarities per group: the
    quantity FairCLIP aligns."""
    colors = group_colors(attribute)
    fig = go.Figure()
    for code in sorted(np.unique(codes)):
        name = code_to_name(attribute, code)
        fig.add_violin(y=similarity[codes == code], name=name,
                       line_color=colors[name], box_visible=True,
                       meanline_visible=True, points=False)
    fig.add_violin(y=similarity, name="all", line_color="#444444",
                   box_visible=True, meanline_visible=True, points=False)
    return _layout(fig, "Matched image-note similarity by "
                   f"{attribute} (Test)", xaxis_title=attribute,
                   yaxis_title="cosine similarity", showlegend=False)


# --- performance and fairness figures (04_fairness_dashboard) -------------



def sweep_thresholds(y_score, *, steps: int = 101) -> np.ndarray:
    """Thresholds at the 0, 1, ..., 100 % quantiles of the scores
    (``steps`` of them, duplicates dropped).

    Each step moves about 1 % of the samples across the threshold, so the
    sweep stays informative when a zero-shot CLIP crowds its softmax
    probabilities around 0.5, where a fixed 0.05 grid has two points.
    """
    s = _arrays(y_score)[0]
    return np.unique(np.quantile(s, np.linspace(0, 1, steps)))


DIAGONAL = dict(type="line", x0=0, y0=0, x1=1, y1=1,
                line=dict(dash="dash", color="#888888", width=1))


def _known_groups(groups, attribute: str) -> list[tuple[int, str]]:
    """(code, name) of the known groups present in ``groups``, in schema
    order; Unknown (-1) is left out."""
    present = set(np.unique(np.asarray(groups)).tolist())
    return [(c, code_to_name(attribute, c)) for c in group_codes(attribute)
            if c in present]


def _arrays(*arrays) -> list[np.ndarray]:
    out = [np.asarray(a).reshape(-1) for a in arrays]
    if len({len(a) for a in out}) != 1:
        raise ValueError("Arrays differ in length: "
                         + ", ".join(str(len(a)) for a in out))
    return out


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


def _rate(pred: np.ndarray, mask: np.ndarray) -> float:
    # fairlearn's convention: a group without the class scores 0
    return float(pred[mask].mean()) if mask.any() else 0.0


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
    y, s, g = _arrays(y_true, y_score, groups)
    if thresholds is None:
        thresholds = sweep_thresholds(s)
    known = _known_groups(g, attribute)
    rows = []
    for t in np.asarray(thresholds, dtype=float):
        p = (s >= t).astype(float)
        per = [(name, _rate(p, g == c), _rate(p, (g == c) & (y == 1)),
                _rate(p, (g == c) & (y == 0))) for c, name in known]
        rows += [dict(threshold=t, group=n, selection_rate=r, tpr=tp,
                      fpr=fp) for n, r, tp, fp in per]
        sel, tpr, fpr = (np.array([r[i] for r in per]) for i in (1, 2, 3))
        rows.append(dict(threshold=t, group="between groups",
                         dpd=np.ptp(sel),
                         deodds=max(np.ptp(tpr), np.ptp(fpr))))
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
    return _layout(fig, f"Threshold sweep: {attribute}")


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


def _diff_direction(diff_table: pd.DataFrame) -> str:
    """Which way ``diff`` was taken, read from the ``a`` and ``b``
    columns."""
    if not {"a", "b", "diff"} <= set(diff_table.columns) or diff_table.empty:
        return "difference"
    d, a, b = (diff_table[c].to_numpy(float) for c in ("diff", "a", "b"))
    if np.allclose(d, b - a, equal_nan=True):
        return "difference b − a"
    if np.allclose(d, a - b, equal_nan=True):
        return "difference a − b"
    return "difference"


def comparison_figure(diff_table: pd.DataFrame) -> go.Figure:
    """Forest plot of paired differences with CIs (a ``compare()`` table:
    ``attribute, group, metric, a, b, diff, ci_low, ci_high, verdict``),
    coloured by verdict; the dotted line is no difference."""
    t = diff_table.reset_index(drop=True)
    label = (t["attribute"].astype(str) + " · " + t["group"].astype(str)
             + " · " + t["metric"].astype(str).str.upper())
    verdict = (t["verdict"].astype(str) if "verdict" in t
               else pd.Series(["difference"] * len(t)))
    fig = go.Figure()
    for i, v in enumerate(sorted(set(verdict))):
        m = verdict == v
        part = t[m]
        fig.add_scatter(
            x=part["diff"], y=label[m], mode="markers", name=v,
            marker=dict(size=9, color=OKABE_ITO[i % len(OKABE_ITO)]),
            error_x=dict(type="data", symmetric=False,
                         array=(part["ci_high"] - part["diff"]).to_numpy(),
                         arrayminus=(part["diff"] - part["ci_low"])
                         .to_numpy()),
            hovertemplate="%{y}: %{x:.3f}")
    fig.add_vline(x=0, line_dash="dot")
    fig.update_yaxes(categoryorder="array",
                     categoryarray=list(label)[::-1])
    return _layout(fig, "Paired differences with 95 % CIs",
                   xaxis_title=f"{_diff_direction(t)} (metric units, 0-1)",
                   yaxis_title="attribute · group · metric",
                   legend_title="verdict", height=max(350, 28 * len(t)))
