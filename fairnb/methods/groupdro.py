r"""GroupDRO: CLIP trained on the worst group's loss, softly.

Group distributionally robust optimisation (Sagawa et al., ICLR 2020,
their online algorithm) on CLIP's per-sample contrastive losses, grouped
by one attribute. Each step computes every group's mean loss
:math:`\bar\ell_g` in the batch, moves the group weights by exponentiated
gradient ascent and trains on the weighted sum:

.. math::
    q_g \leftarrow \frac{q_g\, e^{\eta \bar\ell_g}}
                        {\sum_h q_h\, e^{\eta \bar\ell_h}}, \qquad
    L = \sum_g q_g\, \bar\ell_g

A group absent from a batch has :math:`\bar\ell_g = 0` there (its weight
keeps its share of the others' updates), as in the authors' code.
Samples Unknown for the attribute form one more group when Training has
any, so they still train and are never left behind. The weights are
logged every step and epoch and survive checkpoint and resume.

References
----------
Sagawa, Koh, Hashimoto, Liang, "Distributionally Robust Neural Networks
for Group Shifts", ICLR 2020.
"""
from __future__ import annotations

import torch

from ..attributes import (
    ATTRIBUTES,
    UNKNOWN,
    check_attribute,
    code_to_name,
    group_codes,
    group_slug,
)
from ..losses import clip_loss_per_sample
from .clip import CLIP, Forward
from .registry import register_method


@register_method("groupdro")
class GroupDRO(CLIP):
    """CLIP + GroupDRO over the groups of ``attribute`` (module doc).

    Parameters
    ----------
    attribute : str
        Whose groups are weighted.
    eta : float
        Step size of the group weights (Sagawa et al.: 0.01).
    trainable : {"all", "towers"}
        As :class:`~fairnb.methods.CLIP`.
    """

    def __init__(self, *, attribute: str = "race", eta: float = 0.01,
                 trainable: str = "all"):
        super().__init__(trainable=trainable)
        if not eta >= 0:
            raise ValueError(f"eta must be >= 0, got {eta!r}.")
        self.attribute, self.eta = check_attribute(attribute), float(eta)
        self.codes = list(group_codes(attribute))
        self.q = torch.full((len(self.codes),), 1 / len(self.codes),
                            dtype=torch.float64)

    def setup(self, context) -> None:
        super().setup(context)
        codes = list(group_codes(self.attribute))
        if (context.train.groups(self.attribute) == UNKNOWN).any():
            codes.append(UNKNOWN)
        # a fresh run starts uniform; resume restores q afterwards
        self.codes = codes
        self.q = torch.full((len(codes),), 1 / len(codes),
                            dtype=torch.float64)

    @property
    def names(self) -> list[str]:
        return [code_to_name(self.attribute, c) for c in self.codes]

    def weights(self) -> dict[str, float]:
        """The current group weights q, by group name."""
        return dict(zip(self.names, map(float, self.q)))

    def loss(self, fwd: Forward, batch) -> tuple[torch.Tensor, dict]:
        per = clip_loss_per_sample(fwd.image_features, fwd.text_features,
                                   fwd.logit_scale)
        codes = batch.attributes[:, ATTRIBUTES.index(self.attribute)].to(
            per.device)
        losses = torch.stack([per[codes == c].mean() if bool(
            (codes == c).any()) else per.new_zeros(()) for c in self.codes])
        with torch.no_grad():
            q = self.q.to(per.device) * torch.exp(
                self.eta * losses.detach().double())
            self.q = (q / q.sum()).cpu()
        loss = (self.q.to(per.device, per.dtype) * losses).sum()
        logs = {"clip_loss": float(per.mean().detach()),
                "dro_loss": float(loss.detach())}
        logs.update({f"q_{group_slug(n)}": w for n, w in
                     self.weights().items()})
        return loss, logs

    def epoch_logs(self) -> dict[str, float]:
        return {f"q_{group_slug(n)}": w for n, w in self.weights().items()}

    def state_dict(self) -> dict:
        return {"codes": list(self.codes), "q": self.q.tolist()}

    def load_state_dict(self, state: dict) -> None:
        if state.get("codes") is not None:
            self.codes = [int(c) for c in state["codes"]]
            self.q = torch.tensor(state["q"], dtype=torch.float64)

    def describe(self) -> str:
        return (r"L = \sum_g q_g \bar\ell_g,\ q_g \propto q_g "
                r"e^{\eta \bar\ell_g}")
