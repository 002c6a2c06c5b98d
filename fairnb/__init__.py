"""fairnb: assess and mitigate demographic performance gaps in medical
vision-language (CLIP-style) models, one notebook at a time.

Notebooks use ``import fairnb as fnb`` and call the names below. Nothing
heavy loads at ``import fairnb``: each submodule (and torch, open_clip,
POT, transformers behind it) is imported the first time one of its names
is used (PEP 562); 04 never loads torch.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> the submodule that defines it
_NAMES = {
    "ATTRIBUTES": "attributes", "LABEL_NAMES": "attributes",
    "PAPER_ATTRIBUTES": "attributes", "SCHEMA": "attributes",
    "UNKNOWN": "attributes", "code_to_name": "attributes",
    "group_names": "attributes", "name_to_code": "attributes",
    "ConfigError": "config", "DashboardConfig": "config",
    "ExploreConfig": "config", "FairCLIPConfig": "config",
    "SummarizeConfig": "config", "CompareConfig": "config",
    "ProbeConfig": "config", "MultiFairConfig": "config",
    "DualFairVLConfig": "config", "TourConfig": "config",
    "frozen_backbone": "backbones",
    "Bias": "data", "DatasetError": "data", "ensure_synthetic": "data",
    "make_synthetic": "data", "open_dataset": "sources",
    "read_dataset": "data",
    "load_split": "data.torch",
    "Predictions": "predictions", "zero_shot": "evaluate",
    "ensure_summaries": "sources", "open_run_dataset": "sources",
    "record_data": "sources",
    "Method": "methods", "available_methods": "methods",
    "make_method": "methods", "register_method": "methods",
    "create_model": "models",
    "Run": "runs", "latest": "runs", "list_runs": "runs",
    "resolve_run": "runs", "start_run": "runs",
    "History": "engine", "TrainSettings": "engine", "train": "engine",
    "LiveCurves": "callbacks",
}
_MODULES = ("attributes", "backbones", "callbacks", "checkpoints", "choices",
            "comparison", "config",
            "dashboard", "data", "deid", "engine", "evaluate", "explore",
            "environment", "exercises", "features", "jobs", "probes",
            "losses",
            "methods", "metrics", "models", "multimodal", "notes", "optim",
            "paths",
            "plots", "posthoc", "predictions", "preflight", "protocols",
            "run_status",
            "runs", "selection", "shifts", "sources", "summarize",
            "summary_quality",
            "sweep",
            "tokens", "uncertainty", "workshop")

__all__ = sorted(_NAMES) + list(_MODULES)


def __getattr__(name: str):
    if name in _NAMES:
        value = getattr(importlib.import_module(f".{_NAMES[name]}",
                                                __name__), name)
    elif name in _MODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'fairnb' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
