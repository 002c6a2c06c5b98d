"""Training-step time of every method relative to ``clip``, interleaved.

Timing each variant in its own block of steps let the shared machine's
drift decide the ratio (three runs of one command once gave FairCLIP/CLIP
0.15x, 0.85x and 0.97x). Here both variants take one engine step
(:func:`fairnb.engine.prepare_steps`, then ``step``: forward, the
method's loss, backward, clipping, optimizer and schedule) on the *same*
batch, alternately A B,
then B A on the next batch, for at least 20 pairs after a warm-up; the
figure is the median of the pairwise ratios with its interquartile range.
Each variant trains its own copy of the model from the same
initialisation; batches hold every race group (FairCLIP's sampler).

Target: every method within 1.2x of ``clip`` except where the method
itself needs extra forward passes (the ``extra passes`` column).
MultiFair trains on SLO + OCT volumes and notes (07's data), not on
image-text pairs, so it has no ``clip`` to be timed against here.

Run: ``python -m bench.steps [--pairs 20] [--model fairnb-tiny]``.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import torch

#: method -> (options, extra forward passes per step, in words)
METHODS = {
    "fairclip": ({"attribute": "race", "fair_weight": 1.0}, ""),
    "fairclip (separate, official)": (
        {"attribute": "race", "fair_weight": 1.0, "group_source":
         "separate", "similarity": "official", "group_batch_size": 32},
        "one no-grad forward per group (3)"),
    "fairclip_plus": ({"attribute_weights": {"race": 0.5, "gender": 0.5},
                       "fair_weight": 1.0}, ""),
    "dbpm": ({"attribute": "race", "fair_weight": 0.1}, ""),
    "adversarial": ({"attribute": "race"}, ""),
    "groupdro": ({"attribute": "race"}, ""),
    "resampling": ({"attribute": "race"}, ""),
    "dualfairvl": ({"attribute": "race"},
                   "anchors: 2 + G prompts through the text tower; frozen "
                   "backbone, no backbone backward"),
}


@dataclass
class Ratio:
    """Pairwise ratios ``b / a`` of interleaved timings."""

    median: float
    q25: float
    q75: float
    pairs: int
    a_s: float  # median seconds of a
    b_s: float

    def __str__(self) -> str:
        return (f"{self.median:.3f} (IQR {self.q25:.3f}-{self.q75:.3f}, "
                f"{self.pairs} pairs)")


def interleaved_ratio(step_a, step_b, batches, *, warmup: int = 2
                      ) -> Ratio:
    """Time ``step_a(batch)`` and ``step_b(batch)`` on each batch, A B on
    even and B A on odd batches (so a drift hits both), and return the
    median of the ratios ``t_b / t_a`` over the pairs after ``warmup``,
    with the quartiles.

    >>> r = interleaved_ratio(lambda b: time.sleep(0.002),
    ...                       lambda b: time.sleep(0.004), range(8))
    >>> 1.5 < r.median < 2.5 and r.pairs == 6
    True
    """
    ta, tb = [], []
    for k, batch in enumerate(batches):
        timed = {}
        for name in ("ab" if k % 2 == 0 else "ba"):
            step = step_a if name == "a" else step_b
            start = time.perf_counter()
            step(batch)
            timed[name] = time.perf_counter() - start
        if k >= warmup:
            ta.append(timed["a"])
            tb.append(timed["b"])
    ratios = np.asarray(tb) / np.asarray(ta)
    q25, med, q75 = np.percentile(ratios, [25, 50, 75])
    return Ratio(float(med), float(q25), float(q75), len(ratios),
                 float(np.median(ta)), float(np.median(tb)))


def engine_step(name: str, data, *, model: str, batch_size: int,
                options: dict | None = None):
    """A function that takes one engine step of method ``name`` on a
    batch index (its own model, seed 0)."""
    import fairnb as fnb
    from fairnb.engine import TrainSettings, prepare_steps
    settings = TrainSettings(attribute="race", epochs=1,
                             batch_size=batch_size, sampler="plain",
                             seed=0, device="auto")
    engine = prepare_steps(fnb.create_model(model, seed=0),
                           fnb.make_method(name, **(options or {})), data,
                           settings=settings)

    def step(index):
        engine.step(data.batch(index), 0)
        if engine.device.type == "cuda":
            torch.cuda.synchronize()
    return step


def group_batches(data, *, batch_size: int, n: int, seed: int = 0):
    """``n`` batch indices holding every race group."""
    from fairnb.data.sampler import GroupBatchSampler
    out = []
    epoch = 0
    while len(out) < n:
        sampler = GroupBatchSampler(data.groups("race"),
                                    batch_size=batch_size, seed=seed)
        sampler.set_epoch(epoch)
        out += list(sampler)
        epoch += 1
    return out[:n]


def bench_steps(*, model: str = "fairnb-tiny", batch_size: int = 32,
                pairs: int = 20, warmup: int = 2, preset: str = "smoke"
                ) -> list[dict]:
    """One row per method: its step time relative to ``clip``."""
    import fairnb as fnb
    ds = fnb.open_dataset(preset=preset, summaries="none")
    bundle = fnb.create_model(model, seed=0)
    data = fnb.load_split(ds, "train", image_size=bundle.image_size,
                          tokenizer=bundle.tokenizer)
    batches = group_batches(data, batch_size=batch_size, n=pairs + warmup)
    rows = []
    for label, (options, extra) in METHODS.items():
        name = label.split(" ")[0]
        clip = engine_step("clip", data, model=model, batch_size=batch_size)
        other = engine_step(name, data, model=model, batch_size=batch_size,
                            options=options)
        r = interleaved_ratio(clip, other, batches, warmup=warmup)
        rows.append({"method": label, "model": model, "batch": batch_size,
                     "ratio": r, "extra": extra,
                     "ok": bool(extra) or r.median <= 1.2})
    return rows


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fairnb-tiny")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--pairs", type=int, default=20)
    args = parser.parse_args(argv)
    rows = bench_steps(model=args.model, batch_size=args.batch,
                       pairs=args.pairs)
    for r in rows:
        print(f"{r['method']:32s} {r['ratio']}  clip {r['ratio'].a_s:.3f} s")
    return rows


if __name__ == "__main__":
    main()
