"""Config of the tour (``00_tour.ipynb``): the story of the series in about
ten minutes, on the machinery of 01, 03, 04 and 06."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..attributes import ATTRIBUTES
from .base import ConfigError, NotebookConfig, check_range
from .comparison import MULTIMODAL_METHODS, PROMPT_METHODS, CompareConfig


@dataclass
class TourConfig(NotebookConfig):
    """Parameters of ``00_tour.ipynb``. Its training is the grid of
    06 (:meth:`comparison`): CLIP and ``method`` over ``seeds``, so 06 run
    with the same methods, seeds, epochs and preset reuses the tour's runs
    and trains nothing (and the other way round)."""

    NOTEBOOK: ClassVar[str] = "00_tour"
    CHOICES: ClassVar[dict[str, tuple]] = {"attribute": ATTRIBUTES}
    PRESET_VALUES: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": {"seeds": "0,1", "epochs": 1, "n_boot": 200}}

    attribute: str = "race"
    method: str = "fairclip"
    seeds: str = "0,1,2"
    epochs: int = 3
    n_boot: int = 1000
    workers: int = 1
    preset: str = "demo"

    def check(self) -> None:
        if self.method == "clip":
            raise ConfigError(
                "method='clip' would compare CLIP with itself; name the "
                "mitigation to compare with it, e.g. fairclip, groupdro.")
        if self.method in (*MULTIMODAL_METHODS, *PROMPT_METHODS):
            raise ConfigError(
                f"method={self.method!r} does not train on image-note pairs "
                "as CLIP does (07 and 08 take it); the tour compares a "
                "method of 03 with CLIP, e.g. fairclip, dbpm, groupdro.")
        check_range("epochs", self.epochs, low=1)
        self.comparison()  # seeds, method and workers, checked as 06 does

    def comparison(self) -> CompareConfig:
        """The 06 config of the tour's grid (no post-hoc rows)."""
        values = dict(methods=f"clip,{self.method}", baseline="clip",
                      seeds=self.seeds, attributes=self.attribute,
                      epochs=self.epochs, n_boot=self.n_boot,
                      workers=self.workers, posthoc="", preset=self.preset)
        return CompareConfig.create(explicit=set(values), **values)
