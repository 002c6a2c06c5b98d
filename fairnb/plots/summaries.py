"""Figures of the summary quality report: lengths against the CLIP
limits, diagnosis retention by label.

Used in: 02_summarize_notes.
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..attributes import LABEL_NAMES
from ._style import OKABE_ITO, _layout


def summary_length_figure(lengths: pd.DataFrame, *, max_chars: int = 180,
                          max_tokens: int = 77) -> go.Figure:
    """Histograms of characters (left) and CLIP tokens (right) of notes,
    notes cut at ``max_chars`` and summaries, limits dashed
    (``QualityReport.lengths``)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "characters per text", "CLIP tokens per text"))
    for i, (source, part) in enumerate(lengths.groupby("source",
                                                       sort=False)):
        for col, unit in ((1, "chars"), (2, "tokens")):
            fig.add_histogram(x=part[unit], name=source, legendgroup=source,
                              showlegend=col == 1, opacity=0.6, nbinsx=60,
                              marker_color=OKABE_ITO[i % len(OKABE_ITO)],
                              row=1, col=col)
    fig.add_vline(x=max_chars, line_dash="dash", row=1, col=1)
    fig.add_vline(x=max_tokens, line_dash="dash", row=1, col=2)
    fig.update_xaxes(title_text="characters", row=1, col=1)
    fig.update_xaxes(title_text="CLIP tokens (start and end included)",
                     row=1, col=2)
    fig.update_yaxes(title_text="texts (count)")
    return _layout(fig, "Lengths: notes, cut notes and summaries",
                   barmode="overlay")


def retention_figure(retention: pd.DataFrame) -> go.Figure:
    """Stacked shares of summaries (and notes) that state the label, the
    other class or nothing, per label (``QualityReport.retention``)."""
    fig = go.Figure()
    parts = (("states_label", "states the label", OKABE_ITO[2]),
             ("states_other", "states the other class", OKABE_ITO[5]),
             ("states_nothing", "states nothing", "#999999"))
    x = [[LABEL_NAMES[int(r)] for r in retention["label"]] * 2,
         ["summary"] * len(retention) + ["note"] * len(retention)]
    for col, name, color in parts:
        y = list(retention[col]) + list(retention[f"{col}_note"])
        fig.add_bar(x=x, y=y,
                    name=name, marker_color=color,
                    hovertemplate="%{y:.1%}<extra>" + name + "</extra>")
    fig.update_yaxes(title_text="share of texts", tickformat=".0%",
                     range=[0, 1])
    fig.update_xaxes(title_text="label / text")
    return _layout(fig, "Does the text still state the diagnosis?",
                   barmode="stack")
