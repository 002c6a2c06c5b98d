"""The fairness dashboard: the figures of one run, one offline HTML file,
and ipywidgets controls for live exploration.

Headless rule: papermill runs have no frontend, widget callbacks never
fire there (papermill#400), and figures displayed into an ipywidgets
``Output`` leave nbclient waiting for the cell forever (#723; reproduced
here). So with ``interactive="auto"`` :class:`Dashboard` shows controls
only when a notebook frontend is attached (:func:`has_frontend`), and
headless it displays the static figures. With a frontend each live figure
is shown into its own ``Output`` (it fills the cell; plotly 7's
``FigureWidget`` stays 700 px wide in JupyterLab, plotly.py#5208, found
in a browser check); controls forced on without one (``interactive="on"``
under papermill) draw ``FigureWidget`` objects updated in place instead,
so nothing waits on an ``Output``.
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
import plotly.graph_objects as go

from ..attributes import ATTRIBUTES, check_choice
from ..predictions import Predictions
from .export import export_html, headline_html
from .figures import (
    FIGURES,
    METRICS,
    build_figures,
    quick_compare,
    quick_table,
)

NO_COMPARISON = "(none)"
#: Values of the ``interactive`` option / notebook parameter.
INTERACTIVE = ("auto", "on", "off")

__all__ = ["Dashboard", "FIGURES", "INTERACTIVE", "METRICS",
           "NO_COMPARISON", "build_figures", "display", "export_html",
           "has_frontend", "headline_html", "quick_compare", "quick_table",
           "resolve_interactive"]


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
        if other == st["run"]:  # a run against itself says nothing
            other = st["compare"] = NO_COMPARISON
        diff = (self.compare_fn(pred, self.predictions(other),
                                st["attribute"], st["threshold"])
                if other not in (None, "", NO_COMPARISON) else None)
        self.table, self.comparison = table, diff
        return build_figures(pred, table, attribute=st["attribute"],
                             threshold=st["threshold"], metric=st["metric"],
                             compare_table=diff, names=(st["run"], other))

    def summary_html(self) -> str:
        """The current state and :func:`headline_html` of the last
        :meth:`redraw`."""
        st, pred = self.state, self.predictions(self.state["run"])
        items = {"run (a)": st["run"], "attribute": st["attribute"],
                 "threshold": f"{st['threshold']:.2f}",
                 "patients": len(pred.y_true),
                 "glaucoma": f"{100 * np.mean(pred.y_true):.1f} %",
                 "compared with (b)": st["compare"] or NO_COMPARISON}
        return "<ul>" + "".join(
            f"<li><b>{k}</b>: {html.escape(str(v))}</li>"
            for k, v in items.items()) + "</ul>" + headline_html(
                self.table, st["attribute"], comparison=self.comparison,
                names=(st["run"], st["compare"]))

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
            compare=w.Dropdown(options=self._compare_options(st["run"]),
                               value=st["compare"] or NO_COMPARISON,
                               description="compare"))
        # see the module docstring: Output with a frontend, else
        # FigureWidget
        self.live_kind = "output" if has_frontend() else "figurewidget"
        full = w.Layout(width="100%")
        self.widgets = {key: (w.Output(layout=full)
                              if self.live_kind == "output"
                              else go.FigureWidget()) for key in FIGURES}
        self.boxes = {key: w.Box([fig], layout=full)
                      for key, fig in self.widgets.items()}
        self.summary = w.HTML()
        for name, widget in ctl.items():
            widget.observe(lambda ch, n=name: self._draw(**{n: ch["new"]}),
                           names="value")
        ctl["run"].observe(self._new_run, names="value")
        self.control_widgets = ctl
        self._draw()
        return w.VBox([w.HBox(list(ctl.values())[:3]),
                       w.HBox(list(ctl.values())[3:]), self.summary,
                       *self.boxes.values()])

    def _compare_options(self, run: str) -> list[str]:
        """Runs to compare ``run`` with: every other one."""
        return [NO_COMPARISON, *(r for r in self.sources if r != run)]

    def _new_run(self, change) -> None:
        menu = self.control_widgets["compare"]
        options = self._compare_options(change["new"])
        if menu.value not in options:
            menu.value = NO_COMPARISON
        menu.options = options

    def _draw(self, **state) -> None:
        """Redraw every live figure and the summary (which names run a
        and run b); hide the comparison when there is none."""
        figs = self.redraw(**state)
        self.summary.value = self.summary_html()
        for key, live in self.widgets.items():
            fig = figs.get(key)
            self.boxes[key].layout.display = None if fig else "none"
            if fig is None:
                continue
            if self.live_kind == "output":
                with live:
                    live.clear_output(wait=True)
                    fig.show()
                continue
            with live.batch_update():
                live.data = ()
                live.add_traces(list(fig.data))
                live.layout = fig.layout
                live.layout.width = None  # the cell's width, not 700 px
                live.layout.autosize = True

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
