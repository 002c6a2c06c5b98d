"""The config of the prompt-learning notebook, 08_dualfairvl: the frozen
backbone, DualFairVL's options (a reconstruction from the abstract) and
the acquisition conditions of the in- and out-of-distribution report."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..attributes import ATTRIBUTES
from ..choices import CONDITIONS, DEVICES, KEEP_CHECKPOINTS, PROMPT_METHODS
from .base import (
    AcquisitionConditions,
    NotebookConfig,
    check_bias,
    check_range,
)

#: 08 parameters handed to the method
PROMPT_FIELDS = ("attribute", "sen_weight", "orth_weight", "proto_weight",
                 "n_ctx", "prompt_depth", "n_prompts", "heads", "hidden",
                 "rank", "proto_momentum")


@dataclass
class DualFairVLConfig(AcquisitionConditions, NotebookConfig):
    """Parameters of ``08_dualfairvl.ipynb``; defaults are the demo
    preset."""

    NOTEBOOK: ClassVar[str] = "08_dualfairvl"
    CHOICES: ClassVar[dict[str, tuple]] = {
        "attribute": ATTRIBUTES, "method": PROMPT_METHODS,
        "train_condition": CONDITIONS,
        "test_condition": ("",) + CONDITIONS,
        "device": DEVICES, "keep": KEEP_CHECKPOINTS}
    PRESET_VALUES: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": {"epochs": 2, "backbone_epochs": 2, "batch_size": 32,
                  "keep": "none"},
        # a pretrained CLIP as the paper's frozen backbone
        "paper": {"model": "ViT-B-16", "pretrained": "openai",
                  "backbone_epochs": 0, "epochs": 10, "batch_size": 32},
    }

    attribute: str = "race"
    method: str = "dualfairvl"
    sen_weight: float = 0.5
    orth_weight: float = 0.1
    proto_weight: float = 0.1
    n_ctx: int = 8
    prompt_depth: int = 0
    n_prompts: int = 4
    heads: int = 4
    hidden: int = 256
    rank: int = 64
    proto_momentum: float = 0.9
    model: str = "fairnb-tiny"
    pretrained: str = ""
    backbone_epochs: int = 6
    data_dir: str = ""
    bias: float = 1.0
    summaries: str = ""
    train_condition: str = "source"
    test_condition: str = ""
    ood_conditions: str = "low_contrast,blur,noise,device_b"
    epochs: int = 4
    batch_size: int = 64
    lr: float = 1e-3
    grad_clip: float = 1.0
    seed: int = 0
    device: str = "auto"
    keep: str = "best"
    preset: str = "demo"

    def check(self) -> None:
        check_range("epochs", self.epochs, low=1)
        check_range("backbone_epochs", self.backbone_epochs, low=0)
        check_range("batch_size", self.batch_size, low=2)
        check_range("lr", self.lr, low=0)
        check_range("grad_clip", self.grad_clip, low=0)
        check_range("seed", self.seed, low=0, high=2**32 - 1)
        for name in ("sen_weight", "orth_weight", "proto_weight",
                     "prompt_depth"):
            check_range(name, getattr(self, name), low=0)
        for name in ("n_ctx", "n_prompts", "heads", "hidden", "rank"):
            check_range(name, getattr(self, name), low=1)
        check_range("proto_momentum", self.proto_momentum, low=0, high=0.999)
        check_bias(self.bias, self.data_dir)
        self._normalise_conditions()
        from ..paths import is_file_value, resolve
        if self.pretrained and is_file_value(self.pretrained):
            self.pretrained = str(resolve(self.pretrained))

    def method_kwargs(self) -> dict[str, Any]:
        """Options for :func:`fairnb.make_method` (the prompts and
        modules; the backbone is the model's)."""
        return {n: getattr(self, n) for n in PROMPT_FIELDS}

    def train_settings(self):
        """The :class:`fairnb.engine.TrainSettings` of this config (plain
        batches: the method balances nothing)."""
        from ..engine import TrainSettings
        return TrainSettings(
            attribute=self.attribute, epochs=self.epochs,
            batch_size=self.batch_size, lr=self.lr, grad_clip=self.grad_clip,
            seed=self.seed, device=self.device, sampler="plain")
