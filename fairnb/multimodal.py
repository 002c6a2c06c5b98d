"""Two-modality classifiers end to end: the data of a modality pair, one
standard run folder per method (MultiFair and its baselines), the
comparison table of 07.

A run folder here holds what a 03 run holds (``params.json``,
``predictions.npz``, ``predictions_val.npz``, ``metrics.json``,
``epochs.csv``, ``by_group.csv``, ``data.json``), so 04 and 06 read it
unchanged.

Used in: 07_multifair.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

SPLITS = ("train", "val", "test")


def open_multimodal_dataset(cfg):
    """The dataset of ``cfg.modalities``: for ``slo+note`` the
    Harvard-FairVLMed folder ``cfg.data_dir`` (or its synthetic stand-in,
    with the summaries 03 would read), for ``slo+oct`` the
    Harvard-FairVision folder (or the synthetic OCT stand-in,
    :func:`fairnb.data.synthetic_oct.ensure_synthetic_oct`)."""
    if cfg.modalities == "slo+oct":
        from .data.fairvision import read_fairvision
        from .data.synthetic_oct import ensure_synthetic_oct
        from .paths import resolve
        root = resolve(cfg.data_dir) if cfg.data_dir else \
            ensure_synthetic_oct(cfg.preset, bias=cfg.bias)
        return read_fairvision(root)
    from .sources import open_dataset
    return open_dataset(cfg.data_dir, preset=cfg.preset, bias=cfg.bias,
                        summaries=cfg.summaries or "latest")


def load_multimodal_splits(ds, bundle, *, n_slices: int) -> dict[str, Any]:
    """Train, val and test :class:`~fairnb.data.torch.SplitData` at the
    resolution and with the tokenizer of ``bundle`` (a
    :class:`~fairnb.models.ModelBundle`; OCT B-scans with ``n_slices`` >
    0)."""
    from .data.torch import load_split
    return {s: load_split(ds, s, image_size=bundle.image_size,
                          tokenizer=bundle.tokenizer, n_slices=n_slices)
            for s in SPLITS}


@dataclass
class TrainedRun:
    """One trained method of 07: its run folder, training history, Test
    predictions and metrics."""

    method: str
    run: Any  # fairnb.runs.Run
    history: Any  # fairnb.engine.History
    predictions: Any  # fairnb.predictions.Predictions
    metrics: dict


def train_method(cfg, data, *, dataset=None,
                 callbacks: Sequence = ()) -> TrainedRun:
    """Train ``cfg.method`` (a :class:`~fairnb.config.MultiFairConfig`
    for one method, :meth:`~fairnb.config.MultiFairConfig.for_method`) in
    its own run folder, resuming an interrupted one, and write the
    standard outputs."""
    from .engine import train
    from .evaluate import group_table
    from .methods import make_method
    from .models import create_model
    from .runs import start_run
    method = make_method(cfg.method, **cfg.method_kwargs())
    run = start_run(cfg, key=f"{cfg.attribute}_{cfg.method}_"
                    f"{cfg.modalities}_seed{cfg.seed}", seed=cfg.seed,
                    device=cfg.device, resume=True)
    if dataset is not None:
        from .sources import record_data
        record_data(run, dataset)
    bundle = create_model(cfg.model, pretrained=cfg.pretrained,
                          seed=cfg.seed)
    history = train(bundle, method, data["train"], data["val"],
                    settings=cfg.train_settings(), run=run, resume=True,
                    callbacks=callbacks)
    run.write_csv("epochs.csv", history.epochs_frame())
    pred = method.score(data["test"], device=cfg.device)
    pred.save(run.file("predictions.npz"))
    method.score(data["val"], device=cfg.device).save(
        run.file("predictions_val.npz"))
    metrics = pred.metrics()
    run.write_csv("by_group.csv", group_table(pred))
    metrics.update(best_epoch=history.best_epoch,
                   val_auc=history.best_val_auc,
                   n_test_evaluated=len(pred.y_true), n_test_excluded=0,
                   trainable_parameters=sum(
                       p.numel() for g in method.trainable()
                       for _, p in g.params if p.requires_grad))
    run.write_metrics(metrics, primary="auc")
    run.prune_checkpoints(cfg.keep)
    return TrainedRun(cfg.method, run, history, pred, metrics)


def comparison_table(results: Sequence[TrainedRun], attribute: str):
    """One row per method: AUC, ES-AUC, group AUCs, DPD and DEOdds of
    ``attribute`` on Test, the selected epoch and the run folder."""
    import pandas as pd

    from .attributes import group_names, group_slug
    rows = []
    for r in results:
        m = r.metrics
        row = {"method": r.method, "AUC": m.get("auc"),
               "ES-AUC": m.get(f"es_auc_{attribute}")}
        for name in group_names(attribute):
            row[f"AUC {name}"] = m.get(f"auc_{attribute}_{group_slug(name)}")
        row.update({"DPD": m.get(f"dpd_{attribute}"),
                    "DEOdds": m.get(f"deodds_{attribute}"),
                    "best epoch": m.get("best_epoch"), "run": r.run.path.name})
        rows.append(row)
    return pd.DataFrame(rows)


def run_or_reuse(**parameters):
    """The newest complete 07 run of one method with these parameters (as
    papermill's ``-p``; ``baselines`` is ``none``: one method), else one
    trained now in this process, as 07 trains it. The exercises' solutions
    train through it, so a solution run a second time trains nothing."""
    from .models import create_model
    from .sweep import Cell, complete_run
    cell = Cell("07_multifair", {**parameters, "baselines": "none"})
    done = complete_run(cell)
    if done is not None:
        return done
    cfg = cell.config()
    ds = open_multimodal_dataset(cfg)
    bundle = create_model(cfg.model, pretrained=cfg.pretrained,
                          seed=cfg.seed)
    data = load_multimodal_splits(ds, bundle, n_slices=cfg.n_slices)
    return train_method(cfg.for_method(cfg.method), data,
                        dataset=ds).run.path
