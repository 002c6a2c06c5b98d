r"""Uncertainty of a difference between two methods over seeds, over Test
samples, and over both at once; multiplicity control.

A comparison of method *b* with a baseline *a* trained with the same seeds
(seed *j* of *a* pairs with seed *j* of *b*) and scored on the same Test
samples has two sources of noise: the seed (initialisation, batches) and
the finite Test set. fairnb reports three intervals for every difference
:math:`\Delta = m_b - m_a`:

- ``seeds``: the per-seed differences :math:`d_j`, their mean with a
  Student-t interval (MEDFAIR's "95 % CI" over three seeds is
  :math:`1.96\,\mathrm{SEM}`, too narrow for so few);
- ``samples``: the paired bootstrap over Test samples of the
  seed-averaged difference (with one seed, :func:`fairnb.metrics.compare`);
- ``both``: seeds and samples together, the verdict's interval:
  :math:`\bar d \pm t_{K-1}\sqrt{s_d^2/K + v_\mathrm{samples}}` with
  :math:`v_\mathrm{samples}` the variance of the ``samples`` bootstrap and
  *K* - 1 degrees of freedom, so that three seeds give the wide interval
  they deserve;
- ``two_level``: the two-level percentile bootstrap
  (:func:`two_level_bootstrap`: one Test resample per replicate, then the
  seeds with replacement), reported beside it. With few seeds it is too
  narrow (resampling *K* seeds shrinks their variance by (*K* - 1)/*K* and
  has no t correction), so it never gives the verdict. Measured with no
  true difference (100 trials, seed noise dominant, 5 % level): the
  two-level bootstrap rejected in 25 / 10 / 12 % of trials with 2 / 3 / 6
  seeds, the samples-only interval (which ignores the seed) in 52-58 %,
  the combined interval in 0 / 1 / 5 %.

Verdicts over a whole table are Holm-adjusted (:func:`holm`). With few
seeds no test can reject: the exact two-sided Wilcoxon signed-rank test on
*n* pairs never goes below :math:`2/2^n` (:func:`signed_rank_floor`: 0.25
for three seeds); :func:`seeds_needed` says how many seeds the observed
spread would need.

Used in: 06_compare_methods.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import _bootstrap as bs
from .attributes import UNKNOWN, code_to_name, group_codes

#: how a :class:`Difference` was computed
SOURCES = ("seeds", "samples", "both", "two_level")


@dataclass(frozen=True)
class Difference:
    """One difference ``b - a`` with its interval and two-sided p-value."""

    metric: str
    source: str
    diff: float
    low: float
    high: float
    p_value: float
    n_seeds: int

    @property
    def verdict(self) -> str:
        """'better' / 'worse' / 'higher' / 'lower' / 'within noise' /
        'undefined' (:func:`fairnb._bootstrap.verdict`)."""
        return bs.verdict(self.metric.split(":")[0], self.low, self.high)


def seed_difference(a: Sequence[float], b: Sequence[float], *,
                    metric: str = "auc", level: float = 0.95) -> Difference:
    r"""Mean of the per-seed differences :math:`d_j = b_j - a_j` with a
    Student-t interval :math:`\bar d \pm t_{(1+\ell)/2,\,n-1}\,s_d/\sqrt n`
    and the paired t-test's p-value; NaN with fewer than two seeds.

    Examples
    --------
    >>> d = seed_difference([0.70, 0.72, 0.71], [0.74, 0.75, 0.73])
    >>> round(d.diff, 4), d.n_seeds, d.verdict
    (0.03, 3, 'better')
    """
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"seed_difference needs two equal-length 1-D "
                         f"sequences, paired by seed; got {a.shape} and "
                         f"{b.shape}.")
    d = b - a
    n = int(np.sum(~np.isnan(d)))
    d = d[~np.isnan(d)]
    if n < 2:
        mean = float(d.mean()) if n else np.nan
        return Difference(metric, "seeds", mean, np.nan, np.nan, np.nan, n)
    sem = float(d.std(ddof=1) / np.sqrt(n))
    half = float(stats.t.ppf((1 + level) / 2, n - 1)) * sem
    mean = float(d.mean())
    if sem == 0:
        p = 1.0 if mean == 0 else 0.0
    else:
        p = float(2 * stats.t.sf(abs(mean) / sem, n - 1))
    return Difference(metric, "seeds", mean, mean - half, mean + half, p, n)


def _key(metric: str, attribute: str) -> tuple[str, str]:
    """``"auc"`` -> ("all", "auc"); ``"auc:Black"`` -> ("Black", "auc")
    (a group's metric); between-group metrics -> ("all", metric)."""
    name, _, group = metric.partition(":")
    if name not in (*bs.GROUP_METRICS, *bs.BETWEEN_METRICS):
        raise ValueError(
            f"Unknown metric {name!r}; choose one of "
            f"{', '.join((*bs.GROUP_METRICS, *bs.BETWEEN_METRICS))}, or "
            "'<metric>:<group name>' for one group (e.g. 'auc:Black').")
    return (group or "all"), name


def _bootstrap_p(reps: np.ndarray) -> float:
    """Two-sided bootstrap p-value: twice the smaller tail at 0, counted
    as (k + 1) / (B + 1) so that B replicates never claim p = 0
    (Davison & Hinkley 1997, §4.2)."""
    reps = reps[~np.isnan(reps)]
    if reps.size == 0:
        return np.nan
    tail = min(np.sum(reps <= 0), np.sum(reps >= 0))
    return float(min(1.0, 2 * (tail + 1) / (reps.size + 1)))


def two_level_bootstrap(runs_a, runs_b, *, attribute: str,
                        metric: str = "auc", threshold: float = 0.5,
                        n_boot: int = 2000, seed: int = 0,
                        level: float = 0.95,
                        resample_seeds: bool = True) -> Difference:
    r"""The difference ``b - a`` of ``metric`` averaged over seeds, with
    an interval that resamples Test samples and (``resample_seeds``)
    seeds.

    ``runs_a[j]`` and ``runs_b[j]`` are the :class:`~fairnb.Predictions`
    of seed *j*, all on the same Test samples (ids and order). Replicate
    *r* draws one Test resample, stratified by (group, label) as
    :func:`fairnb.metrics.group_report` does, and shares it between both
    methods and every seed, because every seed was scored on the same
    Test set; then it draws *K* seeds with replacement and averages their
    differences :math:`D_{r,j} = m_b^{(j)*r} - m_a^{(j)*r}`. Without
    seed resampling (``source="samples"``) the *K* seeds are averaged as
    they are; with one seed, and an attribute without Unknown samples,
    that is :func:`fairnb.metrics.compare`'s paired bootstrap, replicate
    for replicate (Unknown samples form cells of their own here, which
    draw from the random stream first). As in ``metrics.json``, a
    metric of all samples (``auc``) covers every sample, while a group's
    and the between-group metrics leave out the samples Unknown for
    ``attribute`` (as the group report does). ``metric``: a group metric
    (``auc``, ``acc``, ...) of all samples, ``"<metric>:<group>"`` of one
    group, or a between-group metric (``es_auc``, ``dpd``, ...).

    The point value is the mean over seeds of the full-sample
    differences; the interval the percentile one; the p-value twice the
    smaller bootstrap tail at 0.
    """
    out = bootstrap_differences(
        runs_a, runs_b, attribute=attribute, metrics=[metric],
        threshold=threshold, n_boot=n_boot, seed=seed, level=level)[metric]
    return out["two_level" if resample_seeds else "samples"]


def bootstrap_differences(runs_a, runs_b, *, attribute: str,
                          metrics: Sequence[str], threshold: float = 0.5,
                          n_boot: int = 2000, seed: int = 0,
                          level: float = 0.95
                          ) -> dict[str, dict[str, Difference]]:
    """Every interval but ``seeds`` for several metrics from one set of
    resamples: metric -> {"samples", "two_level", "both"} (module
    docstring). Each run is evaluated once per resample for every
    metric."""
    runs_a, runs_b = list(runs_a), list(runs_b)
    if not runs_a or len(runs_a) != len(runs_b):
        raise ValueError(f"two_level_bootstrap needs the same number of "
                         f"seeds for a and b; got {len(runs_a)} and "
                         f"{len(runs_b)}.")
    first = runs_a[0]
    for pred in runs_a + runs_b:
        if not (np.array_equal(pred.ids, first.ids)
                and np.array_equal(pred.y_true, first.y_true)):
            raise ValueError("every run must be scored on the same Test "
                             "samples in the same order (ids and labels).")
    keys = {m: _key(m, attribute) for m in metrics}
    codes = np.asarray(first.attributes[attribute]).astype(np.int64)
    y = np.asarray(first.y_true).astype(np.int64)
    known = codes != UNKNOWN
    names = {c: code_to_name(attribute, c) for c in group_codes(attribute)}
    rng = np.random.default_rng(seed)
    # drawn first, as group_report draws them: the same seed pairs up
    W = np.vstack([np.ones((1, y.size)),
                   bs.resample_counts(2 * codes + y, n_boot, rng)])
    k = len(runs_a)
    D = {m: np.empty((n_boot + 1, k)) for m in metrics}
    for j in range(k):
        values = []
        for pred in (runs_a[j], runs_b[j]):
            s = np.asarray(pred.y_score, float)
            p = (s >= threshold).astype(np.int64)
            everyone = bs.replicate_stats(W, y, s, p, codes, names)
            part = bs.replicate_stats(W[:, known], y[known], s[known],
                                      p[known], codes[known], names)
            # as metrics.json: auc, acc, ... of all samples over every
            # sample; a group's and the between-group metrics over the
            # known ones
            values.append({m: (everyone if key[0] == "all" and key[1] in
                               bs.GROUP_METRICS else part)[key]
                           for m, key in keys.items()})
        for m in metrics:
            D[m][:, j] = values[1][m] - values[0][m]
    draws = rng.integers(0, k, (n_boot, k))
    out = {}
    for m in metrics:
        point = float(D[m][0].mean())
        found = {}
        for source, reps in (
                ("two_level", np.take_along_axis(D[m][1:], draws, 1)
                 .mean(1)),
                ("samples", D[m][1:].mean(1))):
            low, high = bs.percentile_ci(reps, level)
            found[source] = Difference(m, source, point, low, high,
                                       _bootstrap_p(reps), k)
        found["both"] = combined_difference(D[m][0], D[m][1:].mean(1),
                                            metric=m, level=level)
        out[m] = found
    return out


def combined_difference(per_seed, sample_reps, *, metric: str = "auc",
                        level: float = 0.95) -> Difference:
    r"""Seeds and Test samples together: the mean of the per-seed
    full-sample differences :math:`d_j`, with
    :math:`\bar d \pm t_{(1+\ell)/2,\,K-1}\,\sqrt{s_d^2/K + v}`, *v*
    the variance of the seed-averaged difference over Test resamples
    (``sample_reps``); the p-value from the same t. NaN with one seed
    (no seed variance to estimate).

    Examples
    --------
    >>> d = combined_difference([0.02, 0.03, 0.025], [0.024, 0.026, 0.025])
    >>> round(d.diff, 3), d.verdict
    (0.025, 'better')
    """
    from scipy import stats

    d = np.asarray(per_seed, float)
    d = d[~np.isnan(d)]
    k = d.size
    reps = np.asarray(sample_reps, float)
    reps = reps[~np.isnan(reps)]
    mean = float(d.mean()) if k else np.nan
    if k < 2 or reps.size < 2:
        return Difference(metric, "both", mean, np.nan, np.nan, np.nan, k)
    se = float(np.sqrt(d.var(ddof=1) / k + reps.var(ddof=1)))
    if se == 0:
        p = 1.0 if mean == 0 else 0.0
        return Difference(metric, "both", mean, mean, mean, p, k)
    half = float(stats.t.ppf((1 + level) / 2, k - 1)) * se
    p = float(2 * stats.t.sf(abs(mean) / se, k - 1))
    return Difference(metric, "both", mean, mean - half, mean + half, p, k)


def holm(p_values: Sequence[float]) -> np.ndarray:
    r"""Holm's step-down adjusted p-values (NaN stays NaN and is not
    counted): with the *m* defined p-values sorted,
    :math:`\tilde p_{(i)} = \max_{j \le i} \min\{1, (m - j + 1)\,p_{(j)}\}`.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    order = ok[np.argsort(p[ok], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def signed_rank_floor(n_seeds: int) -> float:
    """The smallest two-sided p-value the exact Wilcoxon signed-rank test
    can give on ``n_seeds`` pairs: every difference of one sign, 2 / 2**n.

    Examples
    --------
    >>> signed_rank_floor(3), signed_rank_floor(6)
    (0.25, 0.03125)
    """
    return min(1.0, 2.0 / 2 ** int(n_seeds))


def seeds_needed(diffs: Sequence[float], *, level: float = 0.95,
                 limit: int = 1000) -> int | None:
    r"""How many seeds the t interval of :func:`seed_difference` would need
    to exclude 0 if the mean and spread of ``diffs`` held: the smallest
    :math:`n \ge 2` with :math:`t_{(1+\ell)/2,\,n-1}\,s/\sqrt n < |\bar d|`.
    None when the mean is 0, there is no spread estimate (fewer than two
    values), or more than ``limit`` would be needed.
    """
    from scipy import stats

    d = np.asarray(diffs, float)
    d = d[~np.isnan(d)]
    if d.size < 2 or d.mean() == 0:
        return None
    sd, mean = d.std(ddof=1), abs(d.mean())
    if sd == 0:
        return 2
    for n in range(2, limit + 1):
        if stats.t.ppf((1 + level) / 2, n - 1) * sd / np.sqrt(n) < mean:
            return n
    return None


__all__ = ["Difference", "SOURCES", "bootstrap_differences",
           "combined_difference", "holm",
           "seed_difference",
           "seeds_needed", "signed_rank_floor", "two_level_bootstrap"]
