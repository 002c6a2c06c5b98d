"""The training engine: runs any registered method without knowing which.

Device ``auto`` (CUDA autocast with fp32 weights, or the CPU); optimizers
built from the method's parameter groups (AdamW with warm-up and cosine
decay, or the released code's Adam at a constant rate); gradient
clipping as a setting (0 = off); the sampler the method asks for (or
plain batches); a NaN/inf loss or gradient norm stops training with a
clear message; the epoch is selected on the method's Validation score
(a NaN score counts as worst); a checkpoint every epoch with everything
needed to resume exactly (model, method modules and state, optimizers,
schedules, GradScaler, sampler position, RNGs). Under ``torchrun``
every process plans the same global batch and the method's loss is the
single-process loss of that batch (:mod:`fairnb.distributed`): gradients
are averaged after backward, Validation is scored in slices and
gathered, and only rank 0 writes checkpoints. This module names no
method and imports no notebook config.

Used in: 03_fairclip.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .attributes import check_attribute, check_choice
from .callbacks import Callback, LiveCurves
from .checkpoints import (
    resume_run,
    rng_state,
    seed_everything,
    write_checkpoints,
)
from .choices import SAMPLERS
from .data.sampler import make_sampler
from .devices import grad_scaler, resolve_device
from .distributed import current_world
from .methods.base import Context, Method
from .optim import make_optimizers, make_scheduler
from .protocols import (
    ENGINE_CHOICES,
    EVAL_MASKS,
    OPTIMIZERS,
    SCHEDULES,
    SELECTIONS,
    protocol_values,
)

__all__ = ["History", "LiveCurves", "TrainSettings", "make_optimizers",
           "prepare_steps", "seed_everything", "train"]


@dataclass
class TrainSettings:
    """Options of :func:`train`. Choices left None take the ``protocol``'s
    value (:mod:`fairnb.protocols`); ``attribute`` names the ES-AUC logged
    on Validation each epoch."""

    attribute: str = "race"
    epochs: int = 6
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup: float = 0.5  # epochs of linear warm-up (cosine schedule)
    protocol: str = "fairnb"
    optimizer: str | None = None
    schedule: str | None = None
    grad_clip: float | None = None
    sampler: str | None = None
    eval_mask: str | None = None
    selection: str = "val"
    seed: int = 0
    device: str = "auto"
    min_per_group: int = 2

    def __post_init__(self):
        check_attribute(self.attribute)
        for key, value in protocol_values(self.protocol).items():
            if key in ENGINE_CHOICES and getattr(self, key) is None:
                setattr(self, key, value)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("sampler", self.sampler, SAMPLERS)
        check_choice("eval_mask", self.eval_mask, EVAL_MASKS)
        check_choice("selection", self.selection, SELECTIONS)
        if self.grad_clip < 0 or self.epochs < 1 or self.batch_size < 1:
            raise ValueError("Need grad_clip >= 0 (0 = off), epochs >= 1 "
                             f"and batch_size >= 1; got {self.grad_clip}, "
                             f"{self.epochs}, {self.batch_size}.")


def train_sampler(method: Method, settings: TrainSettings,
                  groups_of: Callable[[str], np.ndarray], *, n: int):
    """The batch sampler training uses: with ``sampler="balanced"``
    group-balanced batches (equal places per group) of the attribute the
    method's :meth:`~Method.resample` names, else of the run's attribute;
    with ``"auto"`` such batches where the method names one; else the
    groups ``method.balance()`` asks for in every batch (none with
    ``sampler="plain"``). ``groups_of(attribute)`` gives
    the Training codes. Raises ValueError when the batches cannot hold
    what the method needs, so a notebook can check before it trains."""
    from .data.sampler import BalancedBatchSampler
    resampled = (method.resample() or settings.attribute) if \
        settings.sampler == "balanced" else (
            method.resample() if settings.sampler == "auto" else None)
    if resampled:
        other = [a for a in method.balance() if a != resampled]
        if other:
            raise ValueError(
                f"Balanced batches of {resampled} cannot also hold every "
                f"group of {', '.join(other)}, which the method needs in "
                "each batch; use sampler='auto'.")
        return BalancedBatchSampler(groups_of(resampled),
                                    batch_size=settings.batch_size,
                                    seed=settings.seed)
    balance = () if settings.sampler == "plain" else method.balance()
    return make_sampler({a: groups_of(a) for a in balance}, n=n,
                        batch_size=settings.batch_size, seed=settings.seed,
                        min_per_group=settings.min_per_group)


@dataclass
class History:
    """What training did: one row per step and one per epoch."""

    steps: list[dict] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    best_score: float = float("nan")
    selection: str = "val"

    @property
    def best_val_auc(self) -> float:
        """Validation AUC of the selected epoch."""
        rows = [r for r in self.epochs if r["epoch"] == self.best_epoch]
        return rows[0]["val_auc"] if rows else float("nan")

    def steps_frame(self):
        import pandas as pd
        return pd.DataFrame(self.steps)

    def epochs_frame(self):
        import pandas as pd
        return pd.DataFrame(self.epochs)


def _worst_if_nan(x: float) -> float:
    return -math.inf if x is None or math.isnan(x) else x


class _Engine:
    """The state of one training run (see :func:`train`)."""

    def __init__(self, bundle, method: Method, train_data, settings,
                 run):
        self.settings, self.run, self.method = settings, run, method
        self.bundle, self.train_data = bundle, train_data
        self.device = resolve_device(settings.device)
        self.world = world = current_world()
        if world.active and not method.distributed:
            raise ValueError(
                f"Method {method.name!r} does not train on several processes"
                f" yet (its training step is not written for gathered "
                f"batches, fairnb.distributed); run it in one process "
                f"(launcher='inline', devices=1).")
        self.model = world.sync_batchnorm(bundle.model.to(self.device),
                                          self.device)
        method.setup(Context(bundle=bundle, train=train_data,
                             device=self.device, seed=settings.seed,
                             settings=settings, world=world))
        self.modules = method.modules()
        for module in self.modules.values():
            module.to(self.device)
        self.groups = method.trainable()
        # a parameter frozen before training stays frozen
        self.params = [p for g in self.groups for _, p in g.params
                       if p.requires_grad]
        self.sampler = train_sampler(method, settings, train_data.groups,
                                     n=len(train_data))
        if world.active:
            smallest = min(len(b) for b in self.sampler.plan(0))
            if smallest < world.size:
                raise ValueError(
                    f"A batch of {smallest} samples cannot be split over "
                    f"{world.size} processes; use a batch_size that leaves "
                    f"every batch at least {world.size} samples, or fewer "
                    "processes.")
        self.optimizers = make_optimizers(self.groups, settings)
        self.schedulers = {k: make_scheduler(o, settings, len(self.sampler))
                           for k, o in self.optimizers.items()}
        self.scaler = grad_scaler(self.device)
        self.history = History(selection=settings.selection)
        self.best_state = None

    def all_modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model, **self.modules}

    def weights(self) -> dict:
        return {k: {n: v.detach().cpu().clone() for n, v in
                    m.state_dict().items()}
                for k, m in self.all_modules().items()}

    def load_weights(self, weights: dict) -> None:
        for k, m in self.all_modules().items():
            m.load_state_dict(weights[k])

    def set_mode(self, training: bool) -> None:
        """Train or eval mode; in training, a part none of whose
        parameters train stays in eval mode (a frozen backbone's
        BatchNorm statistics and dropout do not change)."""
        for m in self.all_modules().values():
            m.train(training)
            if not training:
                continue
            for sub in m.modules():
                params = list(sub.parameters())
                if params and not any(p.requires_grad for p in params):
                    sub.eval()

    def freeze_others(self) -> dict:
        """requires_grad off for every parameter no group trains; returns
        what to restore afterwards."""
        keep = {id(p) for p in self.params}
        before = {}
        for m in self.all_modules().values():
            for p in m.parameters():
                before[p] = p.requires_grad
                p.requires_grad_(id(p) in keep)
        return before

    def step(self, batch, epoch: int) -> dict:
        step = len(self.history.steps) + 1
        out = self.method.training_step(batch, step)
        loss = out.loss if out.loss is not None else out.per_sample.mean()
        if not torch.isfinite(loss):
            self.stop(f"The loss became {float(loss.detach())}", epoch,
                      out.logs)
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.world.average_gradients(self.params)
        for opt in self.optimizers.values():
            self.scaler.unscale_(opt)
        self.method.before_step(step)
        grads = [p for p in self.params if p.grad is not None]
        max_norm = self.settings.grad_clip or math.inf
        norm = torch.nn.utils.clip_grad_norm_(grads, max_norm) if grads else \
            torch.zeros(())
        if not self.scaler.is_enabled() and not torch.isfinite(norm):
            self.stop(f"The gradient norm became {float(norm)}", epoch,
                      out.logs)
        for opt in self.optimizers.values():
            self.scaler.step(opt)
        self.scaler.update()
        for scheduler in self.schedulers.values():
            scheduler.step()
        self.method.after_step(step)
        main = next(iter(self.schedulers.values()))
        return {"epoch": epoch + 1, "step": step,
                "loss": float(loss.detach()), "grad_norm": float(norm),
                "lr": main.get_last_lr()[0], **out.logs}

    def stop(self, what: str, epoch: int, logs: dict) -> None:
        last = self.run.path / "checkpoints" / "last.pt" if self.run \
            else None
        kept = (f"the last good checkpoint is kept in {last}"
                if last is not None and last.is_file() else
                "no epoch finished, so there is no checkpoint to go back to")
        raise FloatingPointError(
            f"{what} at epoch {epoch + 1}, step "
            f"{len(self.history.steps) + 1} ({logs}). Training stopped; "
            f"{kept}. Lower lr or the fairness weight, or set grad_clip "
            "(e.g. 1.0).")


def _score(method, data, settings, device, world) -> dict:
    """AUC and the attribute's ES-AUC of ``method.score(data)``, under the
    settings' evaluation mask. Small groups often have one class; those
    warnings are kept for the Test evaluation, not repeated every epoch."""
    from .evaluate import mask_predictions
    from .metrics import summarize
    pred = mask_predictions(world.score(method, data, device=device),
                            settings.eval_mask)
    a = settings.attribute
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = summarize(pred.y_true, pred.y_score,
                        attributes={a: pred.attributes[a]})
    return {"auc": out["auc"], "es_auc": out[f"es_auc_{a}"]}


def train(bundle, method: Method, train_data, val_data, *,
          settings: TrainSettings, run=None, test_data=None,
          resume: bool = False,
          callbacks: Sequence[Callable | Callback] = ()) -> History:
    """Train ``method`` on ``bundle.model``; returns the :class:`History`.

    Each epoch is scored with ``method.score`` on ``val_data`` (and on
    ``test_data`` with ``settings.selection="test"``, which selects on
    Test as a released script does: optimistic, only to
    reproduce its numbers); the best epoch's weights are loaded back at
    the end. With a ``run``, ``checkpoints/last.pt`` (everything to
    resume) and ``checkpoints/best.pt`` (weights) are written every epoch,
    and ``resume=True`` continues from ``last.pt`` when there is one: the
    result equals an uninterrupted run's on the CPU.
    """
    if settings.selection == "test" and test_data is None:
        raise ValueError("selection='test' needs test_data=.")
    seed_everything(settings.seed)
    engine = _Engine(bundle, method, train_data, settings, run)
    start = resume_run(engine) if resume and run is not None else 0
    history = engine.history
    restore = engine.freeze_others()
    try:
        for epoch in range(start, settings.epochs):
            _run_epoch(engine, epoch, callbacks)
            _select(engine, epoch, val_data, test_data)
            for callback in callbacks:
                (callback.on_epoch_end if isinstance(callback, Callback)
                 else callback)(history)
        if start >= settings.epochs:  # resumed after the last epoch
            for callback in callbacks:
                (callback.on_epoch_end if isinstance(callback, Callback)
                 else callback)(history)
    finally:
        for p, flag in restore.items():
            p.requires_grad_(flag)
    if engine.best_state is not None:
        engine.load_weights(engine.best_state)
    engine.set_mode(False)
    return history


def prepare_steps(bundle, method: Method, train_data, *,
                  settings: TrainSettings, epoch: int = 0) -> _Engine:
    """An engine set up as :func:`train` sets it up for ``epoch``, to take
    single steps outside a training (benchmarks, the multi-process
    tests): ``engine.step(train_data.batch(index), epoch)`` returns the
    step's logged row; ``engine.sampler.plan(epoch)`` lists the epoch's
    batches. Parameters the method does not train stay frozen
    afterwards."""
    seed_everything(settings.seed)
    engine = _Engine(bundle, method, train_data, settings, None)
    method.on_epoch_start(epoch, settings.epochs)
    engine.freeze_others()
    engine.set_mode(True)
    engine.sampler.set_epoch(epoch)
    return engine


def _run_epoch(engine: _Engine, epoch: int, callbacks) -> None:
    settings, history = engine.settings, engine.history
    start = time.monotonic()
    engine.method.on_epoch_start(epoch, settings.epochs)
    engine.set_mode(True)
    engine.sampler.set_epoch(epoch)
    bar = tqdm(engine.sampler, desc=f"epoch {epoch + 1}/{settings.epochs}",
               leave=False, disable=not engine.world.is_main)
    for index in bar:
        row = engine.step(engine.train_data.batch(index), epoch)
        history.steps.append(row)
        bar.set_postfix(loss=f"{row['loss']:.3f}")
        for callback in callbacks:
            if isinstance(callback, Callback):
                callback.on_step(history)
    engine.method.on_epoch_end(epoch)
    engine.epoch_seconds = time.monotonic() - start


def _select(engine: _Engine, epoch: int, val_data, test_data) -> None:
    settings, history = engine.settings, engine.history
    engine.set_mode(False)
    val = _score(engine.method, val_data, settings, engine.device,
                 engine.world)
    row = {"epoch": epoch + 1,
           "train_loss": float(np.mean([s["loss"] for s in history.steps
                                        if s["epoch"] == epoch + 1])),
           "val_auc": val["auc"], "val_es_auc": val["es_auc"]}
    score = val["auc"]
    if settings.selection == "test":
        test = _score(engine.method, test_data, settings, engine.device,
                      engine.world)
        row.update(test_auc=test["auc"], test_es_auc=test["es_auc"])
        score = test["auc"]
    row.update(engine.method.epoch_logs())  # counts, weights of the method
    row["seconds"] = engine.epoch_seconds
    history.epochs.append(row)
    improved = history.best_epoch is None or (
        _worst_if_nan(score) > _worst_if_nan(history.best_score))
    if improved:
        history.best_epoch, history.best_score = epoch + 1, score
        engine.best_state = engine.weights()
    if engine.run is not None:  # every process's draws, rank 0 writes
        rngs = engine.world.gather_objects(rng_state()) \
            if engine.world.active else None
        if engine.world.is_main:
            write_checkpoints(engine, epoch, improved, rngs=rngs)
