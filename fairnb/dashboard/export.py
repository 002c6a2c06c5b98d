"""The dashboard as one offline HTML file, and its summary block.

Used in: 04_fairness_dashboard.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..runs import atomic_write_text


def _fmt(row) -> str:
    ci = ("" if np.isnan(row.ci_low) else
          f" [{row.ci_low:.3f}, {row.ci_high:.3f}]")
    return f"{row.value:.3f}{ci}"


#: verdicts of metrics with a preferred direction, and of those without
JUDGED, UNJUDGED = ("better", "worse", "within noise"), ("higher", "lower")


def headline_html(table: pd.DataFrame, attribute: str, *,
                  comparison: pd.DataFrame | None = None,
                  names: tuple[str, str] = ("a", "b")) -> str:
    """The dashboard's summary block: overall AUC, ES-AUC, DPD and
    DEOdds with intervals, the groups from worst to best AUC, and the
    comparison's verdicts for run ``names[1]`` against ``names[0]`` (HTML,
    escaped)."""
    part = table[table["attribute"] == attribute]
    rows = {(r.group, r.metric): r for r in part.itertuples()}
    items = [f"<li><b>{label}</b>: {_fmt(rows['all', key])}</li>"
             for key, label in (("auc", "AUC"), ("es_auc", "ES-AUC"),
                                ("dpd", "DPD"), ("deodds", "DEOdds"))
             if ("all", key) in rows]
    groups = sorted((r for (g, m), r in rows.items()
                     if m == "auc" and g != "all" and not np.isnan(r.value)),
                    key=lambda r: r.value)
    if groups:
        items.append("<li><b>AUC by group</b>, worst first: " + "; ".join(
            f"{html.escape(r.group)} {_fmt(r)} (n={r.n})"
            for r in groups) + "</li>")
    if comparison is not None and len(comparison):
        from .._bootstrap import HIGHER_IS_BETTER, LOWER_IS_BETTER
        directed = comparison["metric"].isin(HIGHER_IS_BETTER
                                             | LOWER_IS_BETTER)
        judged = comparison.loc[directed, "verdict"].value_counts()
        rates = comparison.loc[~directed, "verdict"].value_counts()
        a, b = (html.escape(str(n)) for n in names)
        text = (f"<li><b>comparison</b>: {b} against {a}, paired over the "
                "same samples: " + ", ".join(
                    f"{judged.get(v, 0)} {v}" for v in JUDGED)
                + " (metrics where higher or lower is better)")
        if len(rates):
            text += "; " + ", ".join(
                f"{rates.get(v, 0)} {v}" for v in (*UNJUDGED,
                                                    "within noise"))
            text += " (rates without a better direction)"
        items.append(text + ". Each verdict is at 95 %, so about 1 in 20 "
                     "differences reads better or worse by chance.</li>")
    return f"<ul>{''.join(items)}</ul>"


def _title(fig: go.Figure, key: str) -> str:
    text = fig.layout.title.text
    return text if text else key.replace("_", " ")


def export_html(figures: Mapping[str, go.Figure], path, *, title: str,
                summary_html: str = "") -> Path:
    """Write ``figures`` to ONE self-contained HTML file (plotly.js
    embedded once, works offline), atomically; a section with a heading
    per figure, each in a ``<div id="fig-<key>">``."""
    sections = []
    for i, (key, fig) in enumerate(figures.items()):
        heading = _title(fig, key)
        fig = go.Figure(fig).update_layout(title=None)  # the h2 is it
        div = fig.to_html(full_html=False, include_plotlyjs=i == 0,
                          div_id=f"fig-{key}", default_width="100%")
        sections.append(f'<section id="section-{key}">\n<h2>'
                        f"{html.escape(heading)}</h2>\n{div}\n"
                        "</section>")
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset="
        f"\"utf-8\">\n<title>{html.escape(title)}</title>\n<style>"
        "body{font-family:sans-serif;max-width:1200px;margin:auto;"
        "padding:1em}section{margin:2em 0}.summary{background:#f4f4f4;"
        "padding:.5em 1em}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n"
        f'<div class="summary">{summary_html}</div>\n'
        + "\n".join(sections) + "\n</body>\n</html>\n")
    return atomic_write_text(path, page)


