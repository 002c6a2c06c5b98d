r"""FairCLIP: CLIP plus an optimal-transport distance between the
distribution of matched-pair similarities of the batch and of each group.

.. math::
    L = L_{CLIP} + \lambda \sum_a w_a \sum_{g \in G_a}
        D\big(\{s_i\}_{i \in B},\ \{s_i\}_{i \in B_g}\big)

Options (defaults follow the paper; the ``official`` protocol sets the
released code's):

- ``similarity``: ``cosine`` (the paper's :math:`M_{ii}`), ``logit``
  (:math:`s \cdot \cos`, A-FairCLIP) or ``official``
  (:math:`\mathrm{diag}(L L)` with the group side divided by its sum, as
  the released code does; in-batch, the group side is the group's own
  sub-matrix :math:`\mathrm{diag}(L_g L_g)`, as an official group batch);
- ``group_source``: ``in_batch`` (groups taken from the current batch, with
  gradients on both sides; the sampler puts every group in every batch) or
  ``separate`` (the official extra per-group batches of
  ``group_batch_size`` under ``no_grad``, each group's samples reshuffled
  on every pass, the last batch of a pass smaller);
- ``distance``: ``sinkhorn`` (geomloss semantics) or ``wasserstein1``;
  ``blur`` for Sinkhorn; ``backend``: ``pot`` (exact gradient) or
  ``geomloss`` (the released code's float32 solver, gradient included);
- ``attribute`` (FairCLIP) or ``attribute_weights`` (FairCLIP+).

Groups with fewer than ``min_group`` samples in a batch are skipped;
Unknown (-1) samples train but never form a group.

References
----------
Luo et al., "FairCLIP: Harnessing Fairness in Vision-Language Learning",
CVPR 2024. Bakker et al., "FairCLIP reproducibility", arXiv 2509.06535.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import torch

from ..attributes import ATTRIBUTES, check_attribute, check_choice
from ..choices import GROUP_SOURCES, SIMILARITIES  # noqa: E402
from ..losses import BACKENDS, DISTANCES, distribution_distance
from .clip import CLIP, Forward
from .registry import register_method


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


@register_method("fairclip")
class FairCLIP(CLIP):
    """CLIP + group similarity-distribution distance (see module doc)."""

    def __init__(self, *, attribute: str = "race",
                 attribute_weights: Mapping[str, float] | None = None,
                 fair_weight: float = 1e-6, distance: str = "sinkhorn",
                 blur: float = 1e-4, similarity: str = "cosine",
                 group_source: str = "in_batch",
                 group_batch_size: int = 32, min_group: int = 2,
                 backend: str = "pot", trainable: str = "all"):
        super().__init__(trainable=trainable)
        weights = dict(attribute_weights or {check_attribute(attribute):
                                             1.0})
        for a in weights:
            check_attribute(a)
        check_choice("distance", distance, DISTANCES)
        check_choice("similarity", similarity, SIMILARITIES)
        check_choice("group_source", group_source, GROUP_SOURCES)
        check_choice("backend", backend, BACKENDS)
        if group_batch_size < 1 or min_group < 1:
            raise ValueError(f"group_batch_size and min_group must be >= 1"
                             f"; got {group_batch_size}, {min_group}.")
        self.weights = {a: float(w) for a, w in weights.items() if w}
        self.fair_weight, self.blur = fair_weight, blur
        self.distance, self.backend = distance, backend
        self.similarity, self.group_source = similarity, group_source
        self.group_batch_size, self.min_group = group_batch_size, min_group
        self._queues: dict[tuple[str, int], list[int]] = {}
        self._refills: dict[tuple[str, int], int] = {}

    def describe(self) -> str:
        return (r"L = L_{CLIP} + \lambda \sum_a w_a \sum_g "
                r"D(\{s_i\}_B, \{s_i\}_{B_g})")

    def balance(self) -> tuple[str, ...]:
        """Every weighted attribute for in-batch groups; none for
        separate group batches (the official code shuffles plainly)."""
        if self.group_source == "separate" or not self.fair_weight:
            return ()
        return tuple(self.weights)

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
            term = self._attribute_term(a, s, fwd, batch)
            logs[f"distance_{a}"] = float(term.detach())
            fair = fair + w * term
        logs["fair_term"] = float(fair.detach())
        return loss + self.fair_weight * fair, logs

    def _attribute_term(self, a: str, s: torch.Tensor, fwd: Forward,
                        batch) -> torch.Tensor:
        codes = batch.attributes[:, ATTRIBUTES.index(a)].to(s.device)
        term = s.new_zeros(())
        for g in torch.unique(codes[codes >= 0]).tolist():
            if self.group_source == "in_batch":
                mask = codes == g
                if int(mask.sum()) < self.min_group:
                    continue
                sg = s[mask] if self.similarity != "official" else \
                    pair_similarity(fwd.subset(mask), similarity="official")
                sg = self._normalise_group(sg)
            else:
                sg = self._separate_batch(a, int(g))
                if sg is None:
                    continue
            term = term + distribution_distance(
                s, sg, distance=self.distance, blur=self.blur,
                backend=self.backend)
        return term

    def next_group_batch(self, a: str, g: int) -> np.ndarray | None:
        """Indices of the next batch drawn from group ``g`` of ``a``: the
        group's members reshuffled on every pass (a refill counter per
        group seeds each pass), ``group_batch_size`` at a time, the last
        batch of a pass holding what is left."""
        key = (a, g)
        if not self._queues.get(key):
            members = np.flatnonzero(self.context.train.groups(a) == g)
            if len(members) == 0:
                return None
            count = self._refills.get(key, 0)
            rng = np.random.default_rng([self.context.seed,
                                         ATTRIBUTES.index(a), g, count])
            self._refills[key] = count + 1
            self._queues[key] = rng.permutation(members).tolist()
        take = self._queues[key][:self.group_batch_size]
        self._queues[key] = self._queues[key][self.group_batch_size:]
        return np.asarray(take, dtype=np.int64)

    def _separate_batch(self, a: str, g: int) -> torch.Tensor | None:
        """Similarities of the next group batch, under no_grad (the
        official code's extra group loaders)."""
        take = self.next_group_batch(a, g)
        if take is None:
            return None
        with torch.no_grad():
            fwd = self.forward(self.context.train.batch(take))
            return self._normalise_group(
                pair_similarity(fwd, similarity=self.similarity))

    def state_dict(self) -> dict:
        return {"queues": [[a, g, list(map(int, q))]
                           for (a, g), q in self._queues.items()],
                "refills": [[a, g, n] for (a, g), n in
                            self._refills.items()]}

    def load_state_dict(self, state: dict) -> None:
        self._queues = {(a, int(g)): list(q)
                        for a, g, q in state.get("queues", [])}
        self._refills = {(a, int(g)): int(n)
                         for a, g, n in state.get("refills", [])}


@register_method("fairclip_plus")
class FairCLIPPlus(FairCLIP):
    """FairCLIP+: the FairCLIP term over several attributes, weighted
    (``attribute_weights``, e.g. ``{"race": 0.5, "gender": 0.5}``)."""

    def __init__(self, *, attribute_weights: Mapping[str, float],
                 **options):
        if not attribute_weights:
            raise ValueError("fairclip_plus needs attribute_weights, e.g. "
                             "{'race': 0.5, 'gender': 0.5}.")
        super().__init__(attribute_weights=attribute_weights, **options)
