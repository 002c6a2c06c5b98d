"""Zero-shot evaluation with prompts, and what a run folder keeps of it.

The official protocol (shared/METHODS.md §0.2): L2-normalised image and
prompt embeddings, ``p(glaucoma) = softmax([cos_0, cos_1])[1]`` with no
logit scale, ``y_pred = p >= 0.5``; metrics for every attribute from one
run. ``scoring="logit"`` uses the model's temperature instead (same AUC,
different accuracy).

Used in: 03_fairclip, 04_fairness_dashboard.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import ot
import torch

from .attributes import ATTRIBUTES, check_choice, code_to_name, group_slug
from .data.torch import to_model_input
from .devices import autocast, resolve_device
from .metrics import summarize
from .runs import atomic_write_bytes

DEFAULT_PROMPTS = ("A photo of non-glaucoma", "A photo of glaucoma")
SCORINGS = ("softmax", "logit")


@dataclass
class Predictions:
    """Zero-shot outputs of one split, as saved in ``predictions.npz``."""

    ids: np.ndarray
    y_true: np.ndarray
    y_score: np.ndarray
    similarity: np.ndarray  # cos(image_i, text_i) of matched pairs
    attributes: dict[str, np.ndarray] = field(default_factory=dict)

    def save(self, path) -> None:
        buf = io.BytesIO()
        np.savez(buf, ids=self.ids.astype(str), y_true=self.y_true,
                 y_score=self.y_score, similarity=self.similarity,
                 **{f"attr_{a}": v for a, v in self.attributes.items()})
        atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path) -> "Predictions":
        with np.load(path) as z:
            attrs = {k[5:]: z[k] for k in z.files if k.startswith("attr_")}
            return cls(ids=z["ids"], y_true=z["y_true"], y_score=z["y_score"],
                       similarity=z["similarity"], attributes=attrs)

    def subset(self, mask) -> "Predictions":
        """The samples where ``mask`` (bool, shape (n,)) is True."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self.y_true.shape:
            raise ValueError(f"mask has shape {mask.shape}; the predictions "
                             f"{self.y_true.shape}.")
        return Predictions(
            ids=self.ids[mask], y_true=self.y_true[mask],
            y_score=self.y_score[mask], similarity=self.similarity[mask],
            attributes={a: v[mask] for a, v in self.attributes.items()})

    def metrics(self, *, threshold: float = 0.5,
                include_unknown: bool = False) -> dict[str, float]:
        """Flat metrics (:func:`fairnb.metrics.summarize`) plus the
        similarity W1 of every group."""
        out = summarize(self.y_true, self.y_score,
                        attributes=self.attributes, threshold=threshold,
                        include_unknown=include_unknown)
        out.update(similarity_w1(self.similarity, self.attributes))
        return out


def mask_predictions(pred: Predictions, eval_mask: str = "all"
                     ) -> Predictions:
    """``pred`` under an evaluation mask: ``all`` keeps every sample,
    ``official`` only those known in race, gender, ethnicity and language
    (what the released FairCLIP code evaluates on)."""
    from .metrics import official_mask
    check_choice("eval_mask", eval_mask, ("all", "official"))
    if eval_mask == "all":
        return pred
    return pred.subset(official_mask(pred.attributes))


def similarity_w1(similarity: np.ndarray,
                  attributes: dict[str, np.ndarray]) -> dict[str, float]:
    r"""``similarity_w1_<attribute>_<group>``: the 1-D Wasserstein-1
    distance between a group's matched-pair similarities and all of them,
    :math:`W_1(\{s_i\}_{A_i=g}, \{s_i\})` — the quantity FairCLIP acts on.
    """
    s = np.asarray(similarity, dtype=np.float64).reshape(-1, 1)
    out = {}
    for a, codes in attributes.items():
        for g in sorted(set(np.unique(codes)) - {-1}):
            part = s[codes == g]
            key = f"similarity_w1_{a}_{group_slug(code_to_name(a, g))}"
            out[key] = float(ot.wasserstein_1d(part, s, p=1)[0])
    return out


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


def group_table(pred: Predictions, *, include_unknown: bool = False):
    """Tidy per-group table for ``by_group.csv``: columns ``attribute,
    group, metric, value, n, ci_low, ci_high`` (metrics ``auc``, ``acc``,
    ``similarity_w1``; CIs are empty here and filled by the dashboard's
    bootstrap)."""
    import pandas as pd

    from .attributes import group_names

    flat = pred.metrics(include_unknown=include_unknown)
    rows = []
    for a in pred.attributes:
        for name in group_names(a, include_unknown=include_unknown):
            slug = group_slug(name)
            n = flat.get(f"n_{a}_{slug}", 0)
            for metric in ("auc", "acc", "similarity_w1"):
                key = (f"similarity_w1_{a}_{slug}" if metric ==
                       "similarity_w1" else f"{metric}_{a}_{slug}")
                if key in flat:
                    rows.append((a, name, metric, flat[key], n, np.nan,
                                 np.nan))
    return pd.DataFrame(rows, columns=["attribute", "group", "metric",
                                       "value", "n", "ci_low", "ci_high"])
