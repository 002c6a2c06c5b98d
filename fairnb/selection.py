"""Model selection on Validation for a comparison over seeds: which
setting of a method (a value of a grid axis such as ``fair_weight``) a
rule picks, from the Validation predictions each 03 run writes. Test is
never looked at.

Used in: 06_compare_methods (through :mod:`fairnb.comparison`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .attributes import group_names, group_slug
from .choices import SELECTION_RULES  # noqa: E402 (the rules of select)


def validation_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """Per run, from its ``predictions_val.npz`` (the selected epoch on
    Validation): ``val_auc`` over every sample and ``val_auc_<group>`` of
    each group of the trained attribute (NaN when undefined)."""
    import warnings

    from .metrics import summarize
    from .predictions import Predictions
    rows = []
    for run, attribute in zip(frame["run"], frame["attribute"]):
        path = Path(run) / "predictions_val.npz"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: model selection needs the Validation "
                "predictions that 03 writes (runs made before it did: "
                "re-run them, or use a grid with one setting per method).")
        pred = Predictions.load(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # small groups: NaN AUC
            m = summarize(pred.y_true, pred.y_score, attributes={
                attribute: pred.attributes[attribute]})
        groups = {g: m[f"auc_{attribute}_{group_slug(g)}"]
                  for g in group_names(attribute)}
        rows.append({"run": run, "val_auc": m["auc"],
                     **{f"val_auc_{g}": v for g, v in groups.items()}})
    return pd.DataFrame(rows)


def select(frame: pd.DataFrame, *, rule: str = "auc"
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    r"""For each (condition, attribute, method), the ``setting`` a
    Validation rule picks (scores averaged over seeds), and the runs of
    that setting.

    Rules (after MEDFAIR's, all on Validation, never on Test):

    - ``auc``: the highest overall AUC;
    - ``worst_group_auc``: the highest AUC of the worst group;
    - ``dto``: the smallest distance to the optimum, here of the group
      AUCs normalised by the best of each group over the candidates,
      :math:`\mathrm{DTO}_c = \lVert (u - a_c) / u \rVert_2` with
      :math:`u_g = \max_c a_{c,g}` (our reading).

    Groups whose AUC is undefined for some candidate are left out of
    ``worst_group_auc`` and ``dto`` alike; with none left they raise.

    Returns ``(selected runs, choices)``; ``choices`` has ``condition,
    attribute, method, setting, score, n_candidates``.
    """
    from .attributes import check_choice
    check_choice("selection rule", rule, SELECTION_RULES)
    # one row per run (a run has a row per Test condition, one Validation)
    scores = validation_scores(frame.drop_duplicates("run"))
    # 03's metrics.json has its own val_auc (the same number): use these
    data = frame.drop(columns=[c for c in scores.columns
                               if c != "run" and c in frame.columns]
                      ).merge(scores, on="run")
    if "condition" not in data:
        data = data.assign(condition="")
    keep, choices = [], []
    for (condition, attribute, method), part in data.groupby(
            ["condition", "attribute", "method"], sort=False):
        groups = [f"val_auc_{g}" for g in group_names(attribute)]
        mean = part.groupby("setting", sort=False)[["val_auc", *groups]] \
            .mean()
        # groups undefined for any candidate are left out of every rule
        defined = mean[groups].dropna(axis=1)
        if rule != "auc" and defined.shape[1] == 0:
            raise ValueError(
                f"{method}, {attribute}{', ' + condition if condition else ''}"
                ": no group has a defined Validation "
                f"AUC for every setting; rule {rule!r} cannot choose. Use "
                "selection='auc' or a larger Validation split.")
        if rule == "auc":
            score, best = mean["val_auc"], mean["val_auc"].idxmax()
        elif rule == "worst_group_auc":
            score = defined.min(axis=1)
            best = score.idxmax()
        else:
            u = defined.max(axis=0)
            score = np.sqrt((((u - defined) / u) ** 2).sum(axis=1))
            best = score.idxmin()
        keep.append(part[part["setting"] == best])
        choices.append((condition, attribute, method, best,
                        float(score[best]), len(mean)))
    chosen = pd.concat(keep)[frame.columns].reset_index(drop=True)
    return chosen, pd.DataFrame(choices, columns=[
        "condition", "attribute", "method", "setting", "score",
        "n_candidates"])


__all__ = ["SELECTION_RULES", "select", "validation_scores"]
