"""Contrastive fine-tuning of a CLIP model: the base of every
contrastive method, and the ``clip`` baseline itself.

The CLIP-specific parts live here, not in the engine: the forward pass of
an open_clip model (features and temperature), the symmetric InfoNCE loss,
CLIP's temperature cap of 100, the choice of trainable parameters
(``trainable="all"``, or ``"towers"``: the visual tower and the text
transformer blocks only, with embeddings, final norm, text projection and
temperature frozen, as the released FairCLIP code trains), and zero-shot
scoring with the two prompts.

Used in: 03_fairclip.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..attributes import check_choice
from ..choices import TRAINABLE  # noqa: E402
from ..losses import clip_loss
from .base import Method, ParamGroup, StepOutput
from .registry import register_method


@dataclass
class Forward:
    """Normalised features of a batch and the temperature."""

    image_features: torch.Tensor  # (B, D)
    text_features: torch.Tensor  # (B, D)
    logit_scale: torch.Tensor  # exp(model.logit_scale)

    def subset(self, mask: torch.Tensor) -> Forward:
        """The rows of ``mask`` (a group's own sub-batch)."""
        return Forward(self.image_features[mask], self.text_features[mask],
                       self.logit_scale)


def text_blocks(model: torch.nn.Module) -> torch.nn.Module:
    """The text transformer blocks of an open_clip model (``transformer``
    of CLIP, ``text.transformer`` of CustomTextCLIP)."""
    blocks = getattr(model, "transformer", None)
    if blocks is None:
        blocks = getattr(getattr(model, "text", None), "transformer", None)
    if blocks is None:
        raise ValueError(
            f"{type(model).__name__} has no text transformer blocks "
            "(model.transformer or model.text.transformer), so "
            "trainable='towers' cannot pick them; use trainable='all'.")
    return blocks


@register_method("clip")
class CLIP(Method):
    r"""The symmetric CLIP loss, :math:`L = L_{CLIP}`.

    Parameters
    ----------
    trainable : {"all", "towers"}
        Every parameter, or the visual tower and the text transformer
        blocks only (the released FairCLIP code's choice).

    References
    ----------
    Radford et al., "Learning Transferable Visual Models From Natural
    Language Supervision", ICML 2021.
    """

    def __init__(self, *, trainable: str = "all"):
        check_choice("trainable", trainable, TRAINABLE)
        self.trainable_parts = trainable

    def forward(self, batch) -> Forward:
        """Features of a batch under the engine's autocast, as float32."""
        ctx = self.context
        images = ctx.images(batch)
        with ctx.autocast():
            out = ctx.model(images, batch.tokens.to(ctx.device))
        img, txt, scale = out[:3]  # SigLIP adds a logit bias
        return Forward(img.float(), txt.float(), scale.float())

    def loss(self, fwd: Forward, batch) -> tuple[torch.Tensor, dict]:
        """``(loss, logs)`` of one batch's features."""
        loss = clip_loss(fwd.image_features, fwd.text_features,
                         fwd.logit_scale)
        return loss, {"clip_loss": float(loss.detach())}

    distributed = True

    def training_step(self, batch, step: int) -> StepOutput:
        """The loss of the global ``batch``: on several processes each
        forwards its slice and the features are gathered with autograd
        (:mod:`fairnb.distributed`), so every term sees the whole batch."""
        world = self.context.world
        fwd = self.forward(world.local(batch))
        n = len(batch.index)
        fwd = Forward(world.gather(fwd.image_features, n),
                      world.gather(fwd.text_features, n), fwd.logit_scale)
        loss, logs = self.loss(fwd, batch)
        return StepOutput(loss, logs)

    def trainable(self) -> list[ParamGroup]:
        if self.trainable_parts == "all":
            return super().trainable()
        model = self.context.model
        names = {id(p): n for n, p in model.named_parameters()}
        params = [*model.visual.parameters(),
                  *text_blocks(model).parameters()]
        return [ParamGroup("towers", [(names[id(p)], p) for p in params])]

    def after_step(self, step: int) -> None:
        scale = getattr(self.context.model, "logit_scale", None)
        if isinstance(scale, torch.Tensor):
            with torch.no_grad():  # CLIP's temperature cap of 100
                scale.clamp_(0, math.log(100))

    def score(self, data, *, device="cpu"):
        from ..evaluate import zero_shot
        return zero_shot(self.context.bundle, data, device=device)

    def describe(self) -> str:
        return r"L = L_{CLIP}"
