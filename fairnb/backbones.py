"""The frozen backbone of a prompt-learning method.

Prompt learning (:mod:`fairnb.methods.dualfairvl`) keeps a *pretrained*
CLIP fixed. Our machines have no pretrained weights offline, and a
randomly initialised CLIP's image features barely differ between images
(cosine spread ~2e-4 on the stand-in: nothing for prompts to work on), so
:func:`frozen_backbone` can first fine-tune the model with the ``clip``
method for ``epochs`` on the Training split — the recipe a 03 ``clip``
run with the same seed, epochs, batch size and learning rate follows —
and caches the weights, so every prompt run on the same data and seed
starts from the same backbone. ``epochs=0`` keeps the model as created
(``pretrained="openai"`` with ViT-B-16: the paper's setting).

Used in: 08_dualfairvl.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass
class Backbone:
    """What :func:`frozen_backbone` did: ``source`` ("as created",
    "trained now" or "cache"), the epochs and the cache file."""

    source: str
    epochs: int
    path: Path | None = None
    val_auc: float = float("nan")


#: bump when the recipe changes, so older cached backbones are not read
VERSION = 1


def _key(bundle, train, val, *, epochs: int, seed: int, lr: float,
         batch_size: int) -> str:
    """A hash of everything the fine-tuned weights depend on: the initial
    weights, the Training images, labels and texts, the Validation ids
    (selection), the condition and the recipe."""
    h = hashlib.sha256(json.dumps([VERSION, bundle.name, train.ids, val.ids,
                                   train.condition, epochs, seed, lr,
                                   batch_size]).encode())
    h.update("\n".join(train.texts).encode())
    for tensor in (train.images, train.labels, val.labels,
                   *bundle.model.state_dict().values()):
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes()
                 if tensor.dtype != torch.bfloat16 else
                 tensor.detach().cpu().float().numpy().tobytes())
    return h.hexdigest()[:16]


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in name)


def frozen_backbone(bundle, train, val, *, epochs: int, seed: int = 0,
                    lr: float = 1e-3, batch_size: int = 64,
                    device: str = "auto", cache_dir=None,
                    attribute: str = "race") -> Backbone:
    """Fine-tune ``bundle.model`` in place with ``clip`` for ``epochs``
    on ``train`` (selected on ``val``), or load the weights a previous
    call cached for the same model, images, labels, texts, condition, seed
    and settings; ``epochs=0`` leaves the model as it is."""
    if epochs < 0:
        raise ValueError(f"backbone epochs must be >= 0, got {epochs}.")
    if epochs == 0:
        return Backbone("as created", 0)
    from .checkpoints import save_checkpoint
    from .engine import TrainSettings
    from .engine import train as run_training
    from .methods import make_method
    from .paths import data_dir
    folder = Path(cache_dir) if cache_dir else data_dir() / "cache" / \
        "backbones"
    key = _key(bundle, train, val, epochs=epochs, seed=seed, lr=lr,
               batch_size=batch_size)
    path = folder / f"{_slug(bundle.name)}-clip{epochs}-seed{seed}-{key}.pt"
    if path.is_file():
        try:
            saved = torch.load(path, weights_only=True, map_location="cpu")
            own = bundle.model.state_dict()
            weights = saved["model"]
            if set(weights) != set(own) or any(
                    weights[k].shape != own[k].shape for k in own):
                raise ValueError("the weights do not fit this model")
            bundle.model.load_state_dict(weights)  # whole: checked above
            return Backbone("cache", epochs, path, saved["val_auc"])
        except Exception as exc:  # a damaged cache is retrained, not fatal
            import warnings
            warnings.warn(f"Retraining the backbone: the cache {path} is "
                          f"unreadable ({exc}).", stacklevel=2)
    history = run_training(bundle, make_method("clip"), train, val,
                           settings=TrainSettings(
                               attribute=attribute, epochs=epochs,
                               batch_size=batch_size, lr=lr, seed=seed,
                               device=device))
    state = {k: v.detach().cpu() for k, v in
             bundle.model.state_dict().items()}
    save_checkpoint(path, {"model": state, "val_auc": history.best_val_auc})
    return Backbone("trained now", epochs, path, history.best_val_auc)
