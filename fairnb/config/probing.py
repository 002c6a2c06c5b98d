"""The config of the linear-probe notebook, 05_linear_probe."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..attributes import ATTRIBUTES
from ..choices import DEVICES
from .base import ConfigError, NotebookConfig, check_bias, check_range

FAMILIES = ("clip", "blip2")
FEATURES = ("image", "multimodal")
PROBES = ("logistic", "mae")


@dataclass
class ProbeConfig(NotebookConfig):
    """Parameters of ``05_linear_probe.ipynb``."""

    NOTEBOOK: ClassVar[str] = "05_linear_probe"
    CHOICES: ClassVar[dict[str, tuple]] = {
        "backbone_family": FAMILIES, "features": FEATURES, "probe": PROBES,
        "attribute": ATTRIBUTES, "device": DEVICES}
    PRESET_VALUES: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": {"n_boot": 200}}

    run: str = ""
    model: str = ""
    pretrained: str = ""
    backbone_family: str = "clip"
    features: str = "image"
    probe: str = "logistic"
    attribute: str = "race"
    data_dir: str = ""
    bias: float = 1.0
    summaries: str = ""
    n_boot: int = 1000
    seed: int = 0
    device: str = "auto"
    preset: str = "demo"

    def check(self) -> None:
        check_range("n_boot", self.n_boot, low=50)
        check_range("seed", self.seed, low=0, high=2**32 - 1)
        check_bias(self.bias, self.data_dir)
        from ..paths import is_file_value, resolve
        if self.backbone_family == "blip2":
            if not self.pretrained:
                raise ConfigError(
                    "backbone_family='blip2' needs pretrained: a local "
                    "BLIP-2 folder (saved with save_pretrained, with its "
                    "image processor), e.g. -p pretrained models/blip2.")
            self.pretrained = str(resolve(self.pretrained))
        elif self.pretrained and not self.model:
            raise ConfigError(
                "pretrained needs model (the open_clip model it belongs "
                "to, e.g. -p model ViT-B-16 -p pretrained openai), or leave "
                "both empty to probe a 03 run's selected weights.")
        elif self.pretrained and is_file_value(self.pretrained):
            self.pretrained = str(resolve(self.pretrained))
