"""Notebook configurations: the parameters cell, validated.

Each notebook has one dataclass here. Its setup cell calls
``cfg = fnb.<Config>.from_namespace(globals())``, which

- fails on a parameter the notebook does not have (papermill only *warns*
  about ``-p atribute race`` and then silently runs the default),
- checks every value (type, choices, range) and names the valid choices
  and the closest match,
- gives the parameters you did not set the chosen preset's values
  (``smoke`` | ``demo`` | ``workshop`` | ``paper``); the defaults in a
  parameters cell are the ``demo`` values.

Used in: all notebooks.
"""
from ..attributes import ATTRIBUTES  # noqa: E402 (re-exported)
from ..choices import OPTIMIZERS  # noqa: E402 (re-exported)
from .base import (
                   PRESETS,
                   ConfigError,
                   NotebookConfig,
                   check_choice_cfg,
                   check_range,
                   injected_names,
)
from .comparison import CompareConfig
from .multimodal import MultiFairConfig
from .notebooks import (
                   DashboardConfig,
                   ExploreConfig,
                   SummarizeConfig,
                   parse_splits,
)
from .probing import ProbeConfig
from .prompting import DualFairVLConfig
from .tour import TourConfig
from .training import (
                   METHOD_FIELDS,
                   FairCLIPConfig,
                   parse_options,
                   parse_weights,
)

#: notebook name -> its config class (the notebook tests use this)
CONFIGS: dict[str, type[NotebookConfig]] = {
    c.NOTEBOOK: c for c in (TourConfig, ExploreConfig, SummarizeConfig,
                            FairCLIPConfig, DashboardConfig, ProbeConfig,
                            CompareConfig, MultiFairConfig,
                            DualFairVLConfig)}

__all__ = ["ATTRIBUTES", "CONFIGS", "CompareConfig", "ConfigError",
           "DashboardConfig", "DualFairVLConfig",
           "ExploreConfig", "FairCLIPConfig", "METHOD_FIELDS",
           "MultiFairConfig",
           "NotebookConfig", "OPTIMIZERS", "PRESETS", "ProbeConfig",
           "SummarizeConfig", "TourConfig",
           "check_choice_cfg", "check_range", "injected_names",
           "parse_options", "parse_splits", "parse_weights"]
