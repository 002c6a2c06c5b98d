"""Time of :func:`fairnb.metrics.group_reports` with bootstrap intervals.

2,000 synthetic samples, the four paper attributes (Unknown included in the
codes), 1,000 stratified resamples each; target <= 2 s on 2 CPU cores.

Run: ``python -m bench.metrics``.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from fairnb.attributes import PAPER_ATTRIBUTES, SCHEMA
from fairnb.metrics import group_reports

TARGET_S = 2.0


def synthetic_predictions(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Predictions table with labels, noisy scores and random codes."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = np.clip(0.5 + 0.15 * (y - 0.5) + 0.1 * rng.standard_normal(n),
                    0, 1)
    codes = {a: rng.integers(-1, len(SCHEMA[a]), n) for a in PAPER_ATTRIBUTES}
    return pd.DataFrame({"y_true": y, "y_score": score, **codes})


def bench_metrics(*, n: int = 2000, n_boot: int = 1000,
                  repeats: int = 3) -> dict:
    """Best-of-``repeats`` seconds of ``group_reports`` on synthetic data."""
    frame = synthetic_predictions(n)
    group_reports(frame, n_boot=10)  # warm-up: imports, allocator
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        group_reports(frame, n_boot=n_boot)
        times.append(time.perf_counter() - start)
    best = min(times)
    return {"n": n, "attributes": len(PAPER_ATTRIBUTES), "n_boot": n_boot,
            "seconds": best, "target_s": TARGET_S, "ok": best <= TARGET_S}


def main() -> int:
    r = bench_metrics()
    print(f"group_reports: {r['n']} samples x {r['attributes']} attributes "
          f"x {r['n_boot']} resamples: {r['seconds']:.3f} s "
          f"(target <= {r['target_s']:.0f} s) "
          f"{'ok' if r['ok'] else 'SLOW'}")
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
