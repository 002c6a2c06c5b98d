"""ViT-B-16 training on a GPU: samples/s and model-FLOP utilisation
(MFU) at batch 32 and 256 with autocast. Without a GPU it says so.

FLOPs of one training step (forward + backward) are counted with
``torch.utils.flop_counter.FlopCounterMode`` on the real step; MFU =
FLOPs per second / the GPU's dense bf16/fp16 peak (a table of known
GPUs; unknown ones report no MFU). Random weights (no download).

Run: ``python -m bench.gpu``.
"""
from __future__ import annotations

import time

import numpy as np
import torch

#: dense bf16 tensor-core peak, FLOP/s (vendor data sheets)
PEAK = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12,
        "A10": 125e12, "V100": 125e12, "RTX 4090": 165e12}


def peak_flops(name: str) -> float | None:
    for key, value in PEAK.items():
        if key in name:
            return value
    return None


def bench_gpu(*, batches=(32, 256), steps: int = 10) -> dict:
    if not torch.cuda.is_available():
        return {"gpu": None, "rows": []}
    from torch.utils.flop_counter import FlopCounterMode

    import fairnb as fnb

    from .steps import engine_step
    name = torch.cuda.get_device_name(0)
    ds = fnb.open_dataset(preset="demo", summaries="none")
    bundle = fnb.create_model("ViT-B-16", seed=0)
    data = fnb.load_split(ds, "train", image_size=bundle.image_size,
                          tokenizer=bundle.tokenizer)
    rows = []
    rng = np.random.default_rng(0)
    for batch in batches:
        batch = min(batch, len(data))
        step = engine_step("clip", data, model="ViT-B-16", batch_size=batch)
        index = rng.choice(len(data), batch, replace=False)
        step(index)  # warm-up
        with FlopCounterMode(display=False) as counter:
            step(index)
        flops = counter.get_total_flops()
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            step(index)
        seconds = (time.perf_counter() - start) / steps
        peak = peak_flops(name)
        rows.append({"batch": batch, "step_s": seconds,
                     "samples_per_s": batch / seconds,
                     "tflops": flops / seconds / 1e12,
                     "mfu": flops / seconds / peak if peak else None})
    return {"gpu": name, "rows": rows}


if __name__ == "__main__":
    print(bench_gpu())
