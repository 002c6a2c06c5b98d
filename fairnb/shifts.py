"""Fairness in and out of distribution: one trained method scored on the
same Test split under several acquisition conditions
(:mod:`fairnb.data.shift`), and the table that compares them.

Used in: 08_dualfairvl.
"""
from __future__ import annotations

from typing import Sequence


def load_conditions(ds, bundle, conditions: Sequence[str], *,
                    split: str = "test", texts=None) -> dict:
    """``{condition: SplitData}``: ``split`` of ``ds`` under each
    condition, at the resolution and with the tokenizer of ``bundle``."""
    from .data.torch import load_split
    return {c: load_split(ds, split, image_size=bundle.image_size,
                          tokenizer=bundle.tokenizer, texts=texts,
                          condition=c) for c in conditions}


def condition_file(condition: str) -> str:
    """The file a run keeps its Test predictions under ``condition`` in,
    besides ``predictions.npz`` (Test under the run's own condition)."""
    return f"predictions_{condition}.npz"


def score_conditions(score, ds, bundle, conditions: Sequence[str], *,
                     texts=None, run=None) -> dict:
    """``{condition: Predictions}``: ``score(split)`` of Test under each
    condition (``score``: a method's scoring, masked as the run masks it);
    with a ``run``, each saved as :func:`condition_file`."""
    out = {}
    for condition, split in load_conditions(ds, bundle, conditions,
                                            texts=texts).items():
        out[condition] = score(split)
        if run is not None:
            out[condition].save(run.file(condition_file(condition)))
    return out


def shift_metrics(predictions: dict, attribute: str) -> dict[str, float]:
    """Flat ``metrics.json`` entries of :func:`score_conditions`'
    output: ``shift_<condition>_auc`` and ``shift_<condition>_es_auc``
    (ES-AUC of ``attribute``)."""
    out = {}
    for _, row in condition_table(predictions, attribute).iterrows():
        out[f"shift_{row['condition']}_auc"] = row["AUC"]
        out[f"shift_{row['condition']}_es_auc"] = row["ES-AUC"]
    return out


def model_table(tables: dict):
    """:func:`condition_table` s of several models (``{model: table}``)
    as one frame with a ``model`` column first."""
    import pandas as pd
    return pd.concat([t.assign(model=m)[["model", *t.columns]]
                      for m, t in tables.items()], ignore_index=True)


def condition_table(predictions: dict, attribute: str, *,
                    reference: str | None = None):
    """One row per condition of ``predictions`` (``{condition:
    Predictions}``): AUC, ES-AUC, the group AUCs of ``attribute``, the
    largest group gap, DPD and DEOdds; with ``reference`` (the
    in-distribution condition) the change of AUC and ES-AUC from it.

    Examples
    --------
    >>> import numpy as np
    >>> from fairnb.predictions import Predictions
    >>> y = np.array([0, 1, 0, 1]); g = np.array([0, 0, 1, 1])
    >>> p = {c: Predictions(np.arange(4).astype(str), y, s, s,
    ...                     {"gender": g}) for c, s in
    ...      (("source", np.array([.1, .9, .2, .8])),
    ...       ("blur", np.array([.1, .9, .8, .2])))}
    >>> t = condition_table(p, "gender", reference="source")
    >>> t[["AUC Female", "AUC Male", "gap"]].round(2).values.tolist()
    [[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]]
    """
    import warnings

    import pandas as pd

    from .attributes import group_names, group_slug
    rows = []
    for condition, pred in predictions.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            m = pred.metrics()
        row = {"condition": condition, "AUC": m.get("auc"),
               "ES-AUC": m.get(f"es_auc_{attribute}")}
        groups = [m.get(f"auc_{attribute}_{group_slug(n)}")
                  for n in group_names(attribute)]
        for name, value in zip(group_names(attribute), groups):
            row[f"AUC {name}"] = value
        known = [v for v in groups if v is not None and v == v]
        row["gap"] = max(known) - min(known) if known else float("nan")
        row["DPD"] = m.get(f"dpd_{attribute}")
        row["DEOdds"] = m.get(f"deodds_{attribute}")
        rows.append(row)
    table = pd.DataFrame(rows)
    if reference is not None and reference in predictions:
        ref = table.set_index("condition").loc[reference]
        table["ΔAUC"] = table["AUC"] - ref["AUC"]
        table["ΔES-AUC"] = table["ES-AUC"] - ref["ES-AUC"]
    return table
