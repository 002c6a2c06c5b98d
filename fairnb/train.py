"""The training loop: CLIP or any :mod:`fairnb.methods` objective.

Device ``auto`` (CUDA autocast with fp32 weights, or the CPU), AdamW with
warm-up and cosine decay by default or the official FairCLIP optimizer,
gradient clipping, a group-aware sampler, validation every epoch (zero-shot
AUC and ES-AUC on Validation), selection of the best epoch on Validation
(never on Test), and a checkpoint every epoch written atomically with
optimizer, scheduler, sampler, method and RNG state. A NaN/inf loss stops
training with a clear message and keeps the last good checkpoint.

Used in: 03_fairclip.
"""
from __future__ import annotations

import io
import math
import random
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .attributes import check_attribute, check_choice
from .config import OPTIMIZERS
from .data.torch import GroupBatchSampler, to_model_input
from .devices import autocast, grad_scaler, resolve_device
from .evaluate import zero_shot
from .methods import Context, Forward, Method
from .metrics import summarize
from .runs import atomic_write_bytes


@dataclass
class TrainSettings:
    """Options of :func:`train` (the notebook config fills them)."""

    attribute: str = "race"
    epochs: int = 6
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup: float = 0.5  # epochs of linear warm-up (adamw only)
    optimizer: str = "adamw"
    grad_clip: float = 1.0
    seed: int = 0
    device: str = "auto"
    min_per_group: int = 2


@dataclass
class History:
    """What training did: one row per step and one per epoch."""

    steps: list[dict] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    best_val_auc: float = float("nan")

    def steps_frame(self):
        import pandas as pd
        return pd.DataFrame(self.steps)

    def epochs_frame(self):
        import pandas as pd
        return pd.DataFrame(self.epochs)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_optimizer(model: torch.nn.Module, settings: TrainSettings):
    """AdamW (no decay on gains, biases, logit_scale) or the official
    FairCLIP Adam over the visual and text-transformer blocks only."""
    check_choice("optimizer", settings.optimizer, OPTIMIZERS)
    if settings.optimizer == "official":
        params = [*model.visual.parameters(),
                  *model.transformer.parameters()]
        keep = {id(p) for p in params}
        for p in model.parameters():  # frozen in the official runs (B8)
            p.requires_grad_(id(p) in keep)
        return torch.optim.Adam(params, lr=settings.lr, betas=(0.1, 0.1),
                                eps=1e-6, weight_decay=6e-5)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        flat = p.ndim < 2 or "logit_scale" in name or name.endswith(".bias")
        (no_decay if flat else decay).append(p)
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}], lr=settings.lr)


def make_scheduler(optimizer, settings: TrainSettings, steps_per_epoch: int):
    """Linear warm-up then cosine decay; constant for ``official``."""
    total = max(1, settings.epochs * steps_per_epoch)
    warm = int(settings.warmup * steps_per_epoch)

    def factor(step: int) -> float:
        if settings.optimizer == "official":
            return 1.0
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total
                                                                  - warm)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _rng_state() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(),
            "torch": torch.get_rng_state()}


def save_checkpoint(path, **state) -> None:
    """``torch.save`` of ``state``, written atomically."""
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def train(bundle, method: Method, train_data, val_data, *,
          settings: TrainSettings, run=None,
          callbacks: Sequence[Callable[[History], None]] = ()) -> History:
    """Train ``bundle.model`` with ``method``; returns the :class:`History`.

    The best epoch (highest zero-shot AUC on ``val_data``) is reloaded into
    the model at the end. With a ``run``, ``checkpoints/last.pt`` (full
    state) and ``checkpoints/best.pt`` (weights) are written every epoch.
    """
    check_attribute(settings.attribute)
    seed_everything(settings.seed)
    device = resolve_device(settings.device)
    model = bundle.model.to(device)
    sampler = GroupBatchSampler(
        train_data.groups(settings.attribute),
        batch_size=settings.batch_size, seed=settings.seed,
        min_per_group=settings.min_per_group)
    optimizer = make_optimizer(model, settings)
    scheduler = make_scheduler(optimizer, settings, len(sampler))
    scaler = grad_scaler(device)

    def forward(batch) -> Forward:
        images = to_model_input(batch.images, mean=bundle.mean,
                                std=bundle.std, device=device)
        with autocast(device):
            img, txt, scale = model(images, batch.tokens.to(device))
        return Forward(img.float(), txt.float(), scale.float())

    method.setup(Context(model=model, train=train_data, forward=forward,
                         seed=settings.seed))
    history, best_state = History(), None
    for epoch in range(settings.epochs):
        start, model = time.monotonic(), model.train()
        sampler.set_epoch(epoch)
        bar = tqdm(sampler, desc=f"epoch {epoch + 1}/{settings.epochs}",
                   leave=False)
        for index in bar:
            batch = train_data.batch(index)
            loss, logs = method.loss(forward(batch), batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"The loss became {float(loss)} at epoch {epoch + 1}, "
                    f"step {len(history.steps) + 1} ({logs}). Training "
                    "stopped; the last good checkpoint is kept"
                    + (f" in {run.path / 'checkpoints'}" if run else "")
                    + ". Lower lr or fair_weight, or use a bounded "
                    "similarity (similarity='cosine').")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(),
                                           settings.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            with torch.no_grad():  # CLIP's temperature cap of 100
                model.logit_scale.clamp_(0, math.log(100))
            history.steps.append({"epoch": epoch + 1,
                                  "step": len(history.steps) + 1,
                                  "loss": float(loss.detach()),
                                  "lr": scheduler.get_last_lr()[0], **logs})
            bar.set_postfix(loss=f"{float(loss):.3f}")
        val = _validate(bundle, val_data, settings.attribute, device)
        row = {"epoch": epoch + 1,
               "train_loss": float(np.mean([s["loss"] for s in history.steps
                                            if s["epoch"] == epoch + 1])),
               "val_auc": val["auc"],
               "val_es_auc": val[f"es_auc_{settings.attribute}"],
               "seconds": time.monotonic() - start}
        history.epochs.append(row)
        improved = history.best_epoch is None or (
            row["val_auc"] > history.best_val_auc)
        if improved:
            history.best_epoch, history.best_val_auc = epoch + 1, row[
                "val_auc"]
            best_state = {k: v.detach().cpu().clone()
                          for k, v in model.state_dict().items()}
        if run is not None:
            _checkpoint(run, bundle, model, optimizer, scheduler, sampler,
                        method, settings, history, epoch, improved)
        for callback in callbacks:
            callback(history)
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


def _validate(bundle, val_data, attribute: str, device) -> dict:
    """Zero-shot AUC and ES-AUC of the trained attribute on Validation.

    Small validation groups often have one class; those warnings are
    kept for the Test evaluation, not repeated every epoch.
    """
    pred = zero_shot(bundle, val_data, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return summarize(pred.y_true, pred.y_score,
                         attributes={attribute: pred.attributes[attribute]})


def _checkpoint(run, bundle, model, optimizer, scheduler, sampler, method,
                settings, history, epoch, improved) -> None:
    meta = {"model_name": bundle.name, "pretrained": bundle.pretrained,
            "epoch": epoch + 1, "settings": asdict(settings)}
    save_checkpoint(run.file("checkpoints/last.pt"),
                    model=model.state_dict(),
                    optimizer=optimizer.state_dict(),
                    scheduler=scheduler.state_dict(),
                    sampler=sampler.state_dict(),
                    method=method.state_dict(), rng=_rng_state(),
                    history=asdict(history), **meta)
    if improved:
        save_checkpoint(run.file("checkpoints/best.pt"),
                        model=model.state_dict(),
                        val_auc=history.best_val_auc, **meta)


class LiveCurves:
    """A training callback that draws the curves in the notebook and
    redraws them in place after every epoch (headless runs keep the last
    drawing; save it with ``run.save_figure``)."""

    def __init__(self):
        self.handle = None
        self.figure = None

    def __call__(self, history: History) -> None:
        from IPython.display import display

        from .plots import training_figure
        self.figure = training_figure(history)
        if self.handle is None:
            self.handle = display(self.figure, display_id=True)
        else:
            self.handle.update(self.figure)
