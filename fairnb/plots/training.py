"""Figures of a training run: loss and validation curves, per-group
metrics, matched-pair similarity distributions.

Used in: 03_fairclip, 04_fairness_dashboard.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..attributes import (
    code_to_name,
)
from ._style import (
    OKABE_ITO,
    UNKNOWN_COLOR,
    _layout,
    group_colors,
)


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


#: epoch columns a method logs (:meth:`fairnb.methods.Method.epoch_logs`)
#: that :func:`method_epochs_figure` draws, with their axis titles
METHOD_EPOCH_LOGS = {
    "flag_rate_": "share of the group's pairs flagged (DBPM)",
    "q_": "group weight q (GroupDRO)",
}


def method_epochs_figure(epochs: pd.DataFrame, attribute: str
                         ) -> go.Figure | None:
    """What a method logged per epoch, one line per group of
    ``attribute`` in its usual colour: DBPM's share of each group's pairs
    flagged, GroupDRO's group weights; None when the method logs none of
    these (CLIP, FairCLIP)."""
    from ..attributes import group_names, group_slug
    colors = group_colors(attribute)
    for prefix, title in METHOD_EPOCH_LOGS.items():
        names = [n for n in group_names(attribute, include_unknown=True)
                 if f"{prefix}{group_slug(n)}" in epochs.columns]
        if not names:
            continue
        fig = go.Figure()
        for name in names:
            fig.add_scatter(x=epochs["epoch"],
                            y=epochs[f"{prefix}{group_slug(name)}"],
                            mode="lines+markers", name=name,
                            line_color=colors[name])
        fig.update_xaxes(title_text="epoch", dtick=1)
        fig.update_yaxes(title_text=title, rangemode="tozero")
        return _layout(fig, title[0].upper() + title[1:] + " per epoch")
    return None


def modulation_figure(epochs: pd.DataFrame, attribute: str
                      ) -> go.Figure | None:
    """MultiFair's gradient modulation per epoch (07): each modality's
    coefficient :math:`B_m` and applied encoder factor (left), and the
    group factors :math:`r_{m,g}` from the EMA surrogate AUCs, one colour
    per group and one dash per modality (right); None when ``epochs``
    holds none of these columns."""
    from ..attributes import group_names, group_slug
    modalities = [c[2:] for c in epochs.columns if c.startswith("B_")]
    if not modalities:
        return None
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "modality coefficient B and encoder factor",
        f"group factor r per {attribute} group"))
    dashes = ("solid", "dash", "dot")
    for i, m in enumerate(modalities):
        fig.add_scatter(x=epochs["epoch"], y=epochs[f"B_{m}"],
                        mode="lines+markers", name=f"B {m}",
                        line=dict(color=OKABE_ITO[i % len(OKABE_ITO)]),
                        row=1, col=1)
        if f"factor_{m}" in epochs:
            fig.add_scatter(x=epochs["epoch"], y=epochs[f"factor_{m}"],
                            mode="lines+markers", name=f"factor {m}",
                            line=dict(color=OKABE_ITO[i % len(OKABE_ITO)],
                                      dash="dash"), row=1, col=1)
    colors = group_colors(attribute)
    for j, m in enumerate(modalities):
        for name in group_names(attribute):
            column = f"r_{m}_{group_slug(name)}"
            if column in epochs:
                fig.add_scatter(x=epochs["epoch"], y=epochs[column],
                                mode="lines+markers", name=f"{name} ({m})",
                                line=dict(color=colors[name],
                                          dash=dashes[j % len(dashes)]),
                                row=1, col=2)
    fig.add_hline(y=1, line_dash="dot", line_color="grey", row=1, col=2)
    fig.update_xaxes(title_text="epoch", dtick=1)
    fig.update_yaxes(title_text="mean over the epoch's steps", row=1, col=1)
    fig.update_yaxes(title_text="r (1: no change)", row=1, col=2)
    return _layout(fig, "Gradient modulation per epoch (MultiFair)")


def loss_terms_figure(steps: pd.DataFrame, terms, *, window: int = 10
                      ) -> go.Figure | None:
    """Each logged loss term per step (a running mean over ``window``
    steps, raw values faint), one panel per term: 08's curves per loss
    term. None when ``steps`` has none of ``terms``."""
    terms = [t for t in terms if t in steps.columns]
    if not terms:
        return None
    fig = make_subplots(rows=1, cols=len(terms), subplot_titles=terms)
    for i, term in enumerate(terms):
        color = OKABE_ITO[i % len(OKABE_ITO)]
        fig.add_scatter(x=steps["step"], y=steps[term], mode="lines",
                        opacity=0.3, line=dict(color=color),
                        showlegend=False, row=1, col=i + 1)
        fig.add_scatter(x=steps["step"], y=steps[term].rolling(
            window, min_periods=1).mean(), mode="lines", name=term,
            line=dict(color=color), row=1, col=i + 1)
        fig.update_xaxes(title_text="step", row=1, col=i + 1)
    return _layout(fig, "Loss terms per step (running mean)")


def anchor_figure(cosines: pd.DataFrame) -> go.Figure:
    """Heatmap of the cosines between target anchors (rows) and
    sensitive anchors (columns): near 0 everywhere is the orthogonality
    the method asks for."""
    fig = go.Figure(go.Heatmap(
        z=cosines.to_numpy(), x=list(cosines.columns),
        y=list(cosines.index), zmin=-1, zmax=1, colorscale="RdBu",
        text=np.round(cosines.to_numpy(), 3), texttemplate="%{text}",
        colorbar=dict(title="cos")))
    return _layout(fig, "Target vs sensitive text anchors (cosine)",
                   xaxis_title="sensitive anchor (group)",
                   yaxis_title="target anchor (class)")


def condition_figure(table: pd.DataFrame, attribute: str) -> go.Figure:
    """Group AUCs of ``attribute`` per acquisition condition (a
    :func:`fairnb.shifts.condition_table`), grouped bars, overall AUC as
    a marker: how fairness holds up under a shift."""
    from ..attributes import group_names
    colors = group_colors(attribute)
    fig = go.Figure()
    for name in group_names(attribute):
        column = f"AUC {name}"
        if column in table:
            fig.add_bar(x=table["condition"], y=table[column], name=name,
                        marker_color=colors.get(name, UNKNOWN_COLOR))
    fig.add_scatter(x=table["condition"], y=table["AUC"], mode="markers",
                    marker=dict(symbol="diamond", size=11, color="black"),
                    name="overall")
    return _layout(fig, f"AUC by {attribute} group per acquisition "
                   "condition (Test)", barmode="group",
                   xaxis_title="condition", yaxis_title="AUC (0-1)",
                   yaxis_range=[0, 1])
