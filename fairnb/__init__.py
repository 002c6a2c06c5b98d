"""fairnb: assess and mitigate demographic performance gaps in medical
vision-language (CLIP-style) models, one notebook at a time.

Notebooks use ``import fairnb as fnb`` and call the names below.
"""
from . import attributes, config, data, explore, notes, paths, plots, runs
from .attributes import (
                         ATTRIBUTES,
                         LABEL_NAMES,
                         PAPER_ATTRIBUTES,
                         SCHEMA,
                         UNKNOWN,
                         code_to_name,
                         group_names,
                         name_to_code,
)
from .config import ConfigError, ExploreConfig
from .data import (
                         Bias,
                         DatasetError,
                         ensure_synthetic,
                         make_synthetic,
                         open_dataset,
                         read_dataset,
)
from .runs import Run, latest, list_runs, resolve_run, start_run

__version__ = "0.1.0"

__all__ = [
    "ATTRIBUTES", "Bias", "ConfigError", "DatasetError", "ExploreConfig",
    "LABEL_NAMES", "PAPER_ATTRIBUTES", "Run", "SCHEMA", "UNKNOWN",
    "attributes", "code_to_name", "config", "data", "ensure_synthetic",
    "explore", "group_names", "latest", "list_runs", "make_synthetic",
    "name_to_code", "notes", "open_dataset", "paths", "plots",
    "read_dataset", "resolve_run", "runs", "start_run",
]
