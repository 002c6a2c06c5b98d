"""fairnb: assess and mitigate demographic performance gaps in medical
vision-language (CLIP-style) models, one notebook at a time.

Notebooks use ``import fairnb as fnb`` and call the names below.
"""
from . import (attributes, callbacks, checkpoints, config, dashboard, data,
               deid, evaluate, explore, losses, methods, metrics, models,
               notes, paths, plots, protocols, runs, summarize,
               summary_quality)
from .attributes import (ATTRIBUTES, LABEL_NAMES, PAPER_ATTRIBUTES, SCHEMA,
                         UNKNOWN, code_to_name, group_names, name_to_code)
from .config import (ConfigError, DashboardConfig, ExploreConfig,
                     FairCLIPConfig, SummarizeConfig)
from .data import (Bias, DatasetError, ensure_synthetic, make_synthetic,
                   open_dataset, read_dataset)
from .data.torch import load_split
from .evaluate import Predictions, zero_shot
from .methods import (Method, available_methods, make_method,
                      register_method)
from .models import create_model
from .runs import Run, latest, list_runs, resolve_run, start_run
from .train import History, LiveCurves, TrainSettings, train

__version__ = "0.1.0"

__all__ = [
    "ATTRIBUTES", "Bias", "ConfigError", "DashboardConfig", "dashboard",
    "DatasetError", "ExploreConfig",
    "FairCLIPConfig", "History", "LABEL_NAMES", "LiveCurves",
    "PAPER_ATTRIBUTES", "Predictions", "Run", "SCHEMA", "TrainSettings",
    "UNKNOWN", "attributes", "code_to_name", "config", "create_model",
    "SummarizeConfig", "data", "deid", "ensure_synthetic", "evaluate",
    "explore", "group_names",
    "latest", "list_runs", "load_split", "losses", "make_method",
    "make_synthetic", "methods", "metrics", "models", "name_to_code",
    "notes", "open_dataset", "paths", "plots", "read_dataset",
    "resolve_run", "runs", "start_run", "summarize", "summary_quality",
    "train", "zero_shot", "Method", "available_methods",
    "register_method", "callbacks", "checkpoints", "protocols",
]
