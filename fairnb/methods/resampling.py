"""Group resampling: plain CLIP on group-balanced batches.

Every batch gives each group of ``attribute`` the same number of places
(:class:`fairnb.data.sampler.BalancedBatchSampler`), so small groups are
seen more often and large ones less, the classic resampling baseline
(MEDFAIR's "Resampling"; Idrissi et al., "Simple data balancing achieves
competitive worst-group-accuracy", CLeaR 2022). The loss is CLIP's. Any
method can train on such batches with ``sampler="balanced"``; this one is
registered so that a comparison (06) can list it as a method.
"""
from __future__ import annotations

from ..attributes import check_attribute
from .clip import CLIP
from .registry import register_method


@register_method("resampling")
class Resampling(CLIP):
    """CLIP on group-balanced batches of ``attribute`` (module doc)."""

    def __init__(self, *, attribute: str = "race", trainable: str = "all"):
        super().__init__(trainable=trainable)
        self.attribute = check_attribute(attribute)

    def resample(self) -> str:
        return self.attribute

    def describe(self) -> str:
        return (r"L = L_{CLIP}\ \text{on batches with equal places per "
                rf"{self.attribute} group}}")
