"""Sinkhorn distance time vs batch size: the exact path, the entropic
path and the released code's geomloss solver, next to the exact limit.

:func:`fairnb.losses.sinkhorn_distance` takes the exact blur -> 0 limit
(half W2 squared of the sorted samples) below ``EXACT_BELOW`` times the
data's diameter, as at FairCLIP's blur of 1e-4, and POT's entropic
solver above it. Each cell: forward and backward of one batch's
similarities against a group of a quarter of it, median of ``repeats``;
``value / exact`` says how far the entropic and geomloss values lie from
the exact limit at that blur.

Run: ``python -m bench.sinkhorn``.
"""
from __future__ import annotations

import time

import numpy as np
import torch

SIZES = (32, 128, 512, 2048)
ENTROPIC_BLUR = 0.05  # above EXACT_BELOW x the cosines' spread


def _timed(fn, x, y, repeats: int) -> tuple[float, float]:
    times, value = [], float("nan")
    for _ in range(repeats + 1):
        xx, yy = x.clone().requires_grad_(), y.clone().requires_grad_()
        start = time.perf_counter()
        out = fn(xx, yy)
        out.backward()
        times.append(time.perf_counter() - start)
        value = float(out.detach())
    return float(np.median(times[1:])), value


def bench_sinkhorn(*, sizes=SIZES, repeats: int = 5) -> list[dict]:
    from fairnb.losses import geomloss_sinkhorn, sinkhorn_distance
    rows = []
    for n in sizes:
        g = torch.Generator().manual_seed(n)
        x = 0.3 + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)
        y = 0.35 + 0.1 * torch.randn(max(2, n // 4), generator=g,
                                     dtype=torch.float64)
        exact_s, exact = _timed(
            lambda a, b: sinkhorn_distance(a, b, blur=1e-4), x, y, repeats)
        ent_s, ent = _timed(
            lambda a, b: sinkhorn_distance(a, b, blur=ENTROPIC_BLUR), x, y,
            repeats)
        geo_s, geo = _timed(
            lambda a, b: geomloss_sinkhorn(a.float(), b.float(),
                                           blur=ENTROPIC_BLUR), x, y,
            repeats)
        rows.append({"n": n, "exact_s": exact_s, "entropic_s": ent_s,
                     "geomloss_s": geo_s, "exact": exact,
                     "entropic_ratio": ent / exact,
                     "geomloss_ratio": geo / exact})
    return rows


if __name__ == "__main__":
    for r in bench_sinkhorn():
        print(r)
