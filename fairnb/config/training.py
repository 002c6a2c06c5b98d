"""The config of the training notebook, 03_fairclip: method, protocol
and engine choices; the protocol fills what the preset and the user left
open."""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, ClassVar

from ..attributes import ATTRIBUTES, check_choice
from ..choices import (
    BACKENDS,
    CONDITIONS,
    DEVICES,
    DISTANCES,
    EVAL_MASKS,
    GROUP_SOURCES,
    KEEP_CHECKPOINTS,
    LAUNCHERS,
    OPTIMIZERS,
    SAMPLERS,
    SCHEDULES,
    SELECTIONS,
    SIMILARITIES,
    TRAINABLE,
)
from ..protocols import PROTOCOLS
from .base import (
    AcquisitionConditions,
    ConfigError,
    NotebookConfig,
    check_bias,
    check_choice_cfg,
    check_range,
)


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
class FairCLIPConfig(AcquisitionConditions, NotebookConfig):
    """Parameters of ``03_fairclip.ipynb``; defaults are the demo preset
    under the ``fairnb`` protocol. Parameters not set explicitly take the
    preset's values, then the protocol's (:mod:`fairnb.protocols`), then,
    under ``fairnb``, the method's (:attr:`METHOD_VALUES`)."""

    NOTEBOOK: ClassVar[str] = "03_fairclip"
    CHOICES: ClassVar[dict[str, tuple]] = {
        "attribute": ATTRIBUTES, "distance": DISTANCES,
        "similarity": SIMILARITIES, "group_source": GROUP_SOURCES,
        "optimizer": OPTIMIZERS, "device": DEVICES,
        "protocol": tuple(PROTOCOLS), "trainable": TRAINABLE,
        "sampler": SAMPLERS, "schedule": SCHEDULES,
        "eval_mask": EVAL_MASKS, "selection": SELECTIONS,
        "backend": BACKENDS, "keep": KEEP_CHECKPOINTS,
        "train_condition": CONDITIONS,
        "test_condition": ("",) + CONDITIONS,
        "launcher": LAUNCHERS}
    PRESET_VALUES: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": {"epochs": 2, "batch_size": 32, "keep": "none"},
        "workshop": {"epochs": 3},  # about 70 s on 2 cores
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
    bias: float = 1.0
    train_condition: str = "source"
    test_condition: str = ""
    ood_conditions: str = ""
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
    keep: str = "best"
    seed: int = 0
    device: str = "auto"
    launcher: str = "inline"
    devices: int = 1
    preset: str = "demo"

    #: values a method takes under the ``fairnb`` protocol where neither
    #: the user, the preset nor the protocol set them: DBPM's loss-
    #: distribution term at FairCLIP's lambda of 10 collapses the
    #: embeddings on the demo data (every pair's loss log B, the term 0:
    #: Test AUC 0.48); 0.1 trains (AUC 0.96), 1 lowers ES-AUC (one seed
    #: each, README "Methods")
    METHOD_VALUES: ClassVar[dict[str, dict[str, Any]]] = {
        "dbpm": {"fair_weight": 0.1}}

    def _apply_preset(self, chosen: set) -> None:
        super()._apply_preset(chosen)
        check_choice_cfg("protocol", self.protocol, tuple(PROTOCOLS))
        chosen = chosen | set(self.PRESET_VALUES.get(self.preset, {}))
        for name, value in PROTOCOLS[self.protocol].items():
            if name not in chosen:
                setattr(self, name, value)
        if self.protocol == "fairnb":
            for name, value in self.METHOD_VALUES.get(self.method,
                                                      {}).items():
                if name not in chosen:
                    setattr(self, name, value)

    def check(self) -> None:
        try:
            from ..methods import available_methods
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
        check_range("seed", self.seed, low=0, high=2**32 - 1)
        check_range("devices", self.devices, low=1)
        if self.launcher == "inline" and self.devices != 1:
            raise ConfigError(
                f"devices={self.devices} needs launcher='torchrun' (inline "
                "trains in this one process); or set devices=1.")
        if self.devices > 1 and self.batch_size < self.devices:
            raise ConfigError(
                f"batch_size={self.batch_size} cannot be split over "
                f"devices={self.devices} processes; use batch_size >= "
                f"{self.devices}.")
        check_bias(self.bias, self.data_dir)
        self._normalise_conditions()
        from ..paths import is_file_value, resolve
        if self.pretrained and is_file_value(self.pretrained):
            # one rule for every path parameter: the repository root
            self.pretrained = str(resolve(self.pretrained))
        try:
            weights = parse_weights(self.attribute_weights)
        except ValueError as exc:
            raise ConfigError(f"Bad value for 'attribute_weights': {exc}"
                              ) from None
        from ..choices import PROMPT_METHODS
        if self.method in PROMPT_METHODS and not self.pretrained:
            raise ConfigError(
                f"method={self.method!r} learns prompts on a frozen backbone, "
                "and pretrained is empty: a randomly initialised CLIP, whose "
                "image features hardly differ, so the prompts stay at chance. "
                "Run 08_dualfairvl (it fine-tunes the backbone first, "
                "backbone_epochs), or pass pretrained=openai or a checkpoint "
                "file (a 03 run's best.pt).")
        if self.method == "fairclip_plus" and not weights:
            raise ConfigError(
                "method='fairclip_plus' needs attribute_weights, e.g. "
                "'race:0.5,gender:0.5'.")
        options = parse_options(self.method_options)
        from ..methods import method_parameters
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
        from ..methods import method_parameters
        accepted = method_parameters(self.method)
        out = {n: getattr(self, n) for n in METHOD_FIELDS if n in accepted}
        if "attribute_weights" in accepted and self.method != "fairclip" \
                and self.attribute_weights:
            out["attribute_weights"] = parse_weights(self.attribute_weights)
        out.update(parse_options(self.method_options))
        return out

    def train_settings(self):
        """The :class:`fairnb.engine.TrainSettings` of this config."""
        from ..engine import TrainSettings
        return TrainSettings(
            attribute=self.attribute, epochs=self.epochs,
            batch_size=self.batch_size, lr=self.lr, protocol=self.protocol,
            optimizer=self.optimizer, schedule=self.schedule,
            grad_clip=self.grad_clip, sampler=self.sampler,
            eval_mask=self.eval_mask, selection=self.selection,
            seed=self.seed, device=self.device,
            min_per_group=self.min_per_group)


