"""Checkpoint files and random-number-generator state.

Checkpoints stream to a temporary file in the target folder, are synced
and then renamed over the old one (never built in memory: ViT-B/16 with
Adam is about 1.8 GB), and hold only tensors, numbers, strings, lists and
dicts, so they load with ``torch.load(weights_only=True)``.

Used in: 03_fairclip.
"""
from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """``torch.save(state)`` to ``path`` atomically, streamed to disk."""
    from .runs import file_mode
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint_file(path: str | os.PathLike) -> dict:
    """A checkpoint written by :func:`save_checkpoint` (CPU tensors)."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)


def rng_state() -> dict:
    """Python, NumPy, torch CPU and CUDA generator states."""
    np_state = np.random.get_state(legacy=False)
    state = {"python": random.getstate(),
             "numpy": {"bit_generator": np_state["bit_generator"],
                       "key": np_state["state"]["key"].tolist(),
                       "pos": int(np_state["state"]["pos"]),
                       "has_gauss": int(np_state["has_gauss"]),
                       "gauss": float(np_state["gauss"])},
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore :func:`rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state({
        "bit_generator": n["bit_generator"],
        "state": {"key": np.asarray(n["key"], dtype=np.uint32),
                  "pos": n["pos"]},
        "has_gauss": n["has_gauss"], "gauss": n["gauss"]})
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
