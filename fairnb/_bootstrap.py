"""Vectorised kernels behind :func:`fairnb.metrics.group_report`.

Every statistic is computed for a stack of sample weights ``W`` of shape
(m, n): row 0 is all ones (the point estimate) and rows 1..m-1 are the
multiplicities of a stratified bootstrap resample. Point values and
resamples therefore share one code path, and no resample is looped over in
Python. Definitions: shared/METHODS.md §0.3.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Metrics of every group (and of "all"), in report order.
GROUP_METRICS = ("auc", "acc", "tpr", "fpr", "positive_rate", "ece")
#: Between-group metrics, the names of ``summarize``'s ``<key>_<a>``.
BETWEEN_METRICS = ("es_auc", "es_acc", "dpd", "deodds",
                   "auc_std_disparity", "auc_max_disparity")
HIGHER_IS_BETTER = frozenset({"auc", "acc", "es_auc", "es_acc"})
LOWER_IS_BETTER = frozenset({"ece", "dpd", "deodds", "auc_std_disparity",
                             "auc_max_disparity"})
#: Proportions whose interval is Wilson's, with their denominator.
RATE_DENOMINATORS = {"acc": "n", "positive_rate": "n", "tpr": "n_pos",
                     "fpr": "n_neg"}
COUNTS = ("n", "n_pos", "n_neg")
N_BINS = 10


def resample_counts(cells: np.ndarray, n_boot: int,
                    rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) multiplicities of a bootstrap stratified by ``cells``.

    Each cell keeps its size in every resample. Cells are drawn in sorted
    order, so equal ``cells`` and seed give equal resamples (pairing).
    """
    counts = np.empty((n_boot, cells.size))
    rows = np.arange(n_boot)[:, None]
    for c in np.unique(cells):
        members = np.flatnonzero(cells == c)
        k = members.size
        draw = rng.integers(0, k, (n_boot, k)) + k * rows
        counts[:, members] = np.bincount(
            draw.ravel(), minlength=n_boot * k).reshape(n_boot, k)
    return counts


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def weighted_auc(W: np.ndarray, y: np.ndarray, s: np.ndarray) -> np.ndarray:
    r"""(m,) Mann-Whitney AUC of every weight row, ties counted as 1/2.

    .. math:: \mathrm{AUC} = \frac{\sum_{i: y_i=1} w_i \bigl(\sum_{j:
              y_j=0, s_j<s_i} w_j + \frac12 \sum_{j: y_j=0, s_j=s_i}
              w_j\bigr)}{\sum_{y_i=1} w_i \sum_{y_j=0} w_j}

    One sort of the negatives serves all rows: with ``C`` the cumulative
    negative weight in score order, a positive scores
    ``(C[below] + C[below or tied]) / 2`` (midranks), so the cost is
    O(m n) after an O(n log n) sort.
    """
    neg = np.flatnonzero(y == 0)
    neg = neg[np.argsort(s[neg], kind="stable")]
    pos = np.flatnonzero(y == 1)
    C = np.zeros((W.shape[0], neg.size + 1))
    np.cumsum(W[:, neg], axis=1, out=C[:, 1:])
    lo = np.searchsorted(s[neg], s[pos], side="left")
    hi = np.searchsorted(s[neg], s[pos], side="right")
    Wp = W[:, pos]
    wins = 0.5 * np.sum(Wp * (C[:, lo] + C[:, hi]), axis=1)
    return _ratio(wins, Wp.sum(1) * C[:, -1])


def _group_stats(W, y, s, p) -> dict[str, np.ndarray]:
    """(m,) arrays of :data:`GROUP_METRICS`, ``n`` and fairlearn's
    zero-filled ``tpr0``/``fpr0`` for the samples in ``W``'s columns."""
    bins = np.clip(np.floor(s * N_BINS), 0, N_BINS - 1).astype(np.int64)
    gap = np.zeros((s.size, N_BINS))
    gap[np.arange(s.size), bins] = s - y  # ECE: |sum(s - y)| per bin / n
    cols = np.column_stack([np.ones_like(y), y, 1 - y, y == p, p, y * p,
                            (1 - y) * p]).astype(np.float64)
    n, n_pos, n_neg, hit, sel, tp, fp = (W @ cols).T
    ece = np.abs(W @ gap).sum(1)
    out = {"n": n, "n_pos": n_pos, "n_neg": n_neg,
           "auc": weighted_auc(W, y, s), "acc": _ratio(hit, n),
           "tpr": _ratio(tp, n_pos), "fpr": _ratio(fp, n_neg),
           "positive_rate": _ratio(sel, n), "ece": _ratio(ece, n)}
    out["tpr0"] = np.where(n_pos > 0, out["tpr"], 0.0)
    out["fpr0"] = np.where(n_neg > 0, out["fpr"], 0.0)
    return out


def _equity_scaled(overall, by_group) -> np.ndarray:
    return overall / (1.0 + np.abs(by_group - overall[:, None]).sum(1))


def _between(overall, groups: list[dict]) -> dict[str, np.ndarray]:
    """Between-group metrics over groups with samples (``groups``).

    The set of groups with a defined AUC is the same in every row, as the
    resampling keeps each (group, label) cell's size.
    """
    def stack(key):
        return np.column_stack([g[key] for g in groups])

    aucs = stack("auc")
    aucs = aucs[:, ~np.isnan(aucs).any(axis=0)]
    spread = aucs.shape[1] >= 2
    nan = np.full(overall["auc"].shape, np.nan)
    return {
        "es_auc": _equity_scaled(overall["auc"], aucs),
        "es_acc": _equity_scaled(overall["acc"], stack("acc")),
        "dpd": np.ptp(stack("positive_rate"), axis=1),
        "deodds": np.maximum(np.ptp(stack("tpr0"), axis=1),
                             np.ptp(stack("fpr0"), axis=1)),
        # relative to the overall AUC: NaN where that is 0
        "auc_std_disparity": (_ratio(aucs.std(1), overall["auc"])
                              if spread else nan),
        "auc_max_disparity": (_ratio(np.ptp(aucs, axis=1), overall["auc"])
                              if spread else nan),
    }


def replicate_stats(W, y, s, p, g, codes: dict[int, str]
                    ) -> dict[tuple[str, str], np.ndarray]:
    """(m,) arrays keyed ``(group, metric)``; group ``"all"`` holds the
    overall and between-group metrics. ``codes`` maps listed group codes
    to names; listed groups without samples get NaN."""
    overall = _group_stats(W, y, s, p)
    out = {("all", k): overall[k] for k in (*COUNTS, *GROUP_METRICS)}
    present = []
    for code, name in codes.items():
        m = g == code
        stats = _group_stats(W[:, m], y[m], s[m], p[m])
        out.update({(name, k): stats[k]
                    for k in (*COUNTS, *GROUP_METRICS)})
        if m.any():
            present.append(stats)
    between = (_between(overall, present) if len(present) >= 2 else
               dict.fromkeys(BETWEEN_METRICS, np.full(W.shape[0], np.nan)))
    out.update({("all", k): v for k, v in between.items()})
    return out


def percentile_ci(x: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval of the bootstrap values ``x`` (NaN if any is
    NaN or there are none)."""
    if x.size == 0 or np.isnan(x).any():
        return np.nan, np.nan
    tail = (1.0 - level) / 2
    lo, hi = np.quantile(x, [tail, 1.0 - tail])
    return float(lo), float(hi)


def wilson_ci(p: float, n: float, level: float) -> tuple[float, float]:
    r"""Wilson score interval of a proportion ``p`` of ``n`` trials.

    .. math:: \frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n
              + z^2/4n^2}}{1 + z^2/n}

    Used for rates instead of the percentile bootstrap, which collapses
    to a point at 0 or 1 and under-covers near them in small groups
    (Brown, Cai & DasGupta, Stat. Sci. 2001). NaN when ``n`` is 0.
    """
    if not n or np.isnan(p):
        return np.nan, np.nan
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + level / 2))
    den = 1.0 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return float(max(0.0, mid - half)), float(min(1.0, mid + half))


def _interval(key, reps, point, level) -> tuple[float, float]:
    group, metric = key
    if metric in RATE_DENOMINATORS and reps.size:
        return wilson_ci(point[key], point[group, RATE_DENOMINATORS[metric]],
                         level)
    return percentile_ci(reps, level)


def verdict(metric: str, low: float, high: float) -> str:
    """'within noise' if [low, high] holds 0, else the direction of b - a:
    'better'/'worse' for metrics with a preferred direction, otherwise
    'higher'/'lower'."""
    if np.isnan(low) or np.isnan(high):
        return "undefined"
    if low <= 0.0 <= high:
        return "within noise"
    up = low > 0
    if metric in HIGHER_IS_BETTER:
        return "better" if up else "worse"
    if metric in LOWER_IS_BETTER:
        return "worse" if up else "better"
    return "higher" if up else "lower"


#: Columns of :meth:`GroupReport.to_frame`.
REPORT_COLUMNS = ("attribute", "group", "metric", "value", "n", "ci_low",
                  "ci_high")
#: Columns of :func:`compare`.
COMPARE_COLUMNS = ("attribute", "group", "metric", "a", "b", "diff",
                   "ci_low", "ci_high", "verdict")


@dataclass(frozen=True)
class GroupReport:
    """Metrics of one attribute with bootstrap intervals (Wilson's for
    the rates ``acc, tpr, fpr, positive_rate``).

    ``overall`` and ``between`` hold point values, ``by_group`` one row per
    schema group (index: group name; columns ``n`` and
    :data:`GROUP_METRICS`), ``ci`` maps ``(group, metric)`` to
    ``(low, high)`` with group ``"all"`` for overall and between-group
    metrics. ``replicates`` keeps every resample's value for
    :func:`compare`; ``fingerprint`` identifies the samples.
    """

    attribute: str
    overall: dict[str, float]
    by_group: pd.DataFrame
    between: dict[str, float]
    ci: dict[tuple[str, str], tuple[float, float]]
    n_boot: int
    level: float
    seed: int
    threshold: float
    fingerprint: str = field(repr=False)
    replicates: dict[tuple[str, str], np.ndarray] = field(repr=False)

    def value(self, group: str, metric: str) -> float:
        """Point value of ``metric`` for ``group`` (``"all"``: overall or
        between-group)."""
        if group == "all":
            return {**self.overall, **self.between}[metric]
        return float(self.by_group.loc[group, metric])

    def keys(self) -> list[tuple[str, str]]:
        """``(group, metric)`` pairs in report order."""
        return ([("all", m) for m in (*GROUP_METRICS, *BETWEEN_METRICS)]
                + [(g, m) for g in self.by_group.index
                   for m in GROUP_METRICS])

    def to_frame(self) -> pd.DataFrame:
        """Tidy table, columns :data:`REPORT_COLUMNS`."""
        rows = []
        for g, m in self.keys():
            n = self.overall["n"] if g == "all" else self.by_group.loc[g, "n"]
            rows.append((self.attribute, g, m, self.value(g, m), int(n),
                         *self.ci[g, m]))
        return pd.DataFrame(rows, columns=list(REPORT_COLUMNS))


def fingerprint(y, codes, keep, ids) -> str:
    """SHA-1 of the labels, group codes, kept mask and ids."""
    h = hashlib.sha1()
    for part in (y, codes, keep):
        h.update(np.ascontiguousarray(part).tobytes())
    if ids is not None:
        h.update("\0".join(map(str, ids)).encode())
    return h.hexdigest()


def make_report(attribute, stats, names, *, n_boot, level, seed,
                threshold, fingerprint) -> GroupReport:
    """Split ``replicate_stats`` (row 0: point) into a report."""
    point = {k: float(v[0]) for k, v in stats.items()}
    reps = {k: v[1:] for k, v in stats.items() if k[1] not in COUNTS}
    by_group = pd.DataFrame(
        [[point[name, m] for m in ("n", *GROUP_METRICS)]
         for name in names.values()],
        index=pd.Index(list(names.values()), name="group"),
        columns=["n", *GROUP_METRICS]).astype({"n": int})
    return GroupReport(
        attribute=attribute,
        overall={"n": int(point["all", "n"]),
                 **{m: point["all", m] for m in GROUP_METRICS}},
        by_group=by_group,
        between={m: point["all", m] for m in BETWEEN_METRICS},
        ci={k: _interval(k, v, point, level) for k, v in reps.items()},
        n_boot=n_boot, level=level, seed=seed, threshold=threshold,
        fingerprint=fingerprint, replicates=reps)


def check_paired(a: GroupReport, b: GroupReport) -> None:
    """Raise unless ``a`` and ``b`` share samples and resamples."""
    if a.fingerprint != b.fingerprint or a.attribute != b.attribute:
        raise ValueError(
            "compare needs two reports of the same attribute on the same "
            "samples (ids, order, labels, groups and include_unknown); got "
            f"{a.attribute!r} and {b.attribute!r} with different samples. "
            "Compare runs evaluated on the same split of the same dataset "
            "with the same eval_mask."
            if a.attribute == b.attribute else
            f"compare needs reports of one attribute; got {a.attribute!r} "
            f"and {b.attribute!r}.")
    if (a.seed, a.n_boot, a.level) != (b.seed, b.n_boot, b.level):
        raise ValueError(
            "compare needs equal seed, n_boot and level so the resamples "
            f"pair up; got {(a.seed, a.n_boot, a.level)} and "
            f"{(b.seed, b.n_boot, b.level)}.")
