"""Figures of a multi-seed method comparison (06_compare_methods)."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ._style import OKABE_ITO, _layout

#: marker and label of each kind of interval
SOURCES = {"seeds": ("circle", "over seeds (t)"),
           "samples": ("square", "over Test samples (paired bootstrap)"),
           "both": ("diamond", "over seeds and samples (two-level)")}


def differences_figure(diffs: pd.DataFrame, attribute: str) -> go.Figure:
    """Forest plot of :func:`fairnb.comparison.differences` for one
    attribute: each (method, metric) row with its three intervals; the
    dotted line is no difference."""
    t = diffs[diffs["attribute"] == attribute].reset_index(drop=True)
    label = t["method"].astype(str) + " · " + t["metric"].astype(str)
    if "condition" in t and (t["condition"] != "").any():
        label = t["condition"].astype(str) + " · " + label
    fig = go.Figure()
    for i, (source, (symbol, name)) in enumerate(SOURCES.items()):
        low, high = t[f"{source}_low"], t[f"{source}_high"]
        mid = t["diff"]
        fig.add_scatter(
            x=mid, y=label, mode="markers", name=name,
            marker=dict(symbol=symbol, size=9,
                        color=OKABE_ITO[i % len(OKABE_ITO)]),
            error_x=dict(type="data", symmetric=False,
                         array=(high - mid).to_numpy(),
                         arrayminus=(mid - low).to_numpy()),
            offsetgroup=source, customdata=t["verdict"],
            hovertemplate="%{y}: %{x:.3f} (%{customdata})")
    fig.add_vline(x=0, line_dash="dot")
    fig.update_xaxes(title_text="difference from the baseline "
                                "(metric units)")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, f"Differences against the baseline: {attribute}",
                   height=max(360, 30 * len(t) + 160),
                   legend=dict(orientation="h", yref="container", y=0.01,
                               yanchor="bottom"), margin_b=110)


def mechanism_figure(mech: pd.DataFrame, attribute: str) -> go.Figure:
    """The FairCLIP mechanism check: per seed, the change in the summed
    group similarity W1 (x) against the change in ES-AUC (y), each
    against the baseline on the same seed
    (:func:`fairnb.comparison.mechanism`)."""
    t = mech[mech["attribute"] == attribute]
    fig = go.Figure()
    where = (t["condition"].astype(str) + ", " if "condition" in t
             else "")
    t = t.assign(label=where + "seed " + t["seed"].astype(str))
    for i, (method, part) in enumerate(t.groupby("method", sort=False)):
        fig.add_scatter(x=part["w1_change"], y=part["es_auc_change"],
                        mode="markers", name=str(method),
                        text=part["label"].str.lstrip(", "),
                        marker=dict(size=11,
                                    color=OKABE_ITO[i % len(OKABE_ITO)]),
                        hovertemplate="%{text}: W1 %{x:+.4f}, ES-AUC "
                                      "%{y:+.3f}")
    fig.add_vline(x=0, line_dash="dot")
    fig.add_hline(y=0, line_dash="dot")
    fig.update_xaxes(title_text=f"change in summed {attribute} similarity "
                                "W1 (lower: closer groups)")
    fig.update_yaxes(title_text="change in ES-AUC (higher: fairer)")
    return _layout(fig, f"Mechanism check: {attribute}")


def ranks_figure(ranks) -> go.Figure:
    """Mean ranks (1 = best) with the Nemenyi critical difference as a
    bar: methods closer than it are not told apart
    (:func:`fairnb.comparison.ranks`)."""
    items = sorted(ranks.mean_ranks.items(), key=lambda kv: kv[1])
    fig = go.Figure()
    fig.add_scatter(x=[r for _, r in items], y=[m for m, _ in items],
                    mode="markers+text", text=[f"{r:.2f}" for _, r in items],
                    textposition="middle right", marker=dict(
                        size=12, color=OKABE_ITO[0]), name="mean rank")
    best = items[0][1]
    fig.add_shape(type="line", x0=best, x1=best + ranks.cd, y0=-0.6,
                  y1=-0.6, line=dict(width=4, color="#D55E00"))
    fig.add_annotation(x=best + ranks.cd / 2, y=-0.6, yshift=12,
                       text=f"CD = {ranks.cd:.2f}", showarrow=False)
    fig.update_xaxes(title_text=f"mean rank of {ranks.metric} over "
                                f"{ranks.n_blocks} (seed, attribute) blocks")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, f"Friedman p = {ranks.p_value:.3g}; ranks of "
                        f"{ranks.metric}", showlegend=False,
                   height=max(300, 60 * len(items) + 160))


def gap_figure(frame: pd.DataFrame, gaps: pd.DataFrame,
               attribute: str) -> go.Figure:
    """The planted gap against what each method leaves of it: per
    condition (x, e.g. ``bias=0`` to ``bias=2``), the AUC gap of each
    method's runs (mean over seeds, bars: one standard deviation; dots:
    single seeds), with the verdict of
    :func:`fairnb.comparison.gap_response` in the hover."""
    from ..comparison import gap_metrics
    key = gap_metrics(attribute)[0][1]
    t = frame[frame["attribute"] == attribute]
    order = list(dict.fromkeys(t["condition"]))
    verdicts = {(r.condition, r.method): f"{r.verdict}, "
                f"{r.diff:+.3f} [{r.both_low:+.3f}, {r.both_high:+.3f}]"
                for r in gaps[gaps["attribute"] == attribute].itertuples()}
    fig = go.Figure()
    for i, (method, part) in enumerate(t.groupby("method", sort=False)):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        stats = part.groupby("condition", sort=False)[key].agg(
            ["mean", "std"]).reindex(order)
        fig.add_scatter(
            x=order, y=stats["mean"], mode="lines+markers", name=str(method),
            marker=dict(size=10, color=colour), line=dict(color=colour),
            error_y=dict(type="data", array=stats["std"].fillna(0)),
            customdata=[verdicts.get((c, method), "baseline")
                        for c in order],
            hovertemplate="%{x}: %{y:.3f} (%{customdata})")
        fig.add_scatter(x=part["condition"], y=part[key], mode="markers",
                        marker=dict(size=5, color=colour, opacity=0.45),
                        showlegend=False, hoverinfo="skip")
    fig.update_xaxes(title_text="planted disparity of the data",
                     categoryorder="array", categoryarray=order)
    fig.update_yaxes(title_text=f"AUC gap of {attribute}: (max - min group "
                                "AUC) / AUC, lower is fairer")
    return _layout(fig, f"Planted gap and what each method leaves: "
                        f"{attribute}")
