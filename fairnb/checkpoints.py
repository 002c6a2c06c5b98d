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
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """``torch.save(state)`` to ``path`` atomically, streamed to disk."""
    from .runs import atomic_write
    return atomic_write(path, lambda fh: torch.save(state, fh))


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


# The engine's checkpoint files ---------------------------------------------
def engine_state(engine, epoch: int, *, rngs: list | None = None) -> dict:
    """Everything :func:`resume_run` needs, after ``epoch`` (0-based);
    ``rngs``: every training process's :func:`rng_state`, in rank order
    (each resumes its own draws, e.g. dropout on its slice)."""
    return {"epoch": epoch + 1, "method": engine.method.name,
            "settings": asdict(engine.settings),
            "weights": engine.weights(),
            "method_state": engine.method.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in
                           engine.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in
                           engine.schedulers.items()},
            "scaler": engine.scaler.state_dict(),
            "sampler": engine.sampler.state_dict(), "rng": rng_state(),
            "rng_ranks": rngs or [], "history": asdict(engine.history),
            **bundle_meta(engine)}


def bundle_meta(engine) -> dict:
    """What a checkpoint says about the model it holds."""
    return {"model_name": engine.bundle.name,
            "pretrained": engine.bundle.pretrained,
            "quick_gelu": bool(getattr(engine.bundle, "quick_gelu",
                                       False))}


def write_checkpoints(engine, epoch: int, improved: bool, *,
                      rngs: list | None = None) -> None:
    """``best.pt`` (when ``improved``) then ``last.pt`` of the run
    (``rngs``: :func:`engine_state`)."""
    folder = engine.run.path / "checkpoints"
    if improved:  # best.pt first: a last.pt never names a missing best
        save_checkpoint(folder / "best.pt", {
            "model": engine.model.state_dict(),
            "modules": {k: m.state_dict() for k, m in
                        engine.modules.items()},
            "epoch": epoch + 1, "score": engine.history.best_score,
            "selection": engine.settings.selection,
            "method": engine.method.name, **bundle_meta(engine)})
    save_checkpoint(folder / "last.pt", engine_state(engine, epoch,
                                                     rngs=rngs))


def resume_run(engine) -> int:
    """Load ``checkpoints/last.pt`` of the engine's run into it; returns
    the next epoch (0 without a checkpoint)."""
    path = engine.run.path / "checkpoints" / "last.pt"
    if not path.is_file():
        return 0
    state = load_checkpoint_file(path)
    mine = asdict(engine.settings)
    if state["settings"] != mine or state["method"] != engine.method.name:
        diff = {k: (state["settings"].get(k), v) for k, v in
                mine.items() if state["settings"].get(k) != v}
        raise ValueError(
            f"{path} was written by method {state['method']!r} with "
            f"other settings ({diff}); resume with the same parameters"
            " or start a new run folder.")
    engine.load_weights(state["weights"])
    engine.method.load_state_dict(state["method_state"])
    for k, o in engine.optimizers.items():
        o.load_state_dict(state["optimizers"][k])
    for k, s in engine.schedulers.items():
        s.load_state_dict(state["schedulers"][k])
    engine.scaler.load_state_dict(state["scaler"])
    engine.sampler.load_state_dict(state["sampler"])
    engine.history = type(engine.history)(**state["history"])
    best = load_checkpoint_file(path.with_name("best.pt"))
    engine.best_state = {"model": best["model"], **best["modules"]}
    engine.history.best_epoch = best["epoch"]
    engine.history.best_score = best["score"]
    world = engine.world
    ranks = state.get("rng_ranks") or []
    set_rng_state(ranks[world.rank] if len(ranks) == world.size > 1
                  else state["rng"])
    return int(state["epoch"])
