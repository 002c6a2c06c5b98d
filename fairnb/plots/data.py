"""Figures of the data: group sizes, prevalence, ages, note lengths,
example images, cross-tabulations.

Used in: 01_explore_data.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..attributes import (
    LABEL_NAMES,
    code_to_name,
)
from ._style import (
    OKABE_ITO,
    _layout,
    group_colors,
)


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
