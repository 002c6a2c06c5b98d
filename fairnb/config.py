"""Notebook configurations: the parameters cell, validated.

Each notebook has one dataclass here. Its setup cell calls
``cfg = fnb.<Config>.from_namespace(globals())``, which

- fails on a parameter the notebook does not have (papermill only *warns*
  about ``-p atribute race`` and then silently runs the default),
- checks every value (type, choices, range) and names the valid choices
  and the closest match,
- gives the parameters you did not set the chosen preset's values
  (``smoke`` | ``demo`` | ``paper``); the defaults in a parameters cell
  are the ``demo`` values.

Used in: all notebooks.
"""
from __future__ import annotations

import ast
import dataclasses
import types
import typing
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from .attributes import ATTRIBUTES, check_choice, closest, parse_attributes
from .choices import (
    BACKENDS,
    DEVICES,
    DISTANCES,
    EVAL_MASKS,
    GROUP_SOURCES,
    OPTIMIZERS,
    SAMPLERS,
    SCHEDULES,
    SELECTIONS,
    SIMILARITIES,
    TRAINABLE,
)
from .data.fairvlmed import SPLITS as SPLIT_NAMES
from .protocols import PROTOCOLS
from .summarize import DEID_ENGINES, SUMMARIZERS

PRESETS: tuple[str, ...] = ("smoke", "demo", "paper")


class ConfigError(ValueError):
    """A notebook parameter is unknown or has a bad value."""


def injected_names(namespace: dict) -> list[str]:
    """Names assigned in papermill's injected-parameters cell, if any.

    papermill writes the injected cell with a ``# Parameters`` header; the
    kernel's input history (``In``) holds its source.
    """
    history = namespace.get("In") or namespace.get("_ih") or []
    for source in reversed(list(history)):
        if isinstance(source, str) and source.lstrip().startswith(
                "# Parameters"):
            return _assigned_names(source)
    return []


def _assigned_names(source: str) -> list[str]:
    names = []
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def _base_type(annotation) -> tuple[type, bool]:
    """(type, optional) from an annotation like ``int | None``."""
    if isinstance(annotation, str):
        annotation = eval(annotation, vars(typing) | vars(types))
    args = typing.get_args(annotation)
    if args:
        non_none = [a for a in args if a is not type(None)]
        return non_none[0], len(non_none) < len(args)
    return annotation, False


def _coerce(name: str, value, kind: type, optional: bool):
    if value is None:
        if optional:
            return None
        raise ConfigError(f"Parameter {name!r} must not be None.")
    if kind is float and isinstance(value, int) and not isinstance(
            value, bool):
        return float(value)
    if kind is bool and value in ("True", "False", "true", "false"):
        return str(value).lower() == "true"
    if kind is str and isinstance(value, (int, float)) and not isinstance(
            value, bool):
        return str(value)
    if kind in (list, tuple, Any):
        return value
    if not isinstance(value, kind) or (kind is int and isinstance(
            value, bool)):
        raise ConfigError(
            f"Parameter {name!r} must be {kind.__name__}, got {value!r} "
            f"({type(value).__name__}).")
    return value


@dataclass
class NotebookConfig:
    """Base of all notebook configs (see module docstring)."""

    NOTEBOOK: ClassVar[str] = ""
    #: valid values per parameter name
    CHOICES: ClassVar[dict[str, tuple]] = {}
    #: values of the parameters a preset changes (others keep defaults)
    PRESET_VALUES: ClassVar[dict[str, dict[str, Any]]] = {}
    # Subclasses declare their fields, ``preset`` among them, in the order
    # of the notebook's parameters cell.

    @classmethod
    def parameter_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_namespace(cls, namespace: dict, **overrides):
        """Build and validate the config from a notebook's ``globals()``."""
        names = cls.parameter_names()
        injected = injected_names(namespace)
        cls._check_known(injected)
        values = {n: namespace[n] for n in names if n in namespace}
        values.update(overrides)
        return cls.create(explicit=set(injected) | set(overrides), **values)

    @classmethod
    def _check_known(cls, given) -> None:
        names = cls.parameter_names()
        unknown = [n for n in given if n not in names]
        if unknown:
            hints = [f"{n!r} (did you mean {closest(n, names)!r}?)"
                     if closest(n, names) else repr(n) for n in unknown]
            raise ConfigError(
                f"Unknown parameter {', '.join(hints)} for "
                f"{cls.NOTEBOOK or cls.__name__}. Valid parameters: "
                f"{', '.join(names)}.")

    @classmethod
    def create(cls, *, explicit=(), **values):
        """Validate keyword values (unknown names raise) into a config.

        Parameters the caller did not set explicitly (not in ``explicit``
        and equal to their default) take the preset's value.
        """
        cls._check_known(values)
        hints = typing.get_type_hints(cls)
        coerced = {}
        for n, v in values.items():
            kind, optional = _base_type(hints[n])
            coerced[n] = _coerce(n, v, kind, optional)
        defaults = {f.name: f.default for f in fields(cls)}
        chosen = set(explicit) | {n for n, v in coerced.items()
                                  if v != defaults[n]}
        cfg = cls(**coerced)
        cfg._apply_preset(chosen)
        cfg._check_choices()
        cfg.check()
        return cfg

    def _check_choices(self) -> None:
        check_choice_cfg("preset", self.preset, PRESETS)
        for name, choices in self.CHOICES.items():
            value = getattr(self, name)
            if value is not None:
                check_choice_cfg(name, value, choices)

    def _apply_preset(self, chosen: set) -> None:
        check_choice_cfg("preset", self.preset, PRESETS)
        for name, value in self.PRESET_VALUES.get(self.preset, {}).items():
            if name not in chosen:
                setattr(self, name, value)

    def check(self) -> None:
        """Extra checks of a subclass (ranges, combinations)."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def check_choice_cfg(name: str, value, choices) -> None:
    """:func:`check_choice` raising :class:`ConfigError`."""
    try:
        check_choice(f"value for {name!r}:", value, choices)
    except ValueError as exc:
        msg = str(exc).replace("Unknown value for", "Bad value for")
        raise ConfigError(msg) from None


def check_range(name: str, value, *, low=None, high=None) -> None:
    """Raise ConfigError unless ``low <= value <= high``."""
    if value is None:
        return
    if (low is not None and value < low) or (
            high is not None and value > high):
        raise ConfigError(
            f"Parameter {name!r} = {value!r} is out of range "
            f"[{low if low is not None else '-inf'}, "
            f"{high if high is not None else 'inf'}].")


@dataclass
class ExploreConfig(NotebookConfig):
    """Parameters of ``01_explore_data.ipynb``."""

    NOTEBOOK: ClassVar[str] = "01_explore_data"
    CHOICES: ClassVar[dict[str, tuple]] = {
        "split": ("all", "train", "val", "test")}

    data_dir: str = ""
    split: str = "all"
    attributes: Any = "all"
    preset: str = "demo"
    n_examples: int = field(default=4)

    def check(self) -> None:
        try:
            self.attributes = parse_attributes(self.attributes)
        except ValueError as exc:
            raise ConfigError(f"Bad value for 'attributes': {exc}") from None
        check_range("n_examples", self.n_examples, low=1, high=16)


__all__ = ["ATTRIBUTES", "ConfigError", "DashboardConfig", "ExploreConfig",
           "FairCLIPConfig", "SummarizeConfig", "parse_splits",
           "NotebookConfig", "OPTIMIZERS", "PRESETS", "check_range",
           "injected_names", "parse_options"]


def parse_weights(value) -> dict[str, float]:
    """``"race:0.5,gender:0.5"`` or a dict -> ``{"race": 0.5, ...}``."""
    if isinstance(value, dict):
        items = list(value.items())
    else:
        items = []
        for part in str(value).split(","):
            if part.strip():
                name, _, w = part.partition(":")
                items.append((name.strip(), w.strip() or "1"))
    out = {}
    for name, w in items:
        check_choice("attribute", name, ATTRIBUTES)
        try:
            out[name] = float(w)
        except ValueError:
            raise ConfigError(f"Weight {w!r} of {name!r} is not a number; "
                              "write e.g. race:0.5,gender:0.5.") from None
    return out


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
    preset: str = "demo"

    def check(self) -> None:
        self.splits = list(parse_splits(self.splits))
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


def parse_options(value) -> dict[str, Any]:
    """``'{"k": 1}'`` (JSON), ``"k=1,name=x"`` (or ``k:1``) or a dict ->
    options; values are Python literals where they parse, else strings.

    Examples
    --------
    >>> parse_options("min_group:3,backend=pot")
    {'min_group': 3, 'backend': 'pot'}
    """
    import json
    if isinstance(value, dict):
        return dict(value)
    text = str(value).strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            out = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"method_options is not valid JSON: {exc}."
                              ) from None
        return out
    out = {}
    for part in text.split(","):
        name, sep, raw = part.partition("=" if "=" in part else ":")
        if not sep or not name.strip():
            raise ConfigError(
                f"method_options part {part!r} is not name=value; write "
                "e.g. min_group:3,backend:pot or a JSON object.")
        try:
            out[name.strip()] = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            out[name.strip()] = raw.strip()
    return out


#: 03 parameters handed to a method that accepts them
METHOD_FIELDS = ("attribute", "fair_weight", "blur", "distance",
                 "similarity", "group_source", "group_batch_size",
                 "trainable", "backend")


@dataclass
class FairCLIPConfig(NotebookConfig):
    """Parameters of ``03_fairclip.ipynb``; defaults are the demo preset
    under the ``fairnb`` protocol. Parameters not set explicitly take the
    preset's values, then the protocol's (:mod:`fairnb.protocols`)."""

    NOTEBOOK: ClassVar[str] = "03_fairclip"
    CHOICES: ClassVar[dict[str, tuple]] = {
        "attribute": ATTRIBUTES, "distance": DISTANCES,
        "similarity": SIMILARITIES, "group_source": GROUP_SOURCES,
        "optimizer": OPTIMIZERS, "device": DEVICES,
        "protocol": tuple(PROTOCOLS), "trainable": TRAINABLE,
        "sampler": SAMPLERS, "schedule": SCHEDULES,
        "eval_mask": EVAL_MASKS, "selection": SELECTIONS,
        "backend": BACKENDS}
    PRESET_VALUES: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": {"epochs": 2, "batch_size": 32},
        # ViT-B/16 + OpenAI weights, the released code's protocol and
        # hyperparameters (shared/METHODS.md §1.4)
        "paper": {"model": "ViT-B-16", "pretrained": "openai",
                  "epochs": 10, "batch_size": 32, "lr": 1e-5,
                  "protocol": "official"},
    }

    attribute: str = "race"
    method: str = "fairclip"
    fair_weight: float = 10.0
    blur: float = 1e-4
    distance: str = "sinkhorn"
    similarity: str = "cosine"
    group_source: str = "in_batch"
    group_batch_size: int = 32
    attribute_weights: str = ""
    method_options: str = ""
    model: str = "fairnb-tiny"
    pretrained: str = ""
    trainable: str = "all"
    data_dir: str = ""
    summaries: str = ""
    protocol: str = "fairnb"
    epochs: int = 6
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adamw"
    schedule: str = "cosine"
    grad_clip: float = 1.0
    sampler: str = "auto"
    min_per_group: int = 2
    eval_mask: str = "all"
    selection: str = "val"
    backend: str = "pot"
    seed: int = 0
    device: str = "auto"
    preset: str = "demo"

    def _apply_preset(self, chosen: set) -> None:
        super()._apply_preset(chosen)
        check_choice_cfg("protocol", self.protocol, tuple(PROTOCOLS))
        chosen = chosen | set(self.PRESET_VALUES.get(self.preset, {}))
        for name, value in PROTOCOLS[self.protocol].items():
            if name not in chosen:
                setattr(self, name, value)

    def check(self) -> None:
        try:
            from .methods import available_methods
            check_choice("method", self.method, available_methods())
        except ValueError as exc:
            raise ConfigError(str(exc).replace("Unknown method",
                                               "Bad value for 'method':")
                              ) from None
        check_range("fair_weight", self.fair_weight, low=0)
        check_range("blur", self.blur, low=0)
        check_range("epochs", self.epochs, low=1)
        check_range("batch_size", self.batch_size, low=2)
        check_range("group_batch_size", self.group_batch_size, low=1)
        check_range("lr", self.lr, low=0)
        check_range("grad_clip", self.grad_clip, low=0)
        check_range("min_per_group", self.min_per_group, low=0)
        try:
            weights = parse_weights(self.attribute_weights)
        except ValueError as exc:
            raise ConfigError(f"Bad value for 'attribute_weights': {exc}"
                              ) from None
        if self.method == "fairclip_plus" and not weights:
            raise ConfigError(
                "method='fairclip_plus' needs attribute_weights, e.g. "
                "'race:0.5,gender:0.5'.")
        options = parse_options(self.method_options)
        from .methods import method_parameters
        unknown = set(options) - set(method_parameters(self.method))
        if unknown:
            raise ConfigError(
                f"method_options {sorted(unknown)} are not options of "
                f"method {self.method!r}; its options: "
                f"{', '.join(method_parameters(self.method))}.")

    def weights(self) -> dict[str, float]:
        """Attribute weights of the fairness term."""
        if self.method == "fairclip_plus":
            return parse_weights(self.attribute_weights)
        return {self.attribute: 1.0}

    def deviations(self) -> dict[str, tuple]:
        """Choices that differ from the protocol's: name -> (value,
        protocol value)."""
        return {n: (getattr(self, n), v) for n, v in
                PROTOCOLS[self.protocol].items() if getattr(self, n) != v}

    def method_kwargs(self) -> dict[str, Any]:
        """Options for :func:`fairnb.make_method`: the 03 parameters the
        method accepts, then ``method_options``."""
        from .methods import method_parameters
        accepted = method_parameters(self.method)
        out = {n: getattr(self, n) for n in METHOD_FIELDS if n in accepted}
        if "attribute_weights" in accepted and self.method != "fairclip" \
                and self.attribute_weights:
            out["attribute_weights"] = parse_weights(self.attribute_weights)
        out.update(parse_options(self.method_options))
        return out

    def train_settings(self):
        """The :class:`fairnb.engine.TrainSettings` of this config."""
        from .engine import TrainSettings
        return TrainSettings(
            attribute=self.attribute, epochs=self.epochs,
            batch_size=self.batch_size, lr=self.lr, protocol=self.protocol,
            optimizer=self.optimizer, schedule=self.schedule,
            grad_clip=self.grad_clip, sampler=self.sampler,
            eval_mask=self.eval_mask, selection=self.selection,
            seed=self.seed, device=self.device,
            min_per_group=self.min_per_group)


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
    interactive: str = "auto"
    preset: str = "demo"

    def check(self) -> None:
        check_range("threshold", self.threshold, low=0, high=1)
        check_range("n_boot", self.n_boot, low=50)


#: notebook name -> its config class (the notebook tests use this)
CONFIGS: dict[str, type[NotebookConfig]] = {
    c.NOTEBOOK: c for c in (ExploreConfig, SummarizeConfig, FairCLIPConfig,
                            DashboardConfig)}
__all__ += ["CONFIGS"]
