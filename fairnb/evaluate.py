"""Zero-shot evaluation with prompts, and what a run folder keeps of it.

The official protocol (shared/METHODS.md §0.2): L2-normalised image and
prompt embeddings, ``p(glaucoma) = softmax([cos_0, cos_1])[1]`` with no
logit scale, ``y_pred = p >= 0.5``; metrics for every attribute from one
run. ``scoring="logit"`` uses the model's temperature instead (same AUC,
different accuracy).

Used in: 03_fairclip, 04_fairness_dashboard.
"""
from __future__ import annotations

import numpy as np
import torch

from .attributes import ATTRIBUTES, check_choice
from .data.torch import to_model_input
from .devices import autocast, resolve_device
from .predictions import (  # noqa: F401 (re-exported)
    Predictions,
    group_table,
    mask_predictions,
    similarity_w1,
)

DEFAULT_PROMPTS = ("A photo of non-glaucoma", "A photo of glaucoma")
SCORINGS = ("softmax", "logit")


@torch.no_grad()
def embed(bundle, data, *, device="cpu", batch_size: int = 256
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """L2-normalised image and text embeddings of a split (float32, CPU)."""
    device = resolve_device(device)
    model = bundle.model.eval()
    img, txt = [], []
    for start in range(0, len(data), batch_size):
        batch = data.batch(np.arange(start, min(start + batch_size,
                                                len(data))))
        images = to_model_input(batch.images, mean=bundle.mean,
                                std=bundle.std, device=device)
        with autocast(device):
            img.append(model.encode_image(images, normalize=True).float())
            txt.append(model.encode_text(batch.tokens.to(device),
                                         normalize=True).float())
    return torch.cat(img).cpu(), torch.cat(txt).cpu()


@torch.no_grad()
def zero_shot(bundle, data, *, prompts=DEFAULT_PROMPTS,
              scoring: str = "softmax", device="auto",
              batch_size: int = 256) -> Predictions:
    """Zero-shot glaucoma scores of a split.

    Parameters
    ----------
    bundle : fairnb.models.ModelBundle
    data : fairnb.data.torch.SplitData
    prompts : (str, str)
        Class 0 (non-glaucoma) and class 1 (glaucoma) prompts.
    scoring : {"softmax", "logit"}
        Softmax over the two cosines (official) or over logit-scaled
        cosines.
    """
    check_choice("scoring", scoring, SCORINGS)
    if len(prompts) != 2:
        raise ValueError("prompts takes two texts: non-glaucoma, glaucoma; "
                         f"got {len(prompts)}.")
    device = resolve_device(device)
    img, txt = embed(bundle, data, device=device, batch_size=batch_size)
    tokens = bundle.tokenizer(list(prompts)).to(device)
    with autocast(device):
        prompt = bundle.model.encode_text(tokens, normalize=True)
    cos = img @ prompt.float().cpu().T  # (N, 2)
    if scoring == "logit":
        cos = cos * bundle.model.logit_scale.exp().float().cpu()
    y_score = torch.softmax(cos, dim=1)[:, 1].numpy()
    return Predictions(
        ids=np.asarray(data.ids), y_true=data.labels.numpy(),
        y_score=y_score, similarity=(img * txt).sum(1).numpy(),
        attributes={a: data.attributes[:, i].numpy()
                    for i, a in enumerate(ATTRIBUTES)})
