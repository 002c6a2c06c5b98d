r"""FairCLIP: CLIP plus an optimal-transport distance between the
distribution of matched-pair similarities of the batch and of each group.

.. math::
    L = L_{CLIP} + \lambda \sum_a w_a \sum_{g \in G_a}
        D\big(\{s_i\}_{i \in B},\ \{s_i\}_{i \in B_g}\big)

Options (defaults follow the paper; shared/METHODS.md §1):

- ``similarity``: ``cosine`` (the paper's :math:`M_{ii}`), ``logit``
  (:math:`s \cdot \cos`, A-FairCLIP) or ``official``
  (:math:`\mathrm{diag}(L L)` with the group side divided by its sum, as
  the released code does);
- ``group_source``: ``in_batch`` (groups taken from the current batch, with
  gradients on both sides) or ``separate`` (the official extra per-group
  batches under ``no_grad``);
- ``distance``: ``sinkhorn`` (geomloss semantics via POT) or
  ``wasserstein1``; ``blur`` for Sinkhorn;
- ``attribute_weights``: one attribute is FairCLIP, several FairCLIP+.

Groups with fewer than 2 samples in a batch are skipped; Unknown (-1)
samples train but never form a group.

References
----------
Luo et al., "FairCLIP: Harnessing Fairness in Vision-Language Learning",
CVPR 2024. Bakker et al., "FairCLIP reproducibility", arXiv 2509.06535.
"""
from __future__ import annotations

from typing import ClassVar, Mapping

import numpy as np
import torch

from ..attributes import ATTRIBUTES, check_attribute, check_choice
from ..losses import DISTANCES, distribution_distance
from .base import Forward, Method

SIMILARITIES = ("cosine", "logit", "official")
GROUP_SOURCES = ("in_batch", "separate")


def pair_similarity(fwd: Forward, *, similarity: str) -> torch.Tensor:
    r"""Per-pair similarities of a batch, shape (B,).

    ``cosine``: :math:`\cos(I_i, T_i)`; ``logit``: :math:`s\cos(I_i, T_i)`;
    ``official``: :math:`(L L)_{ii} = \sum_k L_{ik} L_{ki}` with
    :math:`L = s\,I T^\top` (what the released FairCLIP code computes).
    """
    dtype = torch.promote_types(fwd.image_features.dtype, torch.float32)
    img, txt = fwd.image_features.to(dtype), fwd.text_features.to(dtype)
    if similarity == "cosine":
        return (img * txt).sum(-1)
    if similarity == "logit":
        return fwd.logit_scale.to(dtype) * (img * txt).sum(-1)
    if similarity == "official":
        logits = fwd.logit_scale.to(dtype) * img @ txt.T
        return (logits * logits.T).sum(-1)
    check_choice("similarity", similarity, SIMILARITIES)


class FairCLIP(Method):
    """CLIP + group similarity-distribution distance (see module doc)."""

    name: ClassVar[str] = "fairclip"

    def __init__(self, *, attribute_weights: Mapping[str, float],
                 fair_weight: float = 1e-6, distance: str = "sinkhorn",
                 blur: float = 1e-4, similarity: str = "cosine",
                 group_source: str = "in_batch",
                 group_batch_size: int = 32):
        for a in attribute_weights:
            check_attribute(a)
        check_choice("distance", distance, DISTANCES)
        check_choice("similarity", similarity, SIMILARITIES)
        check_choice("group_source", group_source, GROUP_SOURCES)
        self.weights = {a: float(w) for a, w in attribute_weights.items()
                        if w}
        self.fair_weight, self.blur = fair_weight, blur
        self.distance = distance
        self.similarity, self.group_source = similarity, group_source
        self.group_batch_size = group_batch_size
        self._queues: dict = {}

    def describe(self) -> str:
        return (r"L = L_{CLIP} + \lambda \sum_a w_a \sum_g "
                r"D(\{s_i\}_B, \{s_i\}_{B_g})")

    def _normalise_group(self, s: torch.Tensor) -> torch.Tensor:
        # the released code divides the group side by its sum (B5)
        return s / s.sum() if self.similarity == "official" else s

    def loss(self, fwd: Forward, batch) -> tuple[torch.Tensor, dict]:
        loss, logs = super().loss(fwd, batch)
        if not self.fair_weight or not self.weights:
            return loss, logs
        s = pair_similarity(fwd, similarity=self.similarity)
        fair = s.new_zeros(())
        for a, w in self.weights.items():
            term = self._attribute_term(a, s, batch)
            logs[f"distance_{a}"] = float(term.detach())
            fair = fair + w * term
        logs["fair_term"] = float(fair.detach())
        return loss + self.fair_weight * fair, logs

    def _attribute_term(self, a: str, s: torch.Tensor, batch
                        ) -> torch.Tensor:
        codes = batch.attributes[:, ATTRIBUTES.index(a)].to(s.device)
        term = s.new_zeros(())
        for g in torch.unique(codes[codes >= 0]).tolist():
            if self.group_source == "in_batch":
                mask = codes == g
                if int(mask.sum()) < 2:
                    continue
                sg = self._normalise_group(s[mask])
            else:
                sg = self._separate_batch(a, int(g))
                if sg is None:
                    continue
            term = term + distribution_distance(
                s, sg, distance=self.distance, blur=self.blur)
        return term

    def _separate_batch(self, a: str, g: int) -> torch.Tensor | None:
        """Similarities of the next batch drawn from group ``g`` alone,
        under no_grad (the official code's extra group loaders)."""
        ctx = self.context
        key = (a, g)
        if key not in self._queues or len(self._queues[key]) < 2:
            members = np.flatnonzero(ctx.train.groups(a) == g)
            if len(members) < 2:
                return None
            rng = np.random.default_rng([ctx.seed, ATTRIBUTES.index(a), g,
                                         len(self._queues)])
            self._queues[key] = list(rng.permutation(members))
        take = self._queues[key][:self.group_batch_size]
        self._queues[key] = self._queues[key][self.group_batch_size:]
        with torch.no_grad():
            fwd = ctx.forward(ctx.train.batch(np.asarray(take)))
            return self._normalise_group(
                pair_similarity(fwd, similarity=self.similarity))
