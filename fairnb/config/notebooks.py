"""Configs of the data, summary and dashboard notebooks (01, 02, 04)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..attributes import ATTRIBUTES, parse_attributes
from ..data.fairvlmed import SPLITS as SPLIT_NAMES
from ..summarize import DEID_ENGINES, SUMMARIZERS
from .base import (
    ConfigError,
    NotebookConfig,
    check_bias,
    check_choice_cfg,
    check_range,
)


@dataclass
class ExploreConfig(NotebookConfig):
    """Parameters of ``01_explore_data.ipynb``."""

    NOTEBOOK: ClassVar[str] = "01_explore_data"
    CHOICES: ClassVar[dict[str, tuple]] = {
        "split": ("all", "train", "val", "test")}

    data_dir: str = ""
    bias: float = 1.0
    split: str = "all"
    attributes: Any = "all"
    preset: str = "demo"
    n_examples: int = 3

    def check(self) -> None:
        check_bias(self.bias, self.data_dir)
        try:
            self.attributes = parse_attributes(self.attributes)
        except ValueError as exc:
            raise ConfigError(f"Bad value for 'attributes': {exc}") from None
        check_range("n_examples", self.n_examples, low=1, high=16)


def parse_splits(value) -> tuple[str, ...]:
    """``"all"`` or ``"train,test"`` (or a list) -> split names."""
    items = (value if isinstance(value, (list, tuple))
             else str(value).split(","))
    items = [str(s).strip() for s in items if str(s).strip()]
    if items in ([], ["all"]):
        return SPLIT_NAMES
    for s in items:
        check_choice_cfg("split", s, SPLIT_NAMES + ("all",))
    return tuple(s for s in SPLIT_NAMES if s in items)


@dataclass
class SummarizeConfig(NotebookConfig):
    """Parameters of ``02_summarize_notes.ipynb``."""

    NOTEBOOK: ClassVar[str] = "02_summarize_notes"
    CHOICES: ClassVar[dict[str, tuple]] = {
        "summarizer": SUMMARIZERS, "output": ("run", "dataset"),
        "deid": DEID_ENGINES}

    data_dir: str = ""
    summarizer: str = "extractive"
    model_path: str = ""
    base_url: str = ""
    model_name: str = ""
    max_chars: int = 180
    splits: Any = "all"
    limit: int = 0
    output: str = "run"
    deid: str = "auto"
    batch_size: int = 16
    timeout: float = 30.0
    retries: int = 2
    preset: str = "demo"

    def check(self) -> None:
        self.splits = list(parse_splits(self.splits))
        check_range("timeout", self.timeout, low=1, high=600)
        check_range("retries", self.retries, low=0, high=10)
        check_range("max_chars", self.max_chars, low=20, high=1000)
        check_range("limit", self.limit, low=0)
        check_range("batch_size", self.batch_size, low=1)
        if self.summarizer == "transformers" and not self.model_path:
            raise ConfigError(
                "summarizer='transformers' needs model_path: a local "
                "folder with config.json, tokenizer and weights (downloads "
                "are disabled), e.g. -p model_path /models/flan-t5-base.")
        if self.summarizer == "openai" and not (self.base_url
                                                and self.model_name):
            raise ConfigError(
                "summarizer='openai' needs base_url and model_name, e.g. "
                "-p base_url http://localhost:8000/v1 -p model_name "
                "meta-llama/Llama-3.1-8B-Instruct; the key is read from "
                "the OPENAI_API_KEY environment variable only.")
        if self.summarizer == "openai" and self.deid == "off":
            raise ConfigError(
                "deid='off' with summarizer='openai' would send clinical "
                "text off this machine unscrubbed; use deid='auto'.")


@dataclass
class DashboardConfig(NotebookConfig):
    """Parameters of ``04_fairness_dashboard.ipynb``."""

    NOTEBOOK: ClassVar[str] = "04_fairness_dashboard"
    CHOICES: ClassVar[dict[str, tuple]] = {
        "attribute": ATTRIBUTES, "interactive": ("auto", "on", "off")}
    PRESET_VALUES: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": {"n_boot": 200}, "paper": {"n_boot": 2000}}

    run: str = ""
    compare_to: str = ""
    attribute: str = "race"
    threshold: float = 0.5
    n_boot: int = 1000
    include_unknown: bool = False
    posthoc: str = "demographic_parity,equalized_odds,equal_opportunity"
    interactive: str = "auto"
    preset: str = "demo"

    def check(self) -> None:
        check_range("threshold", self.threshold, low=0, high=1)
        check_range("n_boot", self.n_boot, low=50)
        from ..posthoc import parse_constraints
        try:
            parse_constraints(self.posthoc)
        except ValueError as exc:
            raise ConfigError(f"Bad value in 'posthoc': {exc}") from None


#: notebook name -> its config class (the notebook tests use this)
