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
    "attribute", "method", "metric", "baseline", "value", "diff", "n_seeds",
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


def collect(runs: Sequence[str | Path], *, axes: Sequence[str] = ()
            ) -> pd.DataFrame:
    """One row per 03 run folder: ``run``, ``method``, ``seed``,
    ``attribute`` (the one trained), ``setting`` (the values of the grid
    ``axes`` besides those, e.g. ``"fair_weight=10.0"``; empty without
    axes), then every number of its ``metrics.json``."""
    rows = []
    for path in map(Path, runs):
        params = json.loads((path / "params.json").read_text())
        metrics = json.loads((path / "metrics.json").read_text())
        numbers = {k: (np.nan if v is None else v) for k, v in
                   metrics.items() if isinstance(v, (int, float, type(None)))
                   and k != "schema_version"}
        setting = ",".join(f"{k}={params.get(k)}" for k in axes)
        rows.append({"run": str(path), "method": params["method"],
                     "seed": int(params["seed"]),
                     "attribute": params["attribute"], "setting": setting,
                     **numbers})
    if not rows:
        raise ValueError("collect needs at least one run folder.")
    return pd.DataFrame(rows)


def seed_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation (ddof 1) over seeds: one row per
    (attribute, method, metric) in Table 3 order, with ``n_seeds``."""
    rows = []
    for attribute, part in frame.groupby("attribute", sort=False):
        for method, runs in part.groupby("method", sort=False):
            for label, key, _ in table_metrics(attribute):
                values = runs[key].astype(float) if key in runs else \
                    pd.Series([np.nan] * len(runs))
                rows.append((attribute, method, label, values.mean(),
                             values.std(ddof=1) if len(values) > 1 else np.nan,
                             int(values.notna().sum())))
    return pd.DataFrame(rows, columns=["attribute", "method", "metric",
                                       "mean", "std", "n_seeds"])


def wide_table(table: pd.DataFrame, *, digits: int = 3) -> pd.DataFrame:
    """:func:`seed_table` as the paper prints it: ``mean ± std`` strings,
    rows (attribute, method), columns the metrics."""
    def cell(row):
        if np.isnan(row["mean"]):
            return "–"
        if np.isnan(row["std"]):
            return f"{row['mean']:.{digits}f}"
        return f"{row['mean']:.{digits}f} ± {row['std']:.{digits}f}"
    shown = table.assign(cell=table.apply(cell, axis=1))
    order = list(dict.fromkeys(table["metric"]))
    out = shown.pivot_table(index=["attribute", "method"], columns="metric",
                            values="cell", aggfunc="first", sort=False)
    return out[[m for m in order if m in out.columns]]


def _predictions(path: str):
    from .predictions import Predictions
    return Predictions.load(Path(path) / "predictions.npz")


def differences(frame: pd.DataFrame, *, baseline: str, n_boot: int = 2000,
                seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Every Table 3 metric of every method against ``baseline``, per
    attribute, on the seeds both have: the per-seed t interval
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
    for attribute, part in frame.groupby("attribute", sort=False):
        base = part[part["method"] == baseline].set_index("seed")
        for method, runs in part.groupby("method", sort=False):
            if method == baseline:
                continue
            runs = runs.set_index("seed")
            seeds = sorted(set(base.index) & set(runs.index))
            if not seeds:
                continue
            preds_a = [_predictions(base.loc[s, "run"]) for s in seeds]
            preds_b = [_predictions(runs.loc[s, "run"]) for s in seeds]
            layout = table_metrics(attribute)
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
                    "attribute": attribute, "method": method,
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
    attribute) that every method has; mean ranks and the Nemenyi critical
    difference :math:`q_\alpha \sqrt{k(k+1)/(6N)}`, with :math:`q_\alpha`
    the studentized range quantile over :math:`\sqrt 2` (Demšar, JMLR
    2006). Needs three or more methods.
    """
    from scipy import stats

    methods = list(dict.fromkeys(frame["method"]))
    if len(methods) < 3:
        raise ValueError(f"ranks needs three or more methods; got "
                         f"{methods}.")
    lower_better = metric in ("DPD", "DEOdds")
    blocks = []
    for (_, attribute), part in frame.groupby(["seed", "attribute"]):
        key = {label: k for label, k, _ in table_metrics(attribute)}[metric]
        values = part.set_index("method")[key].astype(float)
        if set(methods) <= set(values.index) and values[methods].notna().all():
            blocks.append(values[methods].to_numpy())
    if len(blocks) < 2:
        raise ValueError(f"ranks needs at least two (seed, attribute) blocks "
                         f"where every method has {metric}; got "
                         f"{len(blocks)}.")
    x = np.array(blocks)
    stat, p = stats.friedmanchisquare(*x.T)
    order = x if lower_better else -x
    r = np.apply_along_axis(stats.rankdata, 1, order)
    k, n = len(methods), len(blocks)
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2)
    cd = float(q * np.sqrt(k * (k + 1) / (6 * n)))
    return Ranks(metric, float(stat), float(p),
                 dict(zip(methods, r.mean(axis=0).tolist())), cd, n, alpha)


def mechanism(frame: pd.DataFrame, *, baseline: str) -> pd.DataFrame:
    """Does the similarity W1 of the trained attribute's groups go down
    against ``baseline``, and does ES-AUC follow? Per (attribute, method,
    seed): the summed ``similarity_w1_<a>_*`` and ES-AUC, minus the
    baseline's on the same seed."""
    rows = []
    for attribute, part in frame.groupby("attribute", sort=False):
        w1 = [c for c in part.columns
              if c.startswith(f"similarity_w1_{attribute}_")]
        total = part[w1].sum(axis=1, min_count=1)
        part = part.assign(w1=total)
        base = part[part["method"] == baseline].set_index("seed")
        for _, row in part[part["method"] != baseline].iterrows():
            if row["seed"] not in base.index:
                continue
            ref = base.loc[row["seed"]]
            rows.append((attribute, row["method"], row["seed"],
                         row["w1"] - ref["w1"],
                         row[f"es_auc_{attribute}"]
                         - ref[f"es_auc_{attribute}"]))
    return pd.DataFrame(rows, columns=["attribute", "method", "seed",
                                       "w1_change", "es_auc_change"])


def flat_metrics(diffs: pd.DataFrame, *, n_runs: int) -> dict:
    """06's ``metrics.json``: ``n_runs``, and for each row of
    :func:`differences` ``diff_``, ``holm_p_`` and ``verdict_`` +
    ``<method>_<attribute>_<metric slug>`` (e.g.
    ``diff_fairclip_race_es_auc``)."""
    out: dict = {"n_runs": int(n_runs), "n_differences": len(diffs),
                 "n_not_within_noise": int(
                     (~diffs["verdict"].isin(["within noise",
                                              "undefined"])).sum())}
    for row in diffs.itertuples():
        key = f"{row.method}_{row.attribute}_{group_slug(row.metric)}"
        out[f"diff_{key}"] = row.diff
        out[f"holm_p_{key}"] = row.holm_p
        out[f"verdict_{key}"] = row.verdict
    return out


from .selection import SELECTION_RULES, select, validation_scores  # noqa

__all__ = ["DIFFERENCE_COLUMNS", "Ranks", "SELECTION_RULES", "collect",
           "differences", "flat_metrics", "select", "validation_scores",
           "mechanism", "ranks", "seed_table", "table_metrics",
           "too_few_seeds", "wide_table"]
