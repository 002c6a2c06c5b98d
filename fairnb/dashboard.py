"""The fairness dashboard: the figures of one run, one offline HTML file,
and ipywidgets controls for live exploration.

Headless rule: papermill runs have no frontend, widget callbacks never
fire there (papermill#400), and figures displayed into an ipywidgets
``Output`` leave nbclient waiting for the cell forever (#723; reproduced
here). So :class:`Dashboard` draws live figures as plotly ``FigureWidget``
objects updated in place (no ``Output`` widget at all), and with
``interactive="auto"`` it shows controls only when a notebook frontend is
attached (:func:`has_frontend`); headless it displays the static figures.
All drawing goes through :meth:`Dashboard.redraw`, a plain method, so the
callback logic runs and is tested without a frontend.

Used in: 04_fairness_dashboard.
"""
from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import plots
from .attributes import ATTRIBUTES, check_choice, code_to_name, group_codes
from .predictions import Predictions
from .runs import atomic_write_text

METRICS = ("auc", "acc", "tpr", "fpr")
FIGURES = ("roc", "metrics", "threshold_sweep", "similarity", "reliability",
           "confusion", "comparison")
NO_COMPARISON = "(none)"
#: Values of the ``interactive`` option / notebook parameter.
INTERACTIVE = ("auto", "on", "off")


def has_frontend() -> bool:
    """Whether a notebook frontend that renders widgets is attached.

    True in a Jupyter kernel started by a Jupyter server (JupyterLab,
    Notebook 7: the server sets ``JPY_SESSION_NAME`` in the kernel's
    environment) or by VS Code (``__vsc_ipynb_file__``); False in plain
    Python, IPython terminals and papermill/nbclient runs, which start the
    kernel themselves. ``FAIRNB_INTERACTIVE=1`` / ``0`` overrides.
    """
    forced = os.environ.get("FAIRNB_INTERACTIVE", "")
    if forced in ("0", "1"):
        return forced == "1"
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    shell = get_ipython()
    if shell is None or type(shell).__name__ != "ZMQInteractiveShell":
        return False
    return bool(os.environ.get("JPY_SESSION_NAME")
                or "__vsc_ipynb_file__" in shell.user_ns)


def resolve_interactive(value: bool | str) -> bool:
    """``True``/``"on"``, ``False``/``"off"``, or ``"auto"``
    (:func:`has_frontend`)."""
    if isinstance(value, bool):
        return value
    check_choice("interactive", value, INTERACTIVE)
    return has_frontend() if value == "auto" else value == "on"


def quick_table(pred: Predictions, attribute: str, *,
                threshold: float = 0.5) -> pd.DataFrame:
    """Tidy per-group AUC, accuracy, TPR and FPR of one attribute, without
    CIs (columns ``attribute, group, metric, value, n, ci_low, ci_high``):
    the dashboard's default when no ``table_fn`` (e.g. a bootstrap
    ``group_report``) is given."""
    from sklearn.metrics import roc_auc_score

    y, s = np.asarray(pred.y_true), np.asarray(pred.y_score)
    g, p = np.asarray(pred.attributes[attribute]), s >= threshold
    rows = []
    for code in group_codes(attribute):
        m = g == code
        if not m.any():
            continue
        yy, pp = y[m], p[m]
        vals = dict(
            auc=roc_auc_score(yy, s[m]) if len(set(yy)) == 2 else np.nan,
            acc=np.mean(yy == pp),
            tpr=pp[yy == 1].mean() if (yy == 1).any() else np.nan,
            fpr=pp[yy == 0].mean() if (yy == 0).any() else np.nan)
        rows += [(attribute, code_to_name(attribute, code), k, float(v),
                  int(m.sum()), np.nan, np.nan) for k, v in vals.items()]
    return pd.DataFrame(rows, columns=["attribute", "group", "metric",
                                       "value", "n", "ci_low", "ci_high"])


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
                  compare_table: pd.DataFrame | None = None
                  ) -> dict[str, go.Figure]:
    """The static dashboard of one run, in display order: ``roc,
    metrics, threshold_sweep, similarity, reliability, confusion`` and
    ``comparison`` when ``compare_table`` is given.

    ``table`` is a tidy by-group table (``GroupReport.to_frame()`` or
    :func:`quick_table`); ``metric`` leads the bars and selects the rows of
    ``compare_table`` (a ``compare()`` table) shown, with ``attribute``.
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
        "similarity": plots.similarity_figure(pred.similarity, g, attribute),
        "reliability": plots.reliability_figure(y, s, g, attribute),
        "confusion": plots.confusion_figure(
            y, (np.asarray(s) >= threshold).astype(int), g, attribute),
    }
    if compare_table is not None:
        part = compare_table[compare_table["attribute"] == attribute]
        if metric in set(part["metric"]):
            part = part[part["metric"] == metric]
        figs["comparison"] = plots.comparison_figure(part)
    return figs


def _fmt(row) -> str:
    ci = ("" if np.isnan(row.ci_low) else
          f" [{row.ci_low:.3f}, {row.ci_high:.3f}]")
    return f"{row.value:.3f}{ci}"


def headline_html(table: pd.DataFrame, attribute: str, *,
                  comparison: pd.DataFrame | None = None) -> str:
    """The dashboard's summary block: overall AUC, ES-AUC, DPD and
    DEOdds with intervals, the groups from worst to best AUC, and the
    comparison's verdicts (HTML, escaped)."""
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
        counts = comparison["verdict"].value_counts()
        items.append("<li><b>comparison</b>: " + ", ".join(
            f"{n} {html.escape(str(v))}" for v, n in counts.items())
            + " (of the metric differences)</li>")
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
        div = fig.to_html(full_html=False, include_plotlyjs=i == 0,
                          div_id=f"fig-{key}", default_width="100%")
        sections.append(f'<section id="section-{key}">\n<h2>'
                        f"{html.escape(_title(fig, key))}</h2>\n{div}\n"
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


def _load(source) -> Predictions:
    if isinstance(source, Predictions):
        return source
    path = Path(source)
    return Predictions.load(path / "predictions.npz" if path.is_dir()
                            else path)


class Dashboard:
    """Figures of several runs behind run / attribute / threshold /
    metric / comparison controls.

    Parameters
    ----------
    runs : mapping of name -> Predictions, run folder or ``.npz`` path,
        or a sequence of run folders (named by folder).
    interactive : bool or {"auto", "on", "off"}
        Display ipywidgets controls in :meth:`show`; ``"auto"`` (default)
        only when a frontend is attached (:func:`has_frontend`), so
        papermill runs get static figures (see the module docstring).
    table_fn : callable ``(pred, attribute, threshold) -> DataFrame``
        The tidy by-group table (default :func:`quick_table`, no CIs).
    compare_fn : callable ``(pred_a, pred_b, attribute, threshold)
        -> DataFrame`` (default :func:`quick_compare`).
    """

    def __init__(self, runs, *, attribute: str = "race",
                 threshold: float = 0.5, metric: str = "auc",
                 compare: str | None = None,
                 interactive: bool | str = "auto",
                 table_fn: Callable | None = None,
                 compare_fn: Callable | None = None,
                 title: str = "fairnb fairness dashboard"):
        if not isinstance(runs, Mapping):
            runs = {Path(r).name: r for r in runs}
        if not runs:
            raise ValueError("Dashboard needs at least one run.")
        self.sources, self._cache = dict(runs), {}
        self.interactive = resolve_interactive(interactive)
        self.title = title
        self.table_fn = table_fn or (lambda p, a, t: quick_table(
            p, a, threshold=t))
        self.compare_fn = compare_fn or (lambda a, b, att, t: quick_compare(
            a, b, att, threshold=t))
        self.state = dict(run=next(iter(runs)), attribute=attribute,
                          threshold=threshold, metric=metric,
                          compare=compare)
        self.widgets: dict = {}
        self.table = self.comparison = None

    def predictions(self, run: str) -> Predictions:
        check_choice("run", run, list(self.sources))
        if run not in self._cache:
            self._cache[run] = _load(self.sources[run])
        return self._cache[run]

    def redraw(self, **state) -> dict[str, go.Figure]:
        """Update the state (``run, attribute, threshold, metric,
        compare``) and return the figures; the widget callback."""
        unknown = set(state) - set(self.state)
        if unknown:
            check_choice("dashboard control", sorted(unknown)[0],
                         list(self.state))
        self.state.update(state)
        st = self.state
        pred = self.predictions(st["run"])
        table = self.table_fn(pred, st["attribute"], st["threshold"])
        other = st["compare"]
        diff = (self.compare_fn(pred, self.predictions(other),
                                st["attribute"], st["threshold"])
                if other not in (None, "", NO_COMPARISON) else None)
        self.table, self.comparison = table, diff
        return build_figures(pred, table, attribute=st["attribute"],
                             threshold=st["threshold"], metric=st["metric"],
                             compare_table=diff)

    def summary_html(self) -> str:
        """The current state and :func:`headline_html` of the last
        :meth:`redraw`."""
        st, pred = self.state, self.predictions(self.state["run"])
        items = {"run": st["run"], "attribute": st["attribute"],
                 "threshold": f"{st['threshold']:.2f}",
                 "patients": len(pred.y_true),
                 "glaucoma": f"{100 * np.mean(pred.y_true):.1f} %",
                 "compared with": st["compare"] or NO_COMPARISON}
        return "<ul>" + "".join(
            f"<li><b>{k}</b>: {html.escape(str(v))}</li>"
            for k, v in items.items()) + "</ul>" + headline_html(
                self.table, st["attribute"], comparison=self.comparison)

    def save(self, path) -> Path:
        """The current view as one offline HTML file (:func:`export_html`)."""
        figs = self.redraw()
        return export_html(figs, path, title=self.title,
                           summary_html=self.summary_html())

    def controls(self):
        """The ipywidgets: controls above one plotly ``FigureWidget`` per
        figure, redrawn in place whenever a control changes."""
        import ipywidgets as w

        st = self.state
        pred = self.predictions(st["run"])
        attrs = [a for a in ATTRIBUTES if a in pred.attributes]
        ctl = dict(
            run=w.Dropdown(options=list(self.sources), value=st["run"],
                           description="run"),
            attribute=w.Dropdown(options=attrs, value=st["attribute"],
                                 description="attribute"),
            threshold=w.FloatSlider(value=st["threshold"], min=0.01,
                                    max=0.99, step=0.005,
                                    readout_format=".3f",
                                    continuous_update=False,
                                    description="threshold"),
            metric=w.Dropdown(options=METRICS, value=st["metric"],
                              description="metric"),
            compare=w.Dropdown(options=[NO_COMPARISON, *self.sources],
                               value=st["compare"] or NO_COMPARISON,
                               description="compare"))
        self.widgets = {key: go.FigureWidget() for key in FIGURES}
        self.boxes = {key: w.Box([fig]) for key, fig in
                      self.widgets.items()}
        for name, widget in ctl.items():
            widget.observe(lambda ch, n=name: self._draw(**{n: ch["new"]}),
                           names="value")
        self.control_widgets = ctl
        self._draw()
        return w.VBox([w.HBox(list(ctl.values())[:3]),
                       w.HBox(list(ctl.values())[3:]),
                       *self.boxes.values()])

    def _draw(self, **state) -> None:
        """Redraw every ``FigureWidget`` in place; hide the comparison
        when there is none."""
        figs = self.redraw(**state)
        for key, live in self.widgets.items():
            fig = figs.get(key)
            self.boxes[key].layout.display = None if fig else "none"
            if fig is None:
                continue
            with live.batch_update():
                live.data = ()
                live.add_traces(list(fig.data))
                live.layout = fig.layout

    def show(self) -> None:
        """Display the controls (when interactive) or the static figures.

        Static is what headless runs get, so papermill never waits on a
        frontend; it returns as soon as the figures are displayed.
        """
        if self.interactive:
            display(self.controls())
            return
        for fig in self.redraw().values():
            display(fig)


def display(obj) -> None:
    """IPython's ``display`` (kept a module name so tests can capture it)."""
    from IPython.display import display as _display

    _display(obj)
