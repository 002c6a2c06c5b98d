"""The config of the method-comparison notebook, 06_compare_methods: the
grid (methods x seeds x attributes) of 03 runs and the statistics."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..attributes import check_choice, parse_attributes
from ..choices import (  # noqa: E402
    CONDITIONS,
    EXECUTORS,
    MODALITY_PAIRS,
    MULTIMODAL_METHODS,
    PROMPT_METHODS,
    SELECTION_RULES,
)
from .base import ConfigError, NotebookConfig, check_bias, check_range


def parse_axes(value: str) -> dict[str, list]:
    """``"fair_weight:1|10|100,blur:1e-4|1e-2"`` (``=`` for ``:`` too)
    -> ``{"fair_weight": [1, 10, 100], "blur": [0.0001, 0.01]}`` (values
    as Python literals where they parse).

    Examples
    --------
    >>> parse_axes("fair_weight:1|10")
    {'fair_weight': [1, 10]}
    """
    import ast
    out = {}
    for part in str(value).split(","):
        if not part.strip():
            continue
        name, sep, raw = part.partition("=" if "=" in part else ":")
        if not sep or not name.strip() or not raw.strip():
            raise ConfigError(
                f"grid_options part {part!r} is not name:v1|v2; write e.g. "
                "fair_weight:1|10|100.")
        values = []
        for v in raw.split("|"):
            try:
                values.append(ast.literal_eval(v.strip()))
            except (ValueError, SyntaxError):
                values.append(v.strip())
        out[name.strip()] = values
    return out


def parse_list(name: str, value) -> list[str]:
    """``"a,b"`` (or a list) -> ``["a", "b"]``; empty is an error."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(
        ",")
    items = [str(i).strip() for i in items if str(i).strip()]
    if not items:
        raise ConfigError(f"Parameter {name!r} needs at least one value, "
                          "comma-separated.")
    return items


@dataclass
class CompareConfig(NotebookConfig):
    """Parameters of ``06_compare_methods.ipynb``."""

    NOTEBOOK: ClassVar[str] = "06_compare_methods"
    CHOICES: ClassVar[dict[str, tuple]] = {"executor": EXECUTORS,
                                           "selection": SELECTION_RULES,
                                           "modalities": MODALITY_PAIRS}
    PRESET_VALUES: ClassVar[dict[str, dict[str, Any]]] = {
        "smoke": {"seeds": "0,1", "n_boot": 300, "workers": 2},
        # the tour's grid (00): after it, 06 trains nothing
        "workshop": {"epochs": 3, "n_boot": 1000},
        "paper": {"attributes": "race,gender,ethnicity,language"},
    }

    methods: str = "clip,fairclip"
    baseline: str = "clip"
    seeds: str = "0,1,2"
    attributes: str = "race"
    epochs: int = 0
    grid_options: str = ""
    selection: str = "auc"
    data_dir: str = ""
    bias_levels: str = ""
    modalities: str = "slo+note"
    test_conditions: str = ""
    posthoc: str = "demographic_parity,equalized_odds,equal_opportunity"
    n_boot: int = 2000
    workers: int = 1
    executor: str = "local"
    slurm_options: str = ""
    preset: str = "demo"

    def check(self) -> None:
        from ..methods import available_methods
        methods = parse_list("methods", self.methods)
        for m in methods:
            try:
                check_choice("method", m, available_methods())
            except ValueError as exc:
                raise ConfigError(f"Bad value in 'methods': {exc}") from None
        if self.modalities == "slo+oct" and any(
                m not in MULTIMODAL_METHODS for m in methods):
            others = [m for m in methods if m not in MULTIMODAL_METHODS]
            valid = ", ".join(MULTIMODAL_METHODS)
            raise ConfigError(
                "modalities='slo+oct' reads the FairVision data, which only "
                f"the two-modality classifiers ({valid}) train on; remove "
                f"{', '.join(others)} or use modalities='slo+note'.")
        from .multimodal import check_modalities
        check_modalities(methods, self.modalities)
        if self.baseline not in methods:
            raise ConfigError(f"baseline {self.baseline!r} is not one of "
                              f"methods ({', '.join(methods)}); add it or "
                              "choose one of them.")
        try:
            seeds = [int(s) for s in parse_list("seeds", self.seeds)]
        except ValueError:
            raise ConfigError(f"Parameter 'seeds' = {self.seeds!r}: write "
                              "non-negative integers, e.g. 0,1,2.") from None
        if min(seeds) < 0 or len(set(seeds)) < len(seeds):
            raise ConfigError(f"Parameter 'seeds' = {self.seeds!r}: seeds "
                              "must be distinct and >= 0.")
        try:
            parse_attributes(self.attributes)
        except ValueError as exc:
            raise ConfigError(f"Bad value for 'attributes': {exc}") from None
        from ..posthoc import parse_constraints
        try:
            parse_constraints(self.posthoc)
        except ValueError as exc:
            raise ConfigError(f"Bad value in 'posthoc': {exc}") from None
        check_range("epochs", self.epochs, low=0)
        check_range("n_boot", self.n_boot, low=100)
        check_range("workers", self.workers, low=1, high=64)
        from .training import parse_options
        parse_options(self.slurm_options)
        from ..methods import method_parameters
        from .multimodal import MultiFairConfig
        from .prompting import DualFairVLConfig
        from .training import FairCLIPConfig
        axes = parse_axes(self.grid_options)
        if "modalities" in axes:
            raise ConfigError(
                "grid_options varies 'modalities', which changes the data "
                "(FairVLMed or FairVision); use the modalities parameter and "
                "one comparison per modality pair.")
        if {"test_condition", "train_condition", "ood_conditions"} & set(
                axes):
            raise ConfigError(
                "grid_options varies an acquisition condition: that is a "
                "data condition, not a setting to select; use "
                "test_conditions, e.g. -p test_conditions source,device_b.")
        conditions = self.test_condition_list
        for c in conditions:
            if c not in CONDITIONS:
                raise ConfigError(
                    f"Bad value in 'test_conditions': {c!r}. Valid: "
                    f"{', '.join(CONDITIONS)}.")
        if len(set(conditions)) < len(conditions):
            raise ConfigError(f"Parameter 'test_conditions' = "
                              f"{self.test_conditions!r} repeats a condition.")
        multimodal = [m for m in methods if m in MULTIMODAL_METHODS]
        if conditions and multimodal:
            raise ConfigError(
                f"test_conditions shifts the fundus images of 03 and 08 runs;"
                f" the two-modality classifiers ({', '.join(multimodal)}, "
                "07) do not take it. Compare them without test_conditions.")
        if "bias" in axes:
            raise ConfigError(
                "grid_options varies 'bias', the planted disparity of the "
                "data: that is a data condition, not a setting to select; "
                "use bias_levels, e.g. -p bias_levels 0,1,2.")
        levels = self.bias_level_list
        for level in levels:
            try:
                check_bias(level, self.data_dir)
            except ConfigError as exc:
                raise ConfigError(f"Bad value in 'bias_levels': {exc}"
                                  ) from None
        if len(set(levels)) < len(levels):
            raise ConfigError(f"Parameter 'bias_levels' = "
                              f"{self.bias_levels!r} repeats a level.")
        for name, value in (("epochs", self.epochs),
                            ("data_dir", self.data_dir)):
            if name in axes and value:
                raise ConfigError(
                    f"grid_options varies {name!r} and the {name!r} "
                    "parameter sets it too; keep one of them.")
        known = set(FairCLIPConfig.parameter_names()) | set(
            MultiFairConfig.parameter_names()) | set(
            DualFairVLConfig.parameter_names())
        for name in axes:
            if name not in known or not any(
                    name in method_parameters(m) or name in (
                        "lr", "epochs", "batch_size") for m in methods):
                raise ConfigError(
                    f"grid_options names {name!r}, which no method in "
                    f"{', '.join(methods)} takes; vary a 03 parameter of "
                    "a method, e.g. fair_weight:1|10|100.")

    @property
    def bias_level_list(self) -> list[float]:
        """The planted-disparity levels of the grid (empty: the data's
        own, no ``bias`` axis)."""
        if not str(self.bias_levels).strip():
            return []
        try:
            return [float(v) for v in parse_list("bias_levels",
                                                 self.bias_levels)]
        except ValueError:
            raise ConfigError(
                f"Parameter 'bias_levels' = {self.bias_levels!r}: write "
                "numbers from 0 (no planted gap) to 2.375, e.g. 0,1,2."
            ) from None

    @property
    def test_condition_list(self) -> list[str]:
        """The acquisition conditions Test is scored under
        (:mod:`fairnb.data.shift`), by the one model each cell trains;
        empty: Test as stored, no ``test_condition`` column."""
        text = str(self.test_conditions).strip()
        return [c.strip() for c in text.split(",") if c.strip()] \
            if text else []

    @property
    def conditions(self) -> list[str]:
        """The 03 parameters that change the data (tables are computed
        per value): ``bias`` with ``bias_levels``, ``test_condition``
        with ``test_conditions``."""
        return (["bias"] if self.bias_level_list else []) + (
            ["test_condition"] if self.test_condition_list else [])

    @property
    def method_list(self) -> list[str]:
        return parse_list("methods", self.methods)

    @property
    def seed_list(self) -> list[int]:
        return [int(s) for s in parse_list("seeds", self.seeds)]

    @property
    def attribute_list(self) -> list[str]:
        return list(parse_attributes(self.attributes))

    def cells(self):
        """The grid of runs (:func:`fairnb.sweep.grid`): every method,
        seed, attribute and planted-disparity level, with this preset (and
        ``epochs``, ``data_dir`` when set); finished runs keep no
        checkpoints (06 reads their predictions only). CLIP-style methods
        run 03; the two-modality classifiers (MultiFair, its baselines)
        run 07 with ``modalities``, one method per run; prompt learning
        on a frozen backbone (DualFairVL) runs 08, its backbone trained
        for ``epochs`` where those are set (the baseline's budget).
        ``test_conditions`` become every 03 and 08 cell's
        ``ood_conditions``: each trained model scores Test under each."""
        from ..methods import method_parameters
        from ..sweep import grid
        from .multimodal import MODULATION_FIELDS
        fixed = {"preset": self.preset, "keep": "none"}
        if self.epochs:
            fixed["epochs"] = self.epochs
        if self.data_dir:
            fixed["data_dir"] = self.data_dir
        if self.bias_level_list:
            fixed["bias"] = self.bias_level_list
        if self.test_condition_list:  # one model, Test scored under each
            fixed["ood_conditions"] = ",".join(self.test_condition_list)
        axes = parse_axes(self.grid_options)
        cells = []
        for m in self.method_list:  # an axis only where the method has it
            own = {k: v for k, v in axes.items() if (
                k in method_parameters(m) and not (
                    m in MULTIMODAL_METHODS and m != "multifair"
                    and k in MODULATION_FIELDS))
                or k in ("lr", "epochs", "batch_size")}
            if m in MULTIMODAL_METHODS:
                cells += grid("07_multifair", method=m, baselines="none",
                              modalities=self.modalities, **own,
                              seed=self.seed_list,
                              attribute=self.attribute_list, **fixed)
                continue
            if m in PROMPT_METHODS:
                backbone = {"backbone_epochs": fixed["epochs"]} if \
                    "epochs" in fixed else {}
                cells += grid("08_dualfairvl", method=m, **own, **backbone,
                              seed=self.seed_list,
                              attribute=self.attribute_list, **fixed)
                continue
            cells += grid("03_fairclip", method=m, **own,
                          seed=self.seed_list,
                          attribute=self.attribute_list, **fixed)
        return cells

    @property
    def axes(self) -> list[str]:
        """The 03 parameters ``grid_options`` varies."""
        return list(parse_axes(self.grid_options))

    def slurm(self) -> dict:
        """submitit parameters from ``slurm_options`` (e.g.
        ``slurm_partition:gpu,gpus_per_node:1,timeout_min:120``)."""
        from .training import parse_options
        return {"timeout_min": 120, **parse_options(self.slurm_options)}
