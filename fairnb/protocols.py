"""Training and evaluation protocols as data: the set of choices each fixes.

``fairnb`` is this project's default; ``official`` is everything the
released FairCLIP code does (shared/METHODS.md §1.3). Both select the
epoch on Validation; test-set selection (the released script's) is a
separate switch, ``selection="test"``, never part of a protocol.

Engine choices (:class:`fairnb.engine.TrainSettings`):

- ``sampler``: ``auto`` (the method's: groups of the attributes it
  balances, else plain) or ``plain`` (shuffled, last batch smaller);
- ``grad_clip``: gradient-norm clip, 0 = off;
- ``optimizer`` / ``schedule``: AdamW with warm-up and cosine decay, or
  the official Adam (betas 0.1, 0.1; eps 1e-6; weight decay 6e-5) at a
  constant rate;
- ``eval_mask``: ``all`` Validation/Test samples, or ``official``: drop a
  sample Unknown in any of race, gender, ethnicity, language.

Method choices (options of the contrastive methods): ``trainable``,
``similarity``, ``group_source``, ``group_batch_size``, and FairCLIP's
``fair_weight`` and ``blur``, which the official similarity's scale
(about 1e4) ties to the released values (1e-6 each).
"""
from __future__ import annotations

from .choices import (  # noqa: F401 (re-exported)
    EVAL_MASKS,
    OPTIMIZERS,
    SCHEDULES,
    SELECTIONS,
)

PROTOCOLS: dict[str, dict[str, object]] = {
    "fairnb": {"sampler": "auto", "grad_clip": 1.0, "optimizer": "adamw",
               "schedule": "cosine", "eval_mask": "all",
               "trainable": "all", "similarity": "cosine",
               "group_source": "in_batch", "group_batch_size": 32,
               "fair_weight": 10.0, "blur": 1e-4},
    "official": {"sampler": "plain", "grad_clip": 0.0,
                 "optimizer": "official", "schedule": "constant",
                 "eval_mask": "official", "trainable": "towers",
                 "similarity": "official", "group_source": "separate",
                 "group_batch_size": 32, "fair_weight": 1e-6,
                 "blur": 1e-6},
}
ENGINE_CHOICES = ("sampler", "grad_clip", "optimizer", "schedule",
                  "eval_mask")
METHOD_CHOICES = ("trainable", "similarity", "group_source",
                  "group_batch_size", "fair_weight", "blur")


def protocol_values(name: str) -> dict[str, object]:
    """The choices protocol ``name`` fixes (error naming the valid ones).

    Examples
    --------
    >>> protocol_values("official")["grad_clip"]
    0.0
    """
    from .attributes import check_choice
    check_choice("protocol", name, tuple(PROTOCOLS))
    return dict(PROTOCOLS[name])
