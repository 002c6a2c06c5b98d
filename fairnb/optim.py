"""Optimizers and learning-rate schedules from a method's parameter groups.

Used in: 03_fairclip.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import torch

from .methods.base import ParamGroup

if TYPE_CHECKING:
    from .engine import TrainSettings


def _no_decay(name: str, p: torch.Tensor) -> bool:
    return p.ndim < 2 or "logit_scale" in name or name.endswith(".bias")


def make_optimizers(groups: Sequence[ParamGroup], settings: TrainSettings
                    ) -> dict[str, torch.optim.Optimizer]:
    """One optimizer per ``ParamGroup.optimizer`` key, of the settings'
    kind: AdamW (no decay on gains, biases, temperatures unless a group
    sets ``weight_decay``) or the ``official`` Adam (betas 0.1, 0.1;
    eps 1e-6; weight decay 6e-5)."""
    by_key: dict[str, list[dict]] = {}
    for group in groups:
        lr = settings.lr * group.lr_scale
        params = [(n, p) for n, p in group.params if p.requires_grad]
        if settings.optimizer == "official":
            by_key.setdefault(group.optimizer, []).append(
                {"params": [p for _, p in params], "lr": lr,
                 "weight_decay": 6e-5 if group.weight_decay is None
                 else group.weight_decay})
            continue
        if group.weight_decay is not None:
            split = [([p for _, p in params], group.weight_decay)]
        else:
            split = [([p for n, p in params if not _no_decay(n, p)],
                      settings.weight_decay),
                     ([p for n, p in params if _no_decay(n, p)], 0.0)]
        by_key.setdefault(group.optimizer, []).extend(
            {"params": ps, "lr": lr, "weight_decay": wd}
            for ps, wd in split if ps)
    if settings.optimizer == "official":
        return {k: torch.optim.Adam(g, lr=settings.lr, betas=(0.1, 0.1),
                                    eps=1e-6) for k, g in by_key.items()}
    return {k: torch.optim.AdamW(g, lr=settings.lr)
            for k, g in by_key.items()}


def make_scheduler(optimizer, settings: TrainSettings, steps_per_epoch: int):
    """Linear warm-up then cosine decay, or constant."""
    total = max(1, settings.epochs * steps_per_epoch)
    warm = int(settings.warmup * steps_per_epoch)

    def factor(step: int) -> float:
        if settings.schedule == "constant":
            return 1.0
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total
                                                                  - warm)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
