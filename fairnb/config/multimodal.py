"""The config of the MultiFair notebook, 07_multifair: the two-modality
classifier, its gradient modulation and the baselines trained beside
it."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from ..attributes import ATTRIBUTES
from ..choices import (
    DEVICES,
    DIRECTIONS,
    FAIR_LOSSES,
    KEEP_CHECKPOINTS,
    MODALITY_PAIRS,
    MODULATIONS,
    MULTIFAIR_RELEASED,
    MULTIMODAL_BASELINES,
    MULTIMODAL_METHODS,
)
from .base import ConfigError, NotebookConfig, check_bias, check_range

#: 07 parameters every method of the classifier takes (the architecture)
MULTIMODAL_FIELDS = ("attribute", "modalities", "dim", "heads", "layers",
                     "oct_slices")
#: 07 parameters of MultiFair's gradient modulation (``multifair`` only:
#: its baselines train without it)
MODULATION_FIELDS = ("modulation", "rho", "lambda_gm", "mu_f", "tau",
                     "kappa", "direction", "fair_loss", "max_factor")


#: the one modality each single-modality baseline needs
ONLY = {"note_only": "note", "oct_only": "oct"}


def check_modalities(methods, modalities: str) -> None:
    """Each single-modality method's modality is in the pair (``note_only``
    needs ``slo+note``, ``oct_only`` ``slo+oct``)."""
    for m in methods:
        needed = ONLY.get(m)
        if needed and needed not in modalities.split("+"):
            pair = "slo+note" if needed == "note" else "slo+oct"
            raise ConfigError(f"method={m!r} needs modalities={pair}; got "
                              f"{modalities!r}.")


@dataclass
class MultiFairConfig(NotebookConfig):
    """Parameters of ``07_multifair.ipynb``; defaults are the demo preset.
    ``tau``, ``kappa``, ``dim``, ``heads`` and ``layers`` default to the
    released code's values for ``slo+note``; with ``slo+oct`` those not
    set explicitly take its values for ``slo+oct`` (METHODS.md §3.4,
    :data:`fairnb.choices.MULTIFAIR_RELEASED`)."""

    NOTEBOOK: ClassVar[str] = "07_multifair"
    CHOICES: ClassVar[dict[str, tuple]] = {
        "attribute": ATTRIBUTES, "method": MULTIMODAL_METHODS,
        "modalities": MODALITY_PAIRS, "modulation": MODULATIONS,
        "direction": DIRECTIONS, "fair_loss": FAIR_LOSSES,
        "device": DEVICES, "keep": KEEP_CHECKPOINTS}
    PRESET_VALUES: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": {"epochs": 2, "oct_slices": 4, "keep": "none"},
        "workshop": {"epochs": 2},  # four methods: about 2 min on 2 cores
        # the released code's FairCLIP-data settings (METHODS.md §3.4) on
        # ViT-B/16 with OpenAI weights (the released code: HF ViT + BERT)
        "paper": {"model": "ViT-B-16", "pretrained": "openai",
                  "epochs": 10, "batch_size": 32, "lr": 3e-5},
    }

    attribute: str = "gender"
    method: str = "multifair"
    baselines: str = "auto"
    modalities: str = "slo+note"
    modulation: str = "dual"
    direction: str = "off"
    fair_loss: str = "constant"
    rho: float = 1.2
    lambda_gm: float = 0.15
    mu_f: float = 0.5
    tau: float = 0.07
    kappa: float = 0.5
    max_factor: float = 0.0
    dim: int = 256
    heads: int = 8
    layers: int = 3
    oct_slices: int = 10
    model: str = "fairnb-tiny"
    pretrained: str = ""
    data_dir: str = ""
    bias: float = 1.0
    summaries: str = ""
    epochs: int = 6
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 6e-3
    grad_clip: float = 0.8
    seed: int = 0
    device: str = "auto"
    keep: str = "best"
    preset: str = "demo"

    def _apply_preset(self, chosen: set) -> None:
        super()._apply_preset(chosen)
        for name, value in MULTIFAIR_RELEASED.get(self.modalities,
                                                  {}).items():
            if name not in chosen:
                setattr(self, name, value)

    def check(self) -> None:
        check_range("epochs", self.epochs, low=1)
        check_range("batch_size", self.batch_size, low=2)
        check_range("lr", self.lr, low=0)
        check_range("weight_decay", self.weight_decay, low=0)
        check_range("grad_clip", self.grad_clip, low=0)
        check_range("oct_slices", self.oct_slices, low=1, high=200)
        check_range("seed", self.seed, low=0, high=2**32 - 1)
        for name in ("rho", "lambda_gm", "mu_f", "kappa", "max_factor"):
            check_range(name, getattr(self, name), low=0)
        for name in ("dim", "heads", "layers"):
            check_range(name, getattr(self, name), low=1)
        if self.tau <= 0:
            raise ConfigError(f"Parameter 'tau' = {self.tau!r} must be > 0.")
        check_bias(self.bias, self.data_dir)
        check_modalities([self.method], self.modalities)
        if self.modalities == "slo+oct" and self.summaries:
            raise ConfigError("summaries= is for modalities='slo+note'; the "
                              "FairVision data have no notes.")
        for m in self.baseline_list:
            if m not in MULTIMODAL_METHODS:
                raise ConfigError(
                    f"Bad value in 'baselines': {m!r}. Valid: auto, none, "
                    f"or of {', '.join(MULTIMODAL_METHODS)}.")
        check_modalities(self.baseline_list, self.modalities)
        from ..paths import is_file_value, resolve
        if self.pretrained and is_file_value(self.pretrained):
            self.pretrained = str(resolve(self.pretrained))

    @property
    def baseline_list(self) -> list[str]:
        """The methods trained beside ``method`` (``auto``: plain fusion
        and each modality alone; ``none`` or empty: none)."""
        text = str(self.baselines).strip()
        if text == "auto":
            items = list(MULTIMODAL_BASELINES[self.modalities])
        elif text in ("", "none"):
            items = []
        else:
            items = [s.strip() for s in text.split(",") if s.strip()]
        return [m for m in items if m != self.method]

    @property
    def method_list(self) -> list[str]:
        """``method`` then its baselines, each its own run folder."""
        return [self.method, *self.baseline_list]

    def for_method(self, method: str) -> "MultiFairConfig":
        """This config for one method and no baselines: the
        ``params.json`` of that method's run folder (06 runs the same)."""
        return dataclasses.replace(self, method=method, baselines="none")

    @property
    def n_slices(self) -> int:
        """B-scans per sample the data must hold."""
        return self.oct_slices if self.modalities == "slo+oct" else 0

    def method_kwargs(self) -> dict[str, Any]:
        """Options for :func:`fairnb.make_method`: the architecture, and
        for ``multifair`` the modulation (its baselines train without
        it)."""
        fields = MULTIMODAL_FIELDS + (MODULATION_FIELDS if self.method ==
                                      "multifair" else ())
        out = {n: getattr(self, n) for n in fields}
        if "max_factor" in out:  # 0: no upper clamp
            out["max_factor"] = out["max_factor"] or None
        return out

    def train_settings(self):
        """The :class:`fairnb.engine.TrainSettings` of this config."""
        from ..engine import TrainSettings
        return TrainSettings(
            attribute=self.attribute, epochs=self.epochs,
            batch_size=self.batch_size, lr=self.lr,
            weight_decay=self.weight_decay, grad_clip=self.grad_clip,
            seed=self.seed, device=self.device, sampler="plain")
