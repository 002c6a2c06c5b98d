"""Step time of 2 gloo processes relative to one, on the same global
batches (:mod:`fairnb.distributed`).

Processes cannot be interleaved step by step, so the two configurations
alternate in whole launches (1, 2, 1, 2, ...: ``rounds`` pairs); each
launch times ``steps`` engine steps after a warm-up on the same global
batches and reports its median; the figure is the median of the per-round
ratios with their range. On a CPU both configurations share the same
cores (one process: torch's threads; two: one thread each), so the ratio
measures the cost of the gathers and the all-reduce, not a speed-up.

Run: ``python -m bench.distributed [--rounds 3]``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

MODEL = "fairnb-tiny-vit"
BATCH = 64


def worker(out: str, method: str, steps: int, warmup: int = 2) -> None:
    """One launch: rank 0 writes the median step time to ``out``."""
    import fairnb as fnb
    from fairnb.distributed import close_world, init_world

    from .steps import engine_step, group_batches
    world = init_world(device="cpu")
    ds = fnb.open_dataset(preset="smoke", summaries="none")
    bundle = fnb.create_model(MODEL, seed=0)
    data = world.main_first(lambda: fnb.load_split(
        ds, "train", image_size=bundle.image_size,
        tokenizer=bundle.tokenizer))
    options = {"attribute": "race", "fair_weight": 1.0} \
        if method == "fairclip" else {}
    step = engine_step(method, data, model=MODEL, batch_size=BATCH,
                       options=options)
    times = []
    for index in group_batches(data, batch_size=BATCH, n=steps + warmup):
        world.barrier()
        start = time.perf_counter()
        step(index)
        times.append(time.perf_counter() - start)
    if world.is_main:
        Path(out).write_text(json.dumps(
            {"median_s": float(np.median(times[warmup:])),
             "processes": world.size}))
    close_world()


def _launch(processes: int, method: str, steps: int, out: Path) -> float:
    cmd = [sys.executable, "-m", "bench.distributed", "--worker", str(out),
           "--method", method, "--steps", str(steps)]
    if processes > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", str(processes), *cmd[1:]]
    subprocess.run(cmd, check=True, capture_output=True,
                   cwd=Path(__file__).resolve().parents[1],
                   env={**os.environ, "OMP_NUM_THREADS": str(
                       max(1, (os.cpu_count() or 2) // processes))})
    return json.loads(out.read_text())["median_s"]


def bench_distributed(*, rounds: int = 3, steps: int = 10,
                      methods=("clip", "fairclip")) -> list[dict]:
    import tempfile
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for method in methods:
            one, two = [], []
            for _ in range(rounds):
                one.append(_launch(1, method, steps, Path(tmp) / "a.json"))
                two.append(_launch(2, method, steps, Path(tmp) / "b.json"))
            ratios = np.asarray(two) / np.asarray(one)
            rows.append({"method": method, "model": MODEL, "batch": BATCH,
                         "one_s": float(np.median(one)),
                         "two_s": float(np.median(two)),
                         "ratio": float(np.median(ratios)),
                         "low": float(ratios.min()),
                         "high": float(ratios.max()), "rounds": rounds})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", default=None)
    parser.add_argument("--method", default="clip")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.method, args.steps)
    for r in bench_distributed(rounds=args.rounds, steps=args.steps):
        print(r)


if __name__ == "__main__":
    main()
