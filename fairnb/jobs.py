"""A 03 training run as one function, for scripts and schedulers.

:func:`train_job` does what ``03_fairclip.ipynb`` does, step for step and
with the same calls, without figures: the method, the data (summaries,
acquisition conditions), the run folder (an interrupted one resumes),
training through the engine, Test (and Validation) predictions, Test
under ``ood_conditions``, ``by_group.csv``, ``epochs.csv`` and
``metrics.json``. ``python -m fairnb train --config <params.json>``
(:mod:`fairnb.__main__`) runs it from a run's own record, so a notebook
run can be repeated or scaled out from it; a test checks that both give
the same ``metrics.json``.

Used in: ``python -m fairnb train``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence


@dataclass
class JobResult:
    """What :func:`train_job` wrote: the run folder, the training history
    and the metrics."""

    run: Any  # fairnb.runs.Run
    history: Any  # fairnb.engine.History
    metrics: dict


def read_config(path, **overrides):
    """The :class:`~fairnb.config.FairCLIPConfig` of a ``params.json``
    (a 03 run's resolved parameters; every value counts as set, so no
    preset overrides it), with ``overrides`` on top."""
    from .config import ConfigError, FairCLIPConfig
    path = Path(path)
    try:
        params = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} does not exist: pass a 03 run's params.json, e.g. "
            "runs/03_fairclip/<run>/params.json.") from None
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}).") from None
    if not isinstance(params, dict):
        raise ConfigError(f"{path} holds no parameters object.")
    params.update(overrides)
    return FairCLIPConfig.create(explicit=set(params), **params)


def train_job(cfg, *, root=None, run_path=None, train_only: bool = False,
              callbacks: Sequence = ()) -> JobResult:
    """Run ``cfg`` (a 03 config) as the 03 notebook does (module doc);
    ``root``: the runs folder (default ``fairnb.paths.runs_dir()``);
    ``run_path``: train into this existing run folder instead (resuming
    its checkpoints; what a 03 notebook with ``launcher="torchrun"``
    starts); ``train_only``: stop after training (the notebook evaluates).

    Under ``torchrun`` every process runs this: rank 0 makes the run
    folder and writes every file, the others wait for its caches, train
    their slices of each global batch and score their slices of each
    split (:mod:`fairnb.distributed`); ``params.json`` records
    ``launcher="torchrun"`` and ``devices`` = the number of processes.
    """
    from . import evaluate, preflight, shifts
    from .data.torch import load_split
    from .distributed import current_world
    from .engine import train
    from .methods import make_method
    from .models import create_model
    from .runs import Run, start_run
    from .sources import ensure_summaries, open_dataset, record_data

    world = current_world()
    if world.active:
        cfg.launcher, cfg.devices = "torchrun", world.size
    method = make_method(cfg.method, **cfg.method_kwargs())
    ds = open_dataset(cfg.data_dir, preset=cfg.preset, bias=cfg.bias,
                      summaries=cfg.summaries or "latest")
    preflight.check_training(cfg, method=method, dataset=ds)
    if run_path is not None:
        run = Run(path=Path(run_path), notebook=cfg.NOTEBOOK, resumed=True)
    else:
        run = start_run(cfg, key=f"{cfg.attribute}_{cfg.method}_seed"
                        f"{cfg.seed}", root=root, seed=cfg.seed,
                        device=cfg.device, resume=True) \
            if world.is_main else None
        path = world.broadcast(None if run is None else str(run.path))
        run = run or Run(path=Path(path), notebook=cfg.NOTEBOOK,
                         resumed=True)
    main = world.is_main
    bundle = create_model(cfg.model, pretrained=cfg.pretrained,
                          seed=cfg.seed)
    ds = world.main_first(lambda: ensure_summaries(
        ds, into=run.path, requested=cfg.summaries))
    splits = ("train", "val", "test")
    if main:
        record_data(run, ds, conditions=cfg.conditions())
    data = world.main_first(lambda: {
        s: load_split(ds, s, image_size=bundle.image_size,
                      tokenizer=bundle.tokenizer,
                      condition=cfg.condition(s)) for s in splits})
    history = train(bundle, method, data["train"], data["val"],
                    settings=cfg.train_settings(), run=run, resume=True,
                    test_data=data["test"] if cfg.selection == "test"
                    else None, callbacks=callbacks)
    if main:
        run.write_csv("epochs.csv", history.epochs_frame())
    if train_only:
        return JobResult(run, history, {})

    def score(split):
        return evaluate.mask_predictions(
            world.score(method, split, device=cfg.device), cfg.eval_mask)

    pred = score(data["test"])
    val = score(data["val"])
    shifted = shifts.score_conditions(score, ds, bundle,
                                      cfg.ood_condition_list,
                                      texts=data["test"].texts,
                                      run=run if main else None)
    metrics = pred.metrics()
    metrics.update(shifts.shift_metrics(shifted, cfg.attribute))
    metrics.update(best_epoch=history.best_epoch,
                   val_auc=history.best_val_auc,
                   n_test_evaluated=len(pred.y_true),
                   n_test_excluded=len(data["test"]) - len(pred.y_true))
    if cfg.selection == "test":
        metrics["selection"] = ("test: the epoch was chosen on Test, as the "
                                "released script does; optimistic")
    if main:
        pred.save(run.file("predictions.npz"))
        val.save(run.file("predictions_val.npz"))
        run.write_csv("by_group.csv", evaluate.group_table(pred))
        run.write_metrics(metrics, primary="auc")
        run.prune_checkpoints(cfg.keep)
    world.barrier()
    return JobResult(run, history, metrics)


def run_or_reuse(**parameters) -> Path:
    """The newest complete 03 run with these parameters (as papermill's
    ``-p``: the preset fills the others), else one trained now in this
    process (:func:`train_job`). The exercises' solutions train through
    it, so a solution run a second time trains nothing."""
    from .sweep import Cell, complete_run
    cell = Cell("03_fairclip", parameters)
    done = complete_run(cell)
    if done is not None:
        return done
    return train_job(cell.config()).run.path


def launch(run, *, devices: int) -> None:
    """Train a 03 ``run`` (its folder and ``params.json`` made) in
    ``devices`` processes: ``torchrun --standalone --nproc_per_node
    devices -m fairnb train --config <run>/params.json --run-folder <run>
    --train-only``. The processes write the run's checkpoints; afterwards
    :func:`fairnb.train` with ``resume=True`` reads the finished training
    back (what 03 does with ``launcher="torchrun"``). Raises
    RuntimeError with the processes' last output when they fail."""
    import subprocess
    import sys
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node", str(int(devices)), "-m", "fairnb", "train",
           "--config", str(Path(run.path) / "params.json"),
           "--run-folder", str(run.path), "--train-only"]
    from collections import deque
    tail: deque[str] = deque(maxlen=40)
    with subprocess.Popen(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:  # the processes' progress, as it comes
            tail.append(line)
            print(line, end="", flush=True)
        code = proc.wait()
    if code:
        raise RuntimeError(
            f"torchrun with {devices} processes failed (exit "
            f"{code}); the last output:\n{''.join(tail)}\nThe run folder "
            f"{run.path} keeps any finished epoch: run again to resume, or "
            "use launcher='inline'.")
