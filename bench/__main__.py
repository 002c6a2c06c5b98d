"""``python -m bench`` (``make bench``): all benchmarks, one table.

Writes ``bench/RESULTS.md`` with the machine it ran on. Targets: FairCLIP
in-batch step <= 1.05x CLIP; cached loader >= 10x per-sample decoding;
bootstrap group reports (2,000 samples, 4 attributes, 1,000 resamples)
<= 2 s; offline note summaries (de-identification included) >= 200 notes/s;
a streamed checkpoint's peak memory <= 5 % of one built in memory;
``import fairnb`` < 1 s without torch.
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
from pathlib import Path

import torch

from .checkpoints import bench_checkpoints
from .imports import bench_imports
from .loader import bench_loader
from .metrics import bench_metrics
from .steps import bench_steps
from .summaries import bench_summaries


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = (torch.cuda.get_device_name(0) if torch.cuda.is_available()
           else "no GPU")
    return f"{os.cpu_count()} CPU cores ({cpu}), {gpu}, torch " \
           f"{torch.__version__}"


def main() -> int:
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    steps = bench_steps()
    loader = bench_loader(preset="smoke")
    reports = bench_metrics()
    notes = bench_summaries()
    ckpt = bench_checkpoints()
    imports = bench_imports()
    lines = [
        "# Benchmarks", "",
        f"Machine: {machine()}. Run: "
        f"{_dt.datetime.now():%Y-%m-%d %H:%M}. Ratios are measured in "
        "one run on this machine.", "",
        "## FairCLIP training step relative to CLIP (same batches)", "",
        "| model | batch | CLIP step (s) | fairclip in_batch / clip "
        "(target <= 1.05) | fairclip separate (official) / clip |",
        "|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['batch']} | {r['clip_s']:.3f} | "
              f"{r['in_batch_ratio']:.3f} | {r['separate_ratio']:.2f} |"
              for r in steps]
    lines += ["", "## Loader: cached tensors vs per-sample npz + PIL "
              f"({loader['preset']} data, {loader['image_size']} px, batch "
              f"{loader['batch_size']})", "",
              "| cached (images/s) | per-sample decode (images/s) | ratio "
              "(target >= 10) | one-off cache build (s) |",
              "|---|---|---|---|",
              f"| {loader['cached_images_per_s']} | "
              f"{loader['naive_images_per_s']} | {loader['speedup']} | "
              f"{loader['cache_build_s']} |",
              "", "## Bootstrap group reports (fairnb.metrics.group_reports)",
              "", "| samples | attributes | resamples | seconds "
              f"(target <= {reports['target_s']:.0f}) |", "|---|---|---|---|",
              f"| {reports['n']} | {reports['attributes']} | "
              f"{reports['n_boot']} | {reports['seconds']:.3f} |",
              "", "## Note summaries (02: rules de-identification, "
              "extractive, post-check, CSV)", "",
              "| notes | seconds | notes/s (target >= "
              f"{notes['target']:.0f}) | de-identification share |",
              "|---|---|---|---|",
              f"| {notes['n']} | {notes['seconds']:.1f} | "
              f"{notes['notes_per_s']:.0f} | {notes['deid_share']:.0%} |",
              "", "## Checkpoint writing: streamed vs built in memory "
              f"({ckpt['state_mb']} MB state, tracemalloc peak)", "",
              "| in memory (MB, s) | streamed (MB, s) | peak ratio "
              "(target <= 0.05) |", "|---|---|---|",
              f"| {ckpt['memory_peak_mb']:.0f}, {ckpt['memory_s']:.2f} | "
              f"{ckpt['stream_peak_mb']:.2f}, {ckpt['stream_s']:.2f} | "
              f"{ckpt['ratio']:.4f} |",
              "", "## Import time (fresh interpreter, median of 3)", "",
              "| what | seconds | / import torch | loads torch |",
              "|---|---|---|---|"]
    lines += [f"| {name} | {r['seconds']:.3f} | {r['ratio_to_torch']:.3f} "
              f"| {'yes' if r['torch'] else 'no'} |"
              for name, r in imports["rows"].items()]
    lines += ["", "Target: `import fairnb` < 1 s and without torch."]
    text = "\n".join(lines) + "\n"
    Path(__file__).with_name("RESULTS.md").write_text(text)
    print(text)
    failed = [r["model"] for r in steps if r["in_batch_ratio"] > 1.05]
    ratio = loader["speedup"]
    if ratio < 10:
        failed.append(f"loader ratio {ratio:.1f} < 10")
    if not reports["ok"]:
        failed.append(f"group reports {reports['seconds']:.2f} s > 2 s")
    if not notes["ok"]:
        failed.append(f"summaries {notes['notes_per_s']:.0f} notes/s < "
                      f"{notes['target']:.0f}")
    if not imports["ok"]:
        failed.append("import fairnb >= 1 s or loads torch")
    if not ckpt["ok"]:
        failed.append(f"checkpoint peak ratio {ckpt['ratio']:.3f} > 0.05")
    if failed:
        print("targets missed:", ", ".join(failed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
