"""What 03 checks before it makes a run folder.

A bad device, a ``pretrained`` file that is missing or holds another
model, a batch too small for the groups the method balances, or a split
that cannot give a score stop here, with the parameter named and a fix
that works as written, instead of after the data is loaded and a run
folder exists (which would then sit incomplete).

Used in: 03_fairclip.
"""
from __future__ import annotations

import warnings
from pathlib import Path

from .attributes import UNKNOWN, code_to_name
from .config import ConfigError
from .paths import is_file_value


def check_device(device: str) -> None:
    """``device`` is usable here."""
    from .devices import resolve_device
    try:
        resolve_device(device)
    except RuntimeError as exc:
        raise ConfigError(f"Bad value for 'device': {exc}") from None


def check_pretrained(model: str, pretrained: str) -> None:
    """``pretrained`` is an open_clip tag of ``model`` or a readable
    checkpoint of it (a fairnb checkpoint names its model)."""
    if not pretrained:
        return
    if not is_file_value(pretrained):
        import open_clip
        if not open_clip.get_pretrained_cfg(model, pretrained):
            tags = open_clip.list_pretrained_tags_by_model(model)
            raise ConfigError(
                f"Bad value for 'pretrained': {pretrained!r} is not a "
                f"pretrained tag of {model} (tags: {', '.join(tags) or 'none'}"
                ") and not a file path. Pass a tag, a checkpoint file "
                "(relative to the repository root) or '' for random "
                "initialisation.")
        return
    path = Path(pretrained)
    if not path.is_file():
        raise ConfigError(
            f"Bad value for 'pretrained': {path} does not exist (relative "
            "paths are relative to the repository root). Pass an existing "
            "checkpoint file, e.g. runs/03_fairclip/<run>/checkpoints/"
            "best.pt.")
    from .models import read_checkpoint
    try:
        _, meta = read_checkpoint(path)
    except ValueError as exc:
        raise ConfigError(f"Bad value for 'pretrained': {exc}") from None
    stored = meta.get("model_name")
    if stored and stored != model:
        raise ConfigError(
            f"Bad value for 'pretrained': {path} is a checkpoint of model "
            f"{stored!r}, not of {model!r}. Fix: -p model {stored}.")


def check_splits(dataset, *, attribute: str) -> None:
    """Validation and Test hold both classes (else AUC, and so selection
    and the report, are undefined); warns about groups of ``attribute``
    that Test has but Training does not."""
    meta = dataset.metadata()
    for split, role in (("val", "selects the epoch"),
                        ("test", "is the report")):
        labels = set(meta.loc[meta["split"] == split, "label"])
        if len(labels) < 2:
            raise ConfigError(
                f"The {split} split of {dataset.root} holds "
                f"{'no samples' if not labels else f'only label {labels}'}"
                f"; its AUC, which {role}, is undefined. Use a dataset "
                "whose Validation and Test splits both hold glaucoma and "
                "non-glaucoma samples.")
    train = set(meta.loc[meta["split"] == "train", attribute])
    test = set(meta.loc[meta["split"] == "test", attribute])
    absent = sorted(test - train - {UNKNOWN})
    if absent:
        names = ", ".join(code_to_name(attribute, g) for g in absent)
        warnings.warn(
            f"{attribute} group(s) {names} appear in Test but not in "
            "Training: the model never saw them and the fairness term "
            "cannot act on them; their Test numbers measure transfer only.",
            stacklevel=2)


def check_batches(method, settings, dataset) -> None:
    """The training batch can hold the groups ``method`` balances."""
    from .engine import train_sampler
    meta = dataset.metadata("train")
    try:
        train_sampler(method, settings, lambda a: meta[a].to_numpy(),
                      n=len(meta))
    except ValueError as exc:
        raise ConfigError(f"Bad value for 'batch_size': {exc}") from None


def check_training(cfg, *, method, dataset) -> None:
    """Every check above for a 03 config, its method and its dataset."""
    check_device(cfg.device)
    check_pretrained(cfg.model, cfg.pretrained)
    check_splits(dataset, attribute=cfg.attribute)
    check_batches(method, cfg.train_settings(), dataset)


__all__ = ["check_batches", "check_device", "check_pretrained",
           "check_splits", "check_training", "is_file_value"]
