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

from .attributes import LABEL_NAMES, UNKNOWN_NAME, code_to_name, group_names

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
