"""Training-step time of FairCLIP relative to CLIP on the same batches.

For each model, times forward + backward + optimizer step of ``clip``,
``fairclip`` with in-batch groups (target <= 1.05x CLIP) and ``fairclip``
with the official separate per-group batches (G extra forward passes).
Random weights; the batches are fixed so every method sees the same data.

Run: ``python -m bench.steps [--models fairnb-tiny ViT-B-16]``.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import fairnb as fnb
from fairnb.engine import TrainSettings, make_optimizers
from fairnb.methods import Context

VARIANTS = {"clip": {}, "fairclip_in_batch": {"group_source": "in_batch"},
            "fairclip_separate": {"group_source": "separate",
                                  "similarity": "official"}}


def _time_steps(bundle, data, variant: str, *, batch_size: int,
                steps: int) -> float:
    torch.manual_seed(0)
    bundle.model.train()
    name = "clip" if variant == "clip" else "fairclip"
    method = fnb.make_method(name, attribute="race", fair_weight=1.0,
                             group_batch_size=batch_size,
                             **VARIANTS[variant]) if name != "clip" \
        else fnb.make_method("clip")
    method.setup(Context(bundle=bundle, train=data,
                         device=torch.device("cpu")))
    [opt] = make_optimizers(method.trainable(),
                            TrainSettings(lr=1e-5)).values()
    rng = np.random.default_rng(0)
    batches = [rng.choice(len(data), batch_size, replace=False)
               for _ in range(steps + 1)]
    times = []
    for index in batches:
        start = time.perf_counter()
        batch = data.batch(index)
        loss = method.training_step(batch, 0).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))  # the first step warms up


def bench_steps(*, models=("fairnb-tiny", "ViT-B-16"), preset="smoke",
                steps: int = 5) -> list[dict]:
    ds = fnb.open_dataset(preset=preset)
    rows = []
    for name in models:
        bundle = fnb.create_model(name)
        batch_size = 32 if name.startswith("fairnb") else 8
        n_steps = steps if name.startswith("fairnb") else 2
        data = fnb.load_split(ds, "train", image_size=bundle.image_size,
                              tokenizer=bundle.tokenizer)
        t = {v: _time_steps(bundle, data, v, batch_size=batch_size,
                            steps=n_steps) for v in VARIANTS}
        rows.append({"model": name, "batch": batch_size,
                     "clip_s": t["clip"],
                     "in_batch_ratio": t["fairclip_in_batch"] / t["clip"],
                     "separate_ratio": t["fairclip_separate"] / t["clip"]})
    return rows


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+",
                        default=["fairnb-tiny", "ViT-B-16"])
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args(argv)
    rows = bench_steps(models=args.models, steps=args.steps)
    for r in rows:
        print(f"{r['model']:12s} batch {r['batch']:3d}  clip step "
              f"{r['clip_s']:.3f} s  fairclip in_batch "
              f"{r['in_batch_ratio']:.3f}x  separate "
              f"{r['separate_ratio']:.2f}x")
    return rows


if __name__ == "__main__":
    main()
