"""Training methods behind one interface (:class:`Method`), registered by
name (:func:`register_method`, :func:`make_method`).

``clip`` is the baseline; ``fairclip`` regularises one attribute and
``fairclip_plus`` several, with weights. A new method is one new module
in this folder (see the README's "Adding a method").
"""
from __future__ import annotations

from .base import Context, Method, ParamGroup, StepOutput
from .clip import CLIP, TRAINABLE, Forward
from .fairclip import (
                       GROUP_SOURCES,
                       SIMILARITIES,
                       FairCLIP,
                       FairCLIPPlus,
                       pair_similarity,
)
from .registry import (
                       available_methods,
                       make_method,
                       method_parameters,
                       register_method,
)

__all__ = ["CLIP", "Context", "FairCLIP", "FairCLIPPlus", "Forward",
           "GROUP_SOURCES", "Method", "ParamGroup", "SIMILARITIES",
           "StepOutput", "TRAINABLE", "available_methods", "make_method",
           "method_parameters", "pair_similarity", "register_method"]
