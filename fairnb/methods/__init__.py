"""Training objectives behind one interface (:class:`Method`).

``clip`` is the baseline; ``fairclip`` regularises one attribute and
``fairclip_plus`` several, with weights. Later methods (``dbpm``,
``multifair``, ``dualfairvl``) plug in here.
"""
from __future__ import annotations

from typing import Mapping

from ..attributes import check_choice
from .base import Context, Forward, Method
from .fairclip import GROUP_SOURCES, SIMILARITIES, FairCLIP, pair_similarity

METHODS = ("clip", "fairclip", "fairclip_plus")


def make_method(name: str, *, attribute: str = "race",
                attribute_weights: Mapping[str, float] | None = None,
                **options) -> Method:
    """Build a method by name.

    ``fairclip`` regularises ``attribute``; ``fairclip_plus`` uses
    ``attribute_weights`` (e.g. ``{"race": 0.5, "gender": 0.5}``).
    ``options`` go to :class:`FairCLIP`.
    """
    check_choice("method", name, METHODS)
    if name == "clip":
        return Method()
    if name == "fairclip":
        weights = {attribute: 1.0}
    else:
        weights = dict(attribute_weights or {attribute: 1.0})
    method = FairCLIP(attribute_weights=weights, **options)
    method.name = name
    return method


__all__ = ["Context", "FairCLIP", "Forward", "GROUP_SOURCES", "METHODS",
           "Method", "SIMILARITIES", "make_method", "pair_similarity"]
