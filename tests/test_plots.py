"""Figure builders: structure (traces per group in schema order, group
colours, titles) and the numbers behind them, cross-checked against
scikit-learn and fairnb.metrics."""
import base64

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from fairnb import metrics, plots
from fairnb.attributes import code_to_name, group_names


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    n = 600
    g = rng.choice([2, 0, 1, -1], size=n, p=[0.5, 0.2, 0.2, 0.1])
    y = rng.integers(0, 2, n)
    s = np.clip(0.5 + 0.25 * (2 * y - 1) + 0.1 * g
                + rng.normal(0, 0.2, n), 0, 1)
    return y, s, g


def _arr(v):
    """A to_dict() array as numpy (plotly 7 writes typed arrays as
    base64 ``bdata``)."""
    if isinstance(v, dict) and "bdata" in v:
        out = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
        shape = v.get("shape")
        if shape:
            out = out.reshape([int(k) for k in str(shape).split(",")])
        return out
    return np.asarray(v)


def _names(fig):
    return [t["name"] for t in fig.to_dict()["data"]]


def _titles(fig):
    lay = fig.to_dict()["layout"]
    axes = [v for k, v in lay.items() if k.startswith(("xaxis", "yaxis"))]
    assert lay["title"]["text"]
    return [a.get("title", {}).get("text") for a in axes]


def test_roc_figure_groups_colours_and_auc(data):
    y, s, g = data
    fig = plots.roc_figure(y, s, g, "race")
    traces = fig.to_dict()["data"]
    assert len(traces) == 3  # known groups; Unknown left out
    colors = plots.group_colors("race")
    for trace, code in zip(traces, (0, 1, 2)):
        name = code_to_name("race", code)
        assert trace["name"].startswith(name)
        assert trace["line"]["color"] == colors[name]
        auc = roc_auc_score(y[g == code], s[g == code])
        assert f"AUC {auc:.3f}" in trace["name"]
    assert all(_titles(fig))


def test_metric_bars_figure_ci_and_order():
    rows = []
    for i, name in enumerate(group_names("race")[::-1]):  # shuffled order
        for m in ("auc", "acc", "tpr", "fpr"):
            ci = (np.nan, np.nan) if m == "fpr" else (0.5, 0.9)
            rows.append(("race", name, m, 0.7, 100 + i, *ci))
    table = pd.DataFrame(rows, columns=["attribute", "group", "metric",
                                        "value", "n", "ci_low", "ci_high"])
    fig = plots.metric_bars_figure(table, "race")
    traces = fig.to_dict()["data"]
    assert _names(fig) == group_names("race")
    colors = plots.group_colors("race")
    assert [t["marker"]["color"] for t in traces] == [
        colors[n] for n in group_names("race")]
    assert list(traces[0]["x"]) == ["AUC", "ACC", "TPR", "FPR"]
    err = _arr(traces[0]["error_y"]["array"])
    np.testing.assert_allclose(err[:3], 0.2)
    assert np.isnan(err[3])  # no CI -> no bar
    assert all(_titles(fig))


def test_threshold_sweep_matches_hand_computation(data):
    y, s, g = data
    t = 0.5
    sweep = plots.threshold_sweep(y, s, g, "race", thresholds=[t])
    p = (s >= t).astype(int)
    known = [0, 1, 2]
    sel = [p[g == c].mean() for c in known]
    tpr = [p[(g == c) & (y == 1)].mean() for c in known]
    fpr = [p[(g == c) & (y == 0)].mean() for c in known]
    gap = sweep[sweep["group"] == "between groups"].iloc[0]
    np.testing.assert_allclose(gap["dpd"], max(sel) - min(sel))
    np.testing.assert_allclose(
        gap["deodds"], max(max(tpr) - min(tpr), max(fpr) - min(fpr)))
    # fairlearn (through fairnb.metrics) as an independent oracle
    m = g != -1
    np.testing.assert_allclose(
        gap["dpd"], metrics.demographic_parity_difference(p[m], g[m]))
    np.testing.assert_allclose(
        gap["deodds"], metrics.equalized_odds_difference(y[m], p[m], g[m]))
    white = sweep[sweep["group"] == "White"].iloc[0]
    np.testing.assert_allclose(white["tpr"], tpr[2])


def test_threshold_sweep_figure_structure(data):
    y, s, g = data
    fig = plots.threshold_sweep_figure(y, s, g, "race",
                                       thresholds=[0.3, 0.5, 0.7])
    names = _names(fig)
    assert names[:2] == ["DPD", "DEOdds"]
    assert names[2:] == [f"{n} {r}" for n in group_names("race")
                         for r in ("TPR", "FPR")]
    colors = plots.group_colors("race")
    traces = fig.to_dict()["data"]
    assert traces[2]["line"]["color"] == colors["Asian"]
    assert len(_arr(traces[0]["x"])) == 3
    assert all(_titles(fig))


def test_reliability_figure(data):
    y, s, g = data
    fig = plots.reliability_figure(y, s, g, "race", bins=5)
    traces = fig.to_dict()["data"]
    assert _names(fig) == group_names("race")
    m = g == 0
    idx = np.clip(np.digitize(s[m], np.linspace(0, 1, 6)[1:-1]), 0, 4)
    counts = np.bincount(idx, minlength=5)
    np.testing.assert_array_equal(_arr(traces[0]["customdata"]),
                                  counts[counts > 0])
    assert all(0 <= v <= 1 for v in _arr(traces[0]["y"]))
    assert all(_titles(fig))


def test_confusion_figure_counts(data):
    y, s, g = data
    p = (s >= 0.5).astype(int)
    fig = plots.confusion_figure(y, p, g, "race")
    traces = fig.to_dict()["data"]
    assert _names(fig) == group_names("race")
    m = g == 1
    tp = int(np.sum((y[m] == 1) & (p[m] == 1)))
    assert traces[1]["text"][1][1].startswith(f"{tp}<br>")
    np.testing.assert_allclose(_arr(traces[1]["z"]).sum(axis=1), 100)


def test_pareto_front_and_figure():
    runs = pd.DataFrame({
        "run": list("abcd"), "auc": [0.8, 0.7, 0.75, 0.6],
        "es_auc_race": [0.6, 0.7, 0.6, 0.5],
        "method": ["clip", "fairclip", "fairclip", "clip"]})
    np.testing.assert_array_equal(
        plots.pareto_front(runs["auc"], runs["es_auc_race"]),
        [True, True, False, False])
    fig = plots.pareto_figure(runs, "race")
    assert _names(fig) == ["clip", "fairclip", "Pareto front"]
    front = fig.to_dict()["data"][-1]
    assert list(_arr(front["x"])) == [0.7, 0.8]
    assert all(_titles(fig))
    with pytest.raises(ValueError, match="es_auc_gender"):
        plots.pareto_figure(runs, "gender")


def test_comparison_figure():
    from fairnb import metrics
    rng = np.random.default_rng(0)
    y, g = rng.integers(0, 2, 600), rng.integers(0, 3, 600)
    noise = rng.normal(0, 1, 600)
    s_a = 1 / (1 + np.exp(-(y - 0.5 + noise)))
    # b: much better for Black (1), much worse for White (2), same for Asian
    shift = np.select([g == 1, g == 2], [2.0, -0.45], 0.0)
    s_b = 1 / (1 + np.exp(-((y - 0.5) * (1 + shift) + noise)))
    ra, rb = (metrics.group_report(y, s, groups=g, attribute="race",
                                   n_boot=200) for s in (s_a, s_b))
    t = metrics.compare(ra, rb).query("metric == 'auc'")
    assert {"better", "worse", "within noise"} == set(t["verdict"])
    fig = plots.comparison_figure(t)
    assert sorted(_names(fig)) == sorted(set(t["verdict"]))
    lay = fig.to_dict()["layout"]
    assert lay["xaxis"]["title"]["text"].startswith("difference b − a")
    total = sum(len(_arr(tr["x"])) for tr in fig.to_dict()["data"])
    assert total == len(t)
    # a verdict keeps its colour whichever others are present, and a lone
    # verdict still has its legend entry
    colors = {tr.name: tr.marker.color for tr in fig.data}
    alone = plots.comparison_figure(t[t["verdict"] == "within noise"])
    [trace] = alone.data
    assert trace.marker.color == colors["within noise"]
    assert trace.showlegend is True
    assert len(set(colors.values())) == 3


def test_threshold_sweep_follows_crowded_scores():
    # zero-shot softmax scores crowd around 0.5: a fixed 0.05 grid would
    # give two thresholds there; the quantile grid moves ~1 % per step
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 1000)
    s = 0.49 + 0.02 * rng.random(1000) + 0.005 * y
    g = rng.integers(0, 3, 1000)
    grid = plots.sweep_thresholds(s)
    assert 90 <= grid.size <= 101
    assert grid.min() == s.min() and grid.max() == s.max()
    moved = [np.mean((s >= a) != (s >= b)) for a, b in zip(grid, grid[1:])]
    assert max(moved) <= 0.02
    fig = plots.threshold_sweep_figure(y, s, g, "race", threshold=0.5)
    lo, hi = fig.layout.xaxis.range
    assert s.min() <= lo < 0.5 < hi <= s.max() + 1e-12
    dpd = fig.data[0]
    assert dpd.name == "DPD" and len(dpd.x) == grid.size
