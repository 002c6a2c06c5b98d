"""The small interface every training objective implements.

The trainer runs the model on a batch and hands the :class:`Forward` to
``method.loss``; a method returns the loss and the values it wants logged.
A method that needs more than the batch (extra forward passes, memory
across epochs) gets the model and the training data once in ``setup``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar

import torch

from ..losses import clip_loss


@dataclass
class Forward:
    """Normalised features of a batch and the temperature."""

    image_features: torch.Tensor  # (B, D)
    text_features: torch.Tensor  # (B, D)
    logit_scale: torch.Tensor  # exp(model.logit_scale)


@dataclass
class Context:
    """What ``setup`` gives a method: the model, the training split, and a
    function that turns a batch index into a :class:`Forward`."""

    model: torch.nn.Module
    train: object  # fairnb.data.torch.SplitData
    forward: Callable[[object], Forward]  # Batch -> Forward
    seed: int = 0


class Method:
    """Base objective: the symmetric CLIP loss."""

    name: ClassVar[str] = "clip"

    def setup(self, context: Context) -> None:
        """Called once before training."""
        self.context = context

    def loss(self, fwd: Forward, batch) -> tuple[torch.Tensor, dict]:
        """Return ``(loss, logs)`` for one training batch."""
        loss = clip_loss(fwd.image_features, fwd.text_features,
                         fwd.logit_scale)
        return loss, {"clip_loss": float(loss.detach())}

    def state_dict(self) -> dict:
        """State to checkpoint (samplers, memories)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def describe(self) -> str:
        return r"L = L_{CLIP}"
