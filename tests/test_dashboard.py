"""The dashboard: figures, the one-file HTML export (checked in a real
headless browser where Chromium exists), and redraw() without a
frontend."""
import os
import re
import shutil
import subprocess

import numpy as np
import plotly.graph_objects as go
import pytest

from fairnb import dashboard, plots
from fairnb.attributes import group_names
from fairnb.evaluate import Predictions

PLOTLY_JS_MARKER = "* plotly.js v"  # banner at the top of plotly.min.js


def _pred(seed: int) -> Predictions:
    rng = np.random.default_rng(seed)
    n = 300
    race = rng.choice([0, 1, 2, -1], size=n, p=[0.2, 0.2, 0.5, 0.1])
    gender = rng.integers(0, 2, n)
    y = rng.integers(0, 2, n)
    s = np.clip(0.5 + 0.2 * (2 * y - 1) + 0.05 * race
                + rng.normal(0, 0.2, n), 0, 1)
    return Predictions(ids=np.arange(n).astype(str), y_true=y, y_score=s,
                       similarity=rng.normal(0.3, 0.05, n),
                       attributes={"race": race, "gender": gender})


@pytest.fixture
def runs(tmp_path):
    a, b = _pred(0), _pred(1)
    b.save(tmp_path / "run_b" / "predictions.npz")
    return {"baseline": a, "fairclip": tmp_path / "run_b"}


def _figures(**kw):
    pred = _pred(0)
    table = dashboard.quick_table(pred, "race")
    return dashboard.build_figures(pred, table, attribute="race", **kw)


def test_build_figures_keys_and_order():
    figs = _figures()
    assert list(figs) == [k for k in dashboard.FIGURES if k != "comparison"]
    pred = _pred(0)
    diff = dashboard.quick_compare(pred, _pred(1), "race")
    figs = _figures(compare_table=diff)
    assert list(figs) == list(dashboard.FIGURES)


def test_quick_table_layout():
    table = dashboard.quick_table(_pred(0), "race", threshold=0.5)
    assert list(table.columns) == ["attribute", "group", "metric", "value",
                                   "n", "ci_low", "ci_high"]
    assert list(dict.fromkeys(table["group"])) == group_names("race")


def test_export_html_one_file_plotlyjs_once(tmp_path):
    figs = _figures()
    path = dashboard.export_html(figs, tmp_path / "d.html", title="T <1>",
                                 summary_html="<p>sum</p>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.html"]
    text = path.read_text()
    assert text.count(PLOTLY_JS_MARKER) == 1
    assert "<script src=" not in text  # nothing fetched: works offline
    for key in figs:
        assert f'id="fig-{key}"' in text
    assert "T &lt;1&gt;" in text and "<p>sum</p>" in text


def _trace_names(figs):
    return {k: [t.name for t in f.data] for k, f in figs.items()}


def test_redraw_changes_with_controls(runs):
    dash = dashboard.Dashboard(runs)
    race = dash.redraw()
    assert "comparison" not in race
    gender = dash.redraw(attribute="gender")
    assert _trace_names(gender)["reliability"] == group_names("gender")
    assert _trace_names(race)["reliability"] == group_names("race")
    low = dash.redraw(threshold=0.2)
    assert (low["confusion"].data[0].z.tolist()
            != gender["confusion"].data[0].z.tolist())
    other = dash.redraw(run="fairclip", compare="baseline")
    assert "comparison" in other
    assert (other["roc"].data[0].name != low["roc"].data[0].name)
    with pytest.raises(ValueError, match="threshold"):
        dash.redraw(treshold=0.3)


def test_show_headless_displays_static_figures(runs, monkeypatch):
    shown = []
    monkeypatch.setattr(dashboard, "display", shown.append)
    assert dashboard.Dashboard(runs).show() is None
    assert len(shown) == len(dashboard.FIGURES) - 1
    assert all(type(f).__name__ == "Figure" for f in shown)


def test_interactive_controls_redraw_figure_widgets(runs, monkeypatch):
    shown = []
    monkeypatch.setattr(dashboard, "display", shown.append)
    dash = dashboard.Dashboard(runs, interactive="on")
    dash.show()
    assert len(shown) == 1  # one VBox; no Output widget, no displays
    box = shown[0]
    assert type(box).__name__ == "VBox"
    live = dash.widgets
    assert all(type(f).__name__ == "FigureWidget" for f in live.values())
    assert dash.boxes["comparison"].layout.display == "none"
    before = live["confusion"].data[0].z
    slider = box.children[0].children[2]
    slider.value = 0.3  # what a frontend would do: the callback redraws
    assert dash.state["threshold"] == 0.3
    assert not np.array_equal(live["confusion"].data[0].z, before)
    expected = dash.redraw()
    for key, fig in expected.items():
        assert len(live[key].data) == len(fig.data), key
        assert live[key].layout.title.text == fig.layout.title.text
    # a different attribute: other groups, other number of traces
    box.children[0].children[1].value = "gender"
    assert [t.name for t in live["roc"].data] == [
        t.name for t in dash.redraw()["roc"].data]
    assert len(live["roc"].data) != len(expected["roc"].data)
    box.children[1].children[1].value = "fairclip"  # compare control
    assert dash.boxes["comparison"].layout.display is None
    assert len(live["comparison"].data) > 0
    assert len(shown) == 1
    # the live summary names run a and run b
    assert "<b>run (a)</b>: baseline" in dash.summary.value
    assert "<b>compared with (b)</b>: fairclip" in dash.summary.value
    assert "fairclip against baseline" in dash.summary.value


def test_with_a_frontend_live_figures_are_shown_into_full_width_outputs(
        runs, monkeypatch):
    """plotly 7's FigureWidget stays 700 px wide in JupyterLab (found in
    a browser check): with a frontend each figure goes into an Output
    that spans the cell."""
    monkeypatch.setenv("FAIRNB_INTERACTIVE", "1")
    shows = []
    monkeypatch.setattr(go.Figure, "show", lambda self, *a, **k:
                        shows.append(self))
    monkeypatch.setattr(dashboard, "display", lambda obj: None)
    dash = dashboard.Dashboard(runs)
    dash.show()
    assert dash.live_kind == "output"
    assert all(type(o).__name__ == "Output" for o in dash.widgets.values())
    assert all(o.layout.width == "100%" for o in dash.widgets.values())
    first = len(shows)
    assert first == len(dashboard.FIGURES) - 1  # no comparison yet
    dash.control_widgets["threshold"].value = 0.3
    assert len(shows) == 2 * first  # every figure drawn again
    confusion = [f for f in shows if "onfusion" in (f.layout.title.text
                                                     or "")]
    assert len(confusion) == 2
    assert not np.array_equal(confusion[0].data[0].z, confusion[1].data[0].z)


def test_interactive_auto_follows_the_frontend(runs, monkeypatch):
    monkeypatch.delenv("FAIRNB_INTERACTIVE", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    # plain Python (this test process): no kernel, no frontend
    assert dashboard.has_frontend() is False
    assert dashboard.Dashboard(runs).interactive is False

    class ZMQInteractiveShell:  # a Jupyter kernel's shell, by type name
        user_ns: dict = {}

    monkeypatch.setattr("IPython.get_ipython", ZMQInteractiveShell)
    assert dashboard.has_frontend() is False  # a kernel, as papermill's
    monkeypatch.setenv("JPY_SESSION_NAME", "/lab/04.ipynb")
    assert dashboard.has_frontend() is True  # started by Jupyter server
    assert dashboard.Dashboard(runs, interactive="auto").interactive
    assert not dashboard.Dashboard(runs, interactive="off").interactive
    monkeypatch.setenv("FAIRNB_INTERACTIVE", "0")
    assert dashboard.has_frontend() is False
    with pytest.raises(ValueError, match="auto"):
        dashboard.Dashboard(runs, interactive="yes")


def _chromium():
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


def test_dashboard_renders_in_headless_chromium(tmp_path, runs):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail("chromium is missing on CI; .ci/run installs it "
                        "with apt-get")
        pytest.skip("chromium not installed (apt-get install chromium); "
                    "the real-browser check of the HTML export is skipped")
    dash = dashboard.Dashboard(runs, compare="fairclip")
    figs = dash.redraw()
    page = dash.save(tmp_path / "dashboard.html")
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-quic", "--no-first-run",
             "--disable-background-networking",
             "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}",
             "--virtual-time-budget=10000", "--enable-logging=stderr",
             "--v=0"]
    url = page.resolve().as_uri()
    dom = subprocess.run(flags + ["--dump-dom", url], capture_output=True,
                         text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Uncaught" not in dom.stderr, dom.stderr[-2000:]
    for key in figs:
        div = re.search(rf'<div id="fig-{key}"(.*?)</section>', dom.stdout,
                        re.S)
        assert div, f"figure div fig-{key} missing from the DOM"
        body = div.group(1)
        assert 'class="plot-container' in body, key
        assert 'class="main-svg"' in body, f"{key} was not rendered"
        assert "<path" in body or "<rect" in body, key
    shot = tmp_path / "dashboard.png"
    res = subprocess.run(flags + [f"--screenshot={shot}",
                                  "--window-size=1280,2000", url],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_module_palette_shared():
    # the dashboard colours groups with the same palette as every figure
    figs = _figures()
    colors = plots.group_colors("race")
    roc = figs["roc"].data
    assert [t.line.color for t in roc] == [colors[n]
                                          for n in group_names("race")]


def test_export_names_each_figure_once_and_the_compared_runs(tmp_path, runs):
    dash = dashboard.Dashboard(runs, compare="fairclip")
    page = dash.save(tmp_path / "d.html").read_text()
    for fig in dash.redraw().values():
        title = fig.layout.title.text
        assert page.count(f'"text":"{title}"') == 0  # not in the plot too
    assert "fairclip against baseline" in page
    axis = "difference fairclip − baseline"
    assert axis in page or axis.replace("−", "\\u2212") in page
    # the compare menu never offers the run itself
    dash.controls()
    menu = dash.control_widgets["compare"]
    assert "baseline" not in menu.options and "fairclip" in menu.options
    dash.control_widgets["run"].value = "fairclip"
    assert "fairclip" not in menu.options and menu.value == "(none)"
