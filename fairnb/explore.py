"""Dataset exploration: group counts, label prevalence with CIs, lengths.

All functions take the reader's metadata table (one row per sample,
columns ``split``, ``label``, ``age``, ``note`` and one integer-code column
per attribute) and return tidy pandas tables.

Used in: 01_explore_data.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from .attributes import (
    SCHEMA,
    UNKNOWN,
    code_to_name,
    group_slug,
    parse_attributes,
)
from .notes import CLIP_CONTEXT, count_tokens, count_words


def _codes(attribute: str, present) -> list[int]:
    codes = sorted(SCHEMA[attribute])
    return codes + [UNKNOWN] if UNKNOWN in set(present) else codes


def group_counts(meta: pd.DataFrame, attributes: Sequence[str]
                 ) -> pd.DataFrame:
    """Counts and shares of every group per split.

    Returns columns ``split, attribute, group, code, n, share``; groups of
    the schema absent from a split appear with ``n = 0``.
    """
    rows = []
    for split, part in meta.groupby("split", sort=False):
        for a in parse_attributes(attributes):
            counts = part[a].value_counts()
            for code in _codes(a, meta[a]):
                n = int(counts.get(code, 0))
                rows.append((split, a, code_to_name(a, code), code, n,
                             n / len(part)))
    return pd.DataFrame(rows, columns=["split", "attribute", "group", "code",
                                       "n", "share"])


def wilson_interval(k: int, n: int, *, level: float = 0.95
                    ) -> tuple[float, float]:
    """Wilson score interval for a proportion ``k / n`` (NaN when n = 0)."""
    if n == 0:
        return float("nan"), float("nan")
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=level,
                                                 method="wilson")
    return float(ci.low), float(ci.high)


def label_prevalence(meta: pd.DataFrame, attributes: Sequence[str], *,
                     level: float = 0.95) -> pd.DataFrame:
    """Glaucoma prevalence per split and group with Wilson CIs.

    Returns columns ``split, attribute, group, n, positives, prevalence,
    ci_low, ci_high``.
    """
    rows = []
    for split, part in meta.groupby("split", sort=False):
        for a in parse_attributes(attributes):
            for code in _codes(a, meta[a]):
                y = part.loc[part[a] == code, "label"]
                k, n = int(y.sum()), len(y)
                low, high = wilson_interval(k, n, level=level)
                rows.append((split, a, code_to_name(a, code), n, k,
                             k / n if n else float("nan"), low, high))
    return pd.DataFrame(rows, columns=["split", "attribute", "group", "n",
                                       "positives", "prevalence", "ci_low",
                                       "ci_high"])


def note_lengths(meta: pd.DataFrame, *, column: str = "note"
                 ) -> pd.DataFrame:
    """Words and CLIP tokens per note, and whether CLIP would truncate."""
    texts = meta[column].fillna("").astype(str)
    tokens = count_tokens(texts)
    return pd.DataFrame({"id": meta["id"].to_numpy(),
                         "split": meta["split"].to_numpy(),
                         "words": count_words(texts), "tokens": tokens,
                         "over_context": tokens > CLIP_CONTEXT})


def crosstab(meta: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Counts of attribute ``a`` (rows) by attribute ``b`` (columns),
    with group names."""
    rows = meta[a].map(lambda c: code_to_name(a, c))
    cols = meta[b].map(lambda c: code_to_name(b, c))
    table = pd.crosstab(rows, cols)
    order = lambda att, present: [code_to_name(att, c)  # noqa: E731
                                  for c in _codes(att, meta[att])
                                  if code_to_name(att, c) in present]
    return table.loc[order(a, table.index), order(b, table.columns)]


def exploration_metrics(meta: pd.DataFrame, attributes: Sequence[str]
                        ) -> dict[str, float]:
    """Flat keys for ``metrics.json``: ``n_<split>``,
    ``count_<split>_<attribute>_<group>`` and
    ``prevalence_<split>_<attribute>_<group>`` (None when a group is empty).
    """
    out: dict[str, float] = {}
    for split, part in meta.groupby("split", sort=False):
        out[f"n_{split}"] = len(part)
        out[f"prevalence_{split}"] = float(part["label"].mean())
    prev = label_prevalence(meta, attributes)
    for r in prev.itertuples():
        key = f"{r.split}_{r.attribute}_{group_slug(r.group)}"
        out[f"count_{key}"] = int(r.n)
        out[f"prevalence_{key}"] = (None if r.n == 0
                                    else float(r.prevalence))
    return out


def sample_examples(meta: pd.DataFrame, attribute: str, *, per_cell: int = 4,
                    seed: int = 0) -> pd.DataFrame:
    """Up to ``per_cell`` random samples per (group, label) cell."""
    rng = np.random.default_rng(seed)
    picks = []
    for (_, _), part in meta.groupby([attribute, "label"], sort=True):
        idx = rng.choice(len(part), size=min(per_cell, len(part)),
                         replace=False)
        picks.append(part.iloc[np.sort(idx)])
    return pd.concat(picks) if picks else meta.iloc[:0]
