"""Linear probes on frozen features (the paper's Table 2), and attribute
probes: how much demographic signal the embeddings carry.

- ``logistic`` (default): scikit-learn, features standardised on
  Training, L2-regularised logistic regression whose ``C`` is chosen by
  Validation AUC; Test is scored once.
- ``mae``: the MAE-style probe the paper's code uses, BatchNorm (no
  affine) then one linear layer trained with LARS (timm's), the epoch
  chosen by Validation AUC.

Used in: 05_linear_probe.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .attributes import UNKNOWN

PROBES = ("logistic", "mae")
C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)


@dataclass(frozen=True)
class ProbeResult:
    """A fitted probe: Test :class:`~fairnb.Predictions`, the chosen
    hyperparameter (``C`` or epoch) and its Validation AUC per candidate."""

    test: object
    choice: float
    val_auc: dict


def _predictions(fs, score):
    from .predictions import Predictions
    return Predictions(ids=fs.ids, y_true=fs.y_true,
                       y_score=np.asarray(score, np.float64),
                       similarity=np.full(len(fs), np.nan),
                       attributes=fs.attributes)


def _auc(y, s) -> float:
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(y, s)) if len(set(y)) == 2 else np.nan


def logistic_probe(train, val, test, *, Cs=C_GRID, seed: int = 0
                   ) -> ProbeResult:
    """Standardised logistic regression, ``C`` by Validation AUC
    (the first best on ties).

    Examples
    --------
    >>> import numpy as np
    >>> from fairnb.features import FeatureSet
    >>> rng = np.random.default_rng(0)
    >>> def fs(n):
    ...     y = rng.integers(0, 2, n)
    ...     X = rng.normal(size=(n, 3)) + y[:, None]
    ...     return FeatureSet(X, y, {"race": np.zeros(n, int)}, np.arange(n))
    >>> r = logistic_probe(fs(200), fs(100), fs(100))
    >>> r.test.metrics()["auc"] > 0.8
    True
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scores, models = {}, {}
    for C in Cs:
        model = make_pipeline(StandardScaler(), LogisticRegression(
            C=C, max_iter=5000, random_state=seed))
        model.fit(train.X, train.y_true)
        scores[C] = _auc(val.y_true, model.predict_proba(val.X)[:, 1])
        models[C] = model
    best = max(Cs, key=lambda c: (np.nan_to_num(scores[c], nan=-1.0)))
    return ProbeResult(_predictions(test, models[best].predict_proba(
        test.X)[:, 1]), best, scores)


def mae_probe(train, val, test, *, epochs: int = 90, lr: float = 0.1,
              batch_size: int = 256, weight_decay: float = 0.0,
              seed: int = 0) -> ProbeResult:
    """BatchNorm1d (no affine) + Linear, cross-entropy, LARS (timm's:
    momentum 0.9, the layer-wise trust ratio on the weight, not the bias)
    with a linear warm-up and a cosine learning rate; the epoch with the
    best Validation AUC is kept, as the MAE linear-probing recipe the
    paper follows."""
    import torch
    from timm.optim import Lars

    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    X = torch.as_tensor(train.X, dtype=torch.float32)
    y = torch.as_tensor(train.y_true, dtype=torch.int64)
    head = torch.nn.Sequential(torch.nn.BatchNorm1d(X.shape[1],
                                                    affine=False),
                               torch.nn.Linear(X.shape[1], 2))
    linear = head[1]
    # LARS as MAE's probe: momentum 0.9, the trust ratio on the weight
    # (always, also without weight decay), plain momentum SGD for the bias
    opt = Lars([{"params": [linear.weight], "always_adapt": True,
                 "weight_decay": weight_decay},
                {"params": [linear.bias], "always_adapt": False,
                 "weight_decay": 0.0}], lr=lr, momentum=0.9)
    per_epoch = max(1, -(-len(X) // batch_size))
    steps, warm = epochs * per_epoch, min(10, epochs) * per_epoch // 10 or 1

    def factor(step):  # linear warm-up, then cosine
        if step < warm:
            return (step + 1) / warm
        t = (step - warm) / max(1, steps - warm)
        return 0.5 * (1 + np.cos(np.pi * t))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)

    def score(fs):
        head.eval()
        with torch.no_grad():
            logits = head(torch.as_tensor(fs.X, dtype=torch.float32))
        head.train()
        return torch.softmax(logits, 1)[:, 1].numpy()

    best, best_auc, best_state, aucs = 0, -np.inf, None, {}
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(X), generator=g)
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            if len(idx) < 2:  # BatchNorm needs two samples
                continue
            loss = torch.nn.functional.cross_entropy(head(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        aucs[epoch] = _auc(val.y_true, score(val))
        if np.nan_to_num(aucs[epoch], nan=-1.0) > best_auc:
            best, best_auc = epoch, np.nan_to_num(aucs[epoch], nan=-1.0)
            best_state = {k: v.clone() for k, v in head.state_dict().items()}
    head.load_state_dict(best_state)
    return ProbeResult(_predictions(test, score(test)), best, aucs)


def fit_probe(kind: str, train, val, test, *, seed: int = 0, **options
              ) -> ProbeResult:
    """The probe ``kind`` (:data:`PROBES`)."""
    from .attributes import check_choice
    check_choice("probe", kind, PROBES)
    fn = logistic_probe if kind == "logistic" else mae_probe
    return fn(train, val, test, seed=seed, **options)


def attribute_probes(train, test, *, attributes=None, C: float = 1.0,
                     seed: int = 0):
    """How well the features predict each protected attribute: a
    standardised (multinomial) logistic regression fitted on Training's
    known samples, its one-vs-rest macro AUC on Test's (0.5: no signal).
    Returns a DataFrame ``attribute, auc, n_groups, n_test``."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rows = []
    for a in attributes or list(train.attributes):
        tr, te = train.attributes[a] != UNKNOWN, test.attributes[a] != UNKNOWN
        classes = np.unique(train.attributes[a][tr])
        keep = te & np.isin(test.attributes[a], classes)
        if len(classes) < 2 or len(np.unique(test.attributes[a][keep])) < 2:
            rows.append((a, np.nan, len(classes), int(keep.sum())))
            continue
        model = make_pipeline(StandardScaler(), LogisticRegression(
            C=C, max_iter=5000, random_state=seed))
        model.fit(train.X[tr], train.attributes[a][tr])
        proba = model.predict_proba(test.X[keep])
        truth = test.attributes[a][keep]
        present = np.isin(classes, np.unique(truth))
        if len(classes) == 2:
            auc = roc_auc_score(truth, proba[:, 1])
        else:  # the Test classes only, probabilities renormalised
            p = proba[:, present] / proba[:, present].sum(1, keepdims=True)
            auc = (roc_auc_score(truth, p[:, 1]) if present.sum() == 2 else
                   roc_auc_score(truth, p, multi_class="ovr",
                                 labels=classes[present]))
        rows.append((a, float(auc), len(classes), int(keep.sum())))
    return pd.DataFrame(rows, columns=["attribute", "auc", "n_groups",
                                       "n_test"])


def feature_probe_table(train: dict, test: dict, attribute: str, *,
                        seed: int = 0):
    """:func:`attribute_probes` of ``attribute`` on several features of
    the same samples (``{name: FeatureSet}`` for Training and Test), one
    row per feature: how much group information each carries (08: the
    backbone's, the prompted and the sensitive branch's)."""
    import pandas as pd
    return pd.concat([attribute_probes(train[k], test[k],
                                       attributes=[attribute], seed=seed)
                      .assign(feature=k) for k in train],
                     ignore_index=True)[["feature", "attribute", "auc",
                                         "n_groups", "n_test"]]


def table2(pred, *, n_boot: int = 1000, seed: int = 0, digits: int = 3):
    """The paper's Table 2 layout for one set of Test predictions: a row
    per paper attribute, columns DPD, DEOdds, AUC, ES-AUC and each group's
    AUC as ``value [low, high]`` (95 % bootstrap; Unknown left out)."""
    import pandas as pd

    from .attributes import PAPER_ATTRIBUTES, group_names
    from .metrics import group_report
    rows = {}
    for a in PAPER_ATTRIBUTES:
        f = group_report(pred.y_true, pred.y_score,
                         groups=pred.attributes[a], attribute=a,
                         n_boot=n_boot, seed=seed, ids=pred.ids).to_frame()
        cells = {(g, m): r for g, m, r in zip(f["group"], f["metric"],
                                              f.itertuples())}

        def fmt(key, cells=cells):
            r = cells.get(key)
            if r is None or np.isnan(r.value):
                return "–"
            ci = ("" if np.isnan(r.ci_low) else
                  f" [{r.ci_low:.{digits}f}, {r.ci_high:.{digits}f}]")
            return f"{r.value:.{digits}f}{ci}"
        row = {"DPD": fmt(("all", "dpd")), "DEOdds": fmt(("all", "deodds")),
               "AUC": fmt(("all", "auc")), "ES-AUC": fmt(("all", "es_auc"))}
        for i, g in enumerate(group_names(a), 1):
            row[f"AUC group {i}"] = f"{g}: {fmt((g, 'auc'))}"
        rows[a] = row
    return pd.DataFrame.from_dict(rows, orient="index").fillna("")


__all__ = ["C_GRID", "PROBES", "ProbeResult", "attribute_probes",
           "fit_probe", "logistic_probe", "mae_probe", "table2"]
