"""The validation framework behind every notebook config.

``cfg = fnb.<Config>.from_namespace(globals())`` fails on a parameter the
notebook does not have (papermill only *warns* about ``-p atribute race``
and then runs the default), checks every value (type, choices, range)
naming the valid choices and the closest match, and gives the parameters
you did not set the chosen preset's values.
"""
from __future__ import annotations

import ast
import dataclasses
import math
import os
import types
import typing
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from ..attributes import check_choice, closest

#: smoke (tests), demo (the default), workshop (every notebook in about two
#: minutes on 2 CPU cores, on the demo data: docs/workshop.md), paper
PRESETS: tuple[str, ...] = ("smoke", "demo", "workshop", "paper")


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


def session_preset() -> str:
    """The preset a session runs notebooks with by default
    (``FAIRNB_PRESET``, e.g. ``make lab PRESET=workshop``), or ``""``.
    A notebook's parameters cell left at ``preset = "demo"`` takes it; a
    preset given with papermill's ``-p`` or edited in the cell wins."""
    value = os.environ.get("FAIRNB_PRESET", "").strip()
    if value and value not in PRESETS:
        near = closest(value, list(PRESETS))
        raise ConfigError(
            f"FAIRNB_PRESET={value!r} is not a preset; valid: "
            f"{', '.join(PRESETS)}." + (f" Did you mean {near!r}?" if near
                                        else "") + " Unset it for demo.")
    return value


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
        value = float(value)
    if kind is float and isinstance(value, float) and not math.isfinite(
            value):
        raise ConfigError(f"Parameter {name!r} must be a finite number, "
                          f"got {value!r}.")
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
        session = session_preset()
        if session and "preset" not in set(injected) | set(overrides) and \
                values.get("preset", "demo") == "demo":
            values["preset"] = session  # the cell's default left as it is
            print(f"preset {session!r} (FAIRNB_PRESET; set -p preset to "
                  "choose another)")
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




def check_bias(bias: float, data_dir: str) -> None:
    """The planted-disparity strength of the synthetic stand-in
    (``bias``, :meth:`fairnb.Bias.scaled`) lies in its range and is not
    combined with a dataset folder."""
    from ..data.synthetic import MAX_BIAS_LEVEL
    check_range("bias", bias, low=0, high=MAX_BIAS_LEVEL)
    if data_dir and float(bias) != 1.0:
        raise ConfigError(
            f"Parameter 'bias' = {bias!r} sets the planted disparity of the "
            f"synthetic stand-in, but data_dir = {data_dir!r} reads a "
            "dataset folder; leave data_dir empty to vary the planted gap, "
            "or keep bias at 1.")


def parse_conditions(name: str, value, *, exclude: str = "") -> list[str]:
    """A comma-separated list of acquisition conditions
    (:data:`fairnb.choices.CONDITIONS`; ``""`` or ``none``: none), in
    order, without repeats and without ``exclude``; a bad name raises
    :class:`ConfigError` naming the valid ones.

    Examples
    --------
    >>> parse_conditions("ood_conditions", "blur,noise,blur", exclude="noise")
    ['blur']
    """
    from ..choices import CONDITIONS
    text = str(value).strip()
    if text in ("", "none"):
        return []
    items = [s.strip() for s in text.split(",") if s.strip()]
    for c in items:
        if c not in CONDITIONS:
            hint = closest(c, CONDITIONS)
            raise ConfigError(
                f"Bad value in {name!r}: {c!r}. Valid: "
                f"{', '.join(CONDITIONS)}, or none."
                + (f" Did you mean {hint!r}?" if hint else ""))
    return [c for c in dict.fromkeys(items) if c != exclude]


class AcquisitionConditions:
    """What a training config with ``train_condition``, ``test_condition``
    and ``ood_conditions`` (03, 08) does with them
    (:mod:`fairnb.data.shift`)."""

    def condition(self, split: str) -> str:
        """The acquisition condition of ``split``: Training and Validation
        (selection stays in distribution) take ``train_condition``, Test
        ``test_condition`` (empty: the same)."""
        if split == "test" and self.test_condition:
            return self.test_condition
        return self.train_condition

    def conditions(self) -> dict[str, str]:
        """``{split: condition}`` of the three splits."""
        return {s: self.condition(s) for s in ("train", "val", "test")}

    @property
    def ood_condition_list(self) -> list[str]:
        """Conditions Test is scored under besides its own: the training
        condition first where Test has another (the in-distribution
        reference), then ``ood_conditions``."""
        own = self.condition("test")
        extra = parse_conditions("ood_conditions", self.ood_conditions,
                                 exclude=own)
        first = [self.train_condition] if own != self.train_condition \
            else []
        return first + [c for c in extra if c not in first]

    def _normalise_conditions(self) -> None:
        """One spelling per meaning, so equal runs are found again: a Test
        condition equal to the training one is empty, ``ood_conditions``
        without repeats or the Test condition; bad names raise."""
        if self.test_condition == self.train_condition:
            self.test_condition = ""
        self.ood_conditions = ",".join(parse_conditions(
            "ood_conditions", self.ood_conditions,
            exclude=self.condition("test")))
