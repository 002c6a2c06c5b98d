"""Comparing methods over seeds: the paper's Table 3 with honest
statistics.

Input: complete 03 run folders (a sweep's, :mod:`fairnb.sweep`). Output:
mean and standard deviation over seeds per method and attribute
(:func:`seed_table`), every difference against a baseline with three
intervals and a Holm-adjusted verdict (:func:`differences`, statistics in
:mod:`fairnb.uncertainty`), a Friedman test and mean ranks with the
Nemenyi critical difference for three or more methods (:func:`ranks`).
Works on run folders and arrays only, never on a trainer.

Used in: 06_compare_methods.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .attributes import group_names, group_slug
from .uncertainty import (
    bootstrap_differences,
    holm,
    seed_difference,
    seeds_needed,
    signed_rank_floor,
)

#: columns of :func:`differences`
DIFFERENCE_COLUMNS = (
    "condition", "attribute", "method", "metric", "baseline", "value",
    "diff", "n_seeds",
    "seeds_low", "seeds_high", "seeds_p", "samples_low", "samples_high",
    "both_low", "both_high", "both_p", "two_level_low", "two_level_high",
    "holm_p", "verdict", "seeds_needed")


def table_metrics(attribute: str) -> list[tuple[str, str, str]]:
    """The paper's Table 3 columns for ``attribute``: (label,
    ``metrics.json`` key, :func:`~fairnb.uncertainty.two_level_bootstrap`
    metric).

    Examples
    --------
    >>> [label for label, _, _ in table_metrics("gender")]
    ['DPD', 'DEOdds', 'AUC', 'ES-AUC', 'AUC Female', 'AUC Male']
    """
    rows = [("DPD", f"dpd_{attribute}", "dpd"),
            ("DEOdds", f"deodds_{attribute}", "deodds"),
            ("AUC", "auc", "auc"),
            ("ES-AUC", f"es_auc_{attribute}", "es_auc")]
    rows += [(f"AUC {g}", f"auc_{attribute}_{group_slug(g)}", f"auc:{g}")
             for g in group_names(attribute)]
    return rows


def _value(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _test_predictions(path: Path, params: dict, condition: str,
                      metrics: dict) -> tuple[str, dict]:
    """``(file, numbers)`` of a run's Test under ``condition``: its own
    ``predictions.npz`` and ``metrics.json`` where that is the condition
    Test had (``test_condition``, empty: the training one), else the
    predictions it scored under it, their metrics recomputed (the run's
    other numbers, best epoch and Validation AUC, kept)."""
    import warnings

    from .predictions import Predictions
    from .shifts import condition_file
    own = params.get("test_condition") or params.get("train_condition",
                                                     "source")
    if condition == own:
        return str(path / "predictions.npz"), metrics
    file = path / condition_file(condition)
    if not file.is_file():
        raise FileNotFoundError(
            f"{path} has no Test predictions under {condition!r} ({file.name}"
            "): run it with ood_conditions naming it (06 sets that from "
            "test_conditions).")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        shifted = Predictions.load(file).metrics()
    return str(file), {**metrics, **shifted}


def collect(runs: Sequence[str | Path], *, axes: Sequence[str] = (),
            conditions: Sequence[str] = (),
            test_conditions: Sequence[str] = ()) -> pd.DataFrame:
    """One row per 03 run folder: ``run``, ``method``, ``seed``,
    ``attribute`` (the one trained), ``condition`` (the data the run had,
    from the 03 parameters ``conditions`` such as ``bias``, e.g.
    ``"bias=0.5"``; empty without), ``setting`` (the values of the grid
    ``axes`` besides those, e.g. ``"fair_weight=10.0"``; empty without
    axes), ``predictions`` (the Test predictions file), then every number
    of its ``metrics.json``. With ``test_conditions`` (acquisition
    conditions of :mod:`fairnb.data.shift`), one row per run and
    condition, labelled ``test_condition=<name>``, from the predictions
    the one trained model made of Test under it. Every table below is
    computed per condition and attribute: a condition is a different
    dataset, never a setting to select."""
    from .config import FairCLIPConfig
    defaults = FairCLIPConfig().to_dict()
    rows = []
    for path in map(Path, runs):
        params = json.loads((path / "params.json").read_text())
        metrics = json.loads((path / "metrics.json").read_text())
        setting = ",".join(f"{k}={params.get(k)}" for k in axes)
        condition = ",".join(f"{k}={_value(params.get(k, defaults.get(k)))}"
                             for k in conditions if k != "test_condition")
        for test in test_conditions or [None]:
            file, values = (str(path / "predictions.npz"), metrics) if \
                test is None else _test_predictions(path, params, test,
                                                    metrics)
            numbers = {k: (np.nan if v is None else v) for k, v in
                       values.items() if isinstance(
                           v, (int, float, type(None)))
                       and k != "schema_version"}
            label = ",".join(x for x in (condition, (
                f"test_condition={test}" if test else "")) if x)
            rows.append({"run": str(path), "method": params["method"],
                         "seed": int(params["seed"]),
                         "attribute": params["attribute"],
                         "condition": label, "setting": setting,
                         "predictions": file, **numbers})
    if not rows:
        raise ValueError("collect needs at least one run folder.")
    return pd.DataFrame(rows)


def blocks(frame: pd.DataFrame):
    """``((condition, attribute), part)`` for each dataset condition and
    trained attribute of a :func:`collect` frame, in order (a frame
    without a ``condition`` column has one, empty)."""
    if "condition" not in frame:
        frame = frame.assign(condition="")
    return frame.groupby(["condition", "attribute"], sort=False)


def seed_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation (ddof 1) over seeds: one row per
    (condition, attribute, method, metric) in Table 3 order, with
    ``n_seeds``."""
    rows = []
    for (condition, attribute), part in blocks(frame):
        for method, runs in part.groupby("method", sort=False):
            for label, key, _ in table_metrics(attribute):
                values = runs[key].astype(float) if key in runs else \
                    pd.Series([np.nan] * len(runs))
                rows.append((condition, attribute, method, label,
                             values.mean(),
                             values.std(ddof=1) if len(values) > 1 else np.nan,
                             int(values.notna().sum())))
    return pd.DataFrame(rows, columns=["condition", "attribute", "method",
                                       "metric", "mean", "std", "n_seeds"])


def wide_table(table: pd.DataFrame, *, digits: int = 3) -> pd.DataFrame:
    """:func:`seed_table` as the paper prints it: ``mean ± std`` strings,
    rows (attribute, method), or (condition, attribute, method) where
    the table has conditions, columns the metrics."""
    def cell(row):
        if np.isnan(row["mean"]):
            return "–"
        if np.isnan(row["std"]):
            return f"{row['mean']:.{digits}f}"
        return f"{row['mean']:.{digits}f} ± {row['std']:.{digits}f}"
    shown = table.assign(cell=table.apply(cell, axis=1))
    order = list(dict.fromkeys(table["metric"]))
    index = ["attribute", "method"]
    if "condition" in table and (table["condition"] != "").any():
        index = ["condition", *index]
    out = shown.pivot_table(index=index, columns="metric",
                            values="cell", aggfunc="first", sort=False)
    return out[[m for m in order if m in out.columns]]


def _predictions(path: str):
    """A :func:`collect` row's Test predictions (its ``predictions``
    file) or a run folder's ``predictions.npz``."""
    from .predictions import Predictions
    path = Path(path)
    return Predictions.load(path if path.suffix == ".npz" else
                            path / "predictions.npz")


def _row_predictions(rows: pd.DataFrame, seed) -> object:
    row = rows.loc[seed]
    return _predictions(row["predictions"] if "predictions" in row
                        else row["run"])


def differences(frame: pd.DataFrame, *, baseline: str, n_boot: int = 2000,
                seed: int = 0, level: float = 0.95,
                metrics=table_metrics) -> pd.DataFrame:
    """Every Table 3 metric (``metrics(attribute)`` gives the rows, as
    :func:`table_metrics`) of every method against ``baseline``, per
    condition and attribute, on the seeds both have: the per-seed t interval
    (``seeds_*``), the paired Test bootstrap of the seed-averaged
    difference (``samples_*``), seeds and samples together with K - 1
    degrees of freedom (``both_*``, which drives the verdict), and the
    two-level percentile bootstrap for reference (``two_level_*``; too
    narrow with few seeds, see :mod:`fairnb.uncertainty`). ``holm_p`` adjusts
    ``both_p`` over every row of the table; ``verdict`` is the direction
    of the ``both`` interval where ``holm_p`` < 1 - ``level``, else
    "within noise". ``seeds_needed`` is how many seeds the observed spread
    would need for the seed interval to exclude 0.
    """
    if baseline not in set(frame["method"]):
        raise ValueError(f"baseline {baseline!r} has no runs; methods: "
                         f"{', '.join(sorted(set(frame['method'])))}.")
    rows = []
    for (condition, attribute), part in blocks(frame):
        base = part[part["method"] == baseline].set_index("seed")
        for method, runs in part.groupby("method", sort=False):
            if method == baseline:
                continue
            runs = runs.set_index("seed")
            seeds = sorted(set(base.index) & set(runs.index))
            if not seeds:
                continue
            preds_a = [_row_predictions(base, s) for s in seeds]
            preds_b = [_row_predictions(runs, s) for s in seeds]
            layout = metrics(attribute)
            boot = bootstrap_differences(
                preds_a, preds_b, attribute=attribute,
                metrics=[m for _, _, m in layout], n_boot=n_boot,
                seed=seed, level=level)
            for label, key, metric in layout:
                a = base.loc[seeds, key].astype(float).to_numpy()
                b = runs.loc[seeds, key].astype(float).to_numpy()
                by_seed = seed_difference(a, b, metric=metric, level=level)
                both, samples = boot[metric]["both"], boot[metric]["samples"]
                two = boot[metric]["two_level"]
                rows.append({
                    "condition": condition, "attribute": attribute,
                    "method": method,
                    "metric": label, "baseline": float(np.mean(a)),
                    "value": float(np.mean(b)), "diff": both.diff,
                    "n_seeds": len(seeds), "seeds_low": by_seed.low,
                    "seeds_high": by_seed.high, "seeds_p": by_seed.p_value,
                    "samples_low": samples.low,
                    "samples_high": samples.high, "both_low": both.low,
                    "both_high": both.high, "both_p": both.p_value,
                    "two_level_low": two.low, "two_level_high": two.high,
                    "_both": both, "seeds_needed": seeds_needed(b - a,
                                                                level=level)})
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=list(DIFFERENCE_COLUMNS))
    out["holm_p"] = holm(out["both_p"].to_numpy())
    alpha = 1 - level
    out["verdict"] = [d.verdict if p < alpha else
                      ("undefined" if np.isnan(p) else "within noise")
                      for d, p in zip(out["_both"], out["holm_p"])]
    return out[list(DIFFERENCE_COLUMNS)]


def gap_metrics(attribute: str) -> list[tuple[str, str, str]]:
    r"""The one row of :func:`gap_response`: the largest gap between the
    AUCs of ``attribute``'s groups relative to the overall AUC,
    :math:`(\max_g \mathrm{AUC}_g - \min_g \mathrm{AUC}_g) /
    \mathrm{AUC}` (``auc_max_disparity_<a>`` of ``metrics.json``)."""
    return [("AUC gap", f"auc_max_disparity_{attribute}",
             "auc_max_disparity")]


def gap_response(frame: pd.DataFrame, *, baseline: str, n_boot: int = 2000,
                 seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Does a method shrink a planted gap, and by how much beyond noise?
    Per condition (a planted-disparity level, say) and attribute: the AUC
    gap (:func:`gap_metrics`) of ``baseline`` (``baseline``: how large the
    planted gap is for it), of each method (``value``), their difference
    with the intervals and verdicts of :func:`differences` (Holm over this
    table's own rows: one test per condition, attribute and method; a
    lower gap is "better"), and ``reduction``, the share of the baseline's
    gap the method removes (1 - value / baseline; NaN where the baseline
    has no gap)."""
    out = differences(frame, baseline=baseline, n_boot=n_boot, seed=seed,
                      level=level, metrics=gap_metrics)
    base = out["baseline"].astype(float)
    out["reduction"] = np.where(base > 0, 1 - out["value"].astype(float)
                                / base.where(base > 0), np.nan)
    return out


def posthoc_rows(frame: pd.DataFrame, *, constraints, threshold: float = 0.5,
                 level: float = 0.95) -> pd.DataFrame:
    """Post-hoc group thresholds as baseline rows (:mod:`fairnb.posthoc`):
    every run of ``frame`` gets thresholds fitted on its own Validation
    predictions for each constraint; per condition, attribute, method,
    constraint and decision metric (DPD, DEOdds, accuracy on Test), the
    mean over seeds ``before`` (one threshold) and ``after``, and the
    per-seed difference after - before with its t interval (``seeds_*``)
    and direction. Runs without ``predictions_val.npz``, or whose
    Validation has no group with both classes, are left out."""
    from .posthoc import PostHocError, parse_constraints, run_thresholds
    rows = []
    labels = {"dpd": "DPD", "deodds": "DEOdds", "acc": "Acc"}
    for (condition, attribute), part in blocks(frame):
        for method, runs in part.groupby("method", sort=False):
            for constraint in parse_constraints(constraints):
                found = []
                files = runs["predictions"] if "predictions" in runs else \
                    runs["run"]
                for run, file in zip(runs["run"], files):
                    try:  # fitted on Validation, applied to this Test
                        out = run_thresholds(run, _predictions(file),
                                             attribute=attribute,
                                             constraints=[constraint],
                                             threshold=threshold)
                    except PostHocError:  # no group fittable on Validation
                        continue
                    if out:
                        found.append(out[constraint].summary())
                if not found:
                    continue
                for key, label in labels.items():
                    before = np.array([f[f"{key}_before"] for f in found])
                    after = np.array([f[f"{key}_after"] for f in found])
                    d = seed_difference(before, after, metric=key,
                                        level=level)
                    rows.append({
                        "condition": condition, "attribute": attribute,
                        "method": method, "constraint": constraint,
                        "metric": label, "before": before.mean(),
                        "after": after.mean(), "diff": d.diff,
                        "n_seeds": len(found), "seeds_low": d.low,
                        "seeds_high": d.high, "seeds_p": d.p_value,
                        "direction": d.verdict})
    return pd.DataFrame(rows, columns=[
        "condition", "attribute", "method", "constraint", "metric", "before",
        "after", "diff", "n_seeds", "seeds_low", "seeds_high", "seeds_p",
        "direction"])


def too_few_seeds(n_seeds: int, *, level: float = 0.95) -> str | None:
    """A sentence when ``n_seeds`` cannot support a seed-level test: the
    exact signed-rank floor reaches 1 - ``level`` only from six seeds.

    Examples
    --------
    >>> too_few_seeds(3)[:46]
    'With 3 seeds no signed-rank test can reject at'
    """
    floor = signed_rank_floor(n_seeds)
    if floor < 1 - level:
        return None
    return (f"With {n_seeds} seeds no signed-rank test can reject at "
            f"{1 - level:g}: its smallest two-sided p-value is {floor:g} "
            "(every seed in one direction). Seed-level verdicts need at "
            "least 6 seeds; the samples interval still says how much of a "
            "difference Test-set noise alone can explain.")


@dataclass(frozen=True)
class Ranks:
    """Friedman test over blocks and mean ranks (1 = best) with the
    Nemenyi critical difference: two methods whose mean ranks differ by
    less than ``cd`` are not told apart at ``alpha``."""

    metric: str
    statistic: float
    p_value: float
    mean_ranks: dict[str, float]
    cd: float
    n_blocks: int
    alpha: float


def ranks(frame: pd.DataFrame, *, metric: str = "AUC",
          alpha: float = 0.05) -> Ranks:
    r"""Friedman's test of ``metric`` (a Table 3 label; higher is better
    for AUC and ES-AUC, lower for DPD and DEOdds) over blocks = (seed,
    condition, attribute) that every method has; mean ranks and the
    Nemenyi critical difference :math:`q_\alpha \sqrt{k(k+1)/(6N)}`, with
    :math:`q_\alpha` the studentized range quantile over :math:`\sqrt 2`
    (Demšar, JMLR 2006). Needs three or more methods.
    """
    from scipy import stats

    methods = list(dict.fromkeys(frame["method"]))
    if len(methods) < 3:
        raise ValueError(f"ranks needs three or more methods; got "
                         f"{methods}.")
    lower_better = metric in ("DPD", "DEOdds")
    found = []
    if "condition" not in frame:
        frame = frame.assign(condition="")
    for (_, _, attribute), part in frame.groupby(
            ["seed", "condition", "attribute"]):
        key = {label: k for label, k, _ in table_metrics(attribute)}[metric]
        values = part.set_index("method")[key].astype(float)
        if set(methods) <= set(values.index) and values[methods].notna().all():
            found.append(values[methods].to_numpy())
    if len(found) < 2:
        raise ValueError(f"ranks needs at least two (seed, attribute) blocks "
                         f"where every method has {metric}; got "
                         f"{len(found)}.")
    x = np.array(found)
    stat, p = stats.friedmanchisquare(*x.T)
    order = x if lower_better else -x
    r = np.apply_along_axis(stats.rankdata, 1, order)
    k, n = len(methods), len(found)
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2)
    cd = float(q * np.sqrt(k * (k + 1) / (6 * n)))
    return Ranks(metric, float(stat), float(p),
                 dict(zip(methods, r.mean(axis=0).tolist())), cd, n, alpha)


def mechanism(frame: pd.DataFrame, *, baseline: str) -> pd.DataFrame:
    """Does the similarity W1 of the trained attribute's groups go down
    against ``baseline``, and does ES-AUC follow? Per (attribute, method,
    seed): the summed ``similarity_w1_<a>_*`` and ES-AUC, minus the
    baseline's on the same seed (and condition)."""
    rows = []
    for (condition, attribute), part in blocks(frame):
        w1 = [c for c in part.columns
              if c.startswith(f"similarity_w1_{attribute}_")]
        total = part[w1].sum(axis=1, min_count=1)
        part = part.assign(w1=total)
        base = part[part["method"] == baseline].set_index("seed")
        for _, row in part[part["method"] != baseline].iterrows():
            if row["seed"] not in base.index:
                continue
            ref = base.loc[row["seed"]]
            rows.append((condition, attribute, row["method"], row["seed"],
                         row["w1"] - ref["w1"],
                         row[f"es_auc_{attribute}"]
                         - ref[f"es_auc_{attribute}"]))
    return pd.DataFrame(rows, columns=["condition", "attribute", "method",
                                       "seed", "w1_change", "es_auc_change"])


def flat_metrics(diffs: pd.DataFrame, *, n_runs: int,
                 gaps: pd.DataFrame | None = None) -> dict:
    """06's ``metrics.json``: ``n_runs``, and for each row of
    :func:`differences` ``diff_``, ``holm_p_`` and ``verdict_`` +
    ``<method>_<attribute>_<metric slug>`` (e.g.
    ``diff_fairclip_race_es_auc``), with ``_<condition slug>`` after the
    attribute where the row has a condition (``..._race_bias_0_5_...``);
    with ``gaps`` (:func:`gap_response`) also ``gap_diff_``,
    ``gap_reduction_`` and ``gap_verdict_`` + ``<method>_<attribute>[_
    <condition slug>]``."""
    out: dict = {"n_runs": int(n_runs), "n_differences": len(diffs),
                 "n_not_within_noise": int(
                     (~diffs["verdict"].isin(["within noise",
                                              "undefined"])).sum())}
    for row in diffs.itertuples():
        where = (f"{row.attribute}_{group_slug(row.condition)}"
                 if getattr(row, "condition", "") else row.attribute)
        key = f"{row.method}_{where}_{group_slug(row.metric)}"
        out[f"diff_{key}"] = row.diff
        out[f"holm_p_{key}"] = row.holm_p
        out[f"verdict_{key}"] = row.verdict
    for row in (gaps.itertuples() if gaps is not None else ()):
        where = (f"{row.attribute}_{group_slug(row.condition)}"
                 if row.condition else row.attribute)
        out[f"gap_diff_{row.method}_{where}"] = row.diff
        out[f"gap_reduction_{row.method}_{where}"] = row.reduction
        out[f"gap_verdict_{row.method}_{where}"] = row.verdict
    return out


from .selection import SELECTION_RULES, select, validation_scores  # noqa

__all__ = ["DIFFERENCE_COLUMNS", "Ranks", "SELECTION_RULES", "blocks",
           "collect", "differences", "flat_metrics", "gap_metrics",
           "gap_response", "mechanism", "posthoc_rows", "ranks",
           "seed_table", "select",
           "table_metrics", "too_few_seeds", "validation_scores",
           "wide_table"]
