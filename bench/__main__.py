"""``python -m bench`` (``make bench``): all benchmarks, one table.

Writes ``bench/RESULTS.md`` with the machine it ran on. Targets: every
method's training step within 1.2x of CLIP's on the same batches
(interleaved, median of >= 20 pairwise ratios) except where the method
needs extra forward passes; cached loader >= 10x per-sample decoding;
bootstrap group reports (2,000 samples, 4 attributes, 1,000 resamples)
<= 2 s; offline note summaries (de-identification included) >= 200 notes/s;
a streamed checkpoint's peak memory <= 5 % of one built in memory;
``import fairnb`` < 1 s without torch. Also: 2 gloo processes vs one on
the same global batches, Sinkhorn time vs batch size (exact, entropic,
geomloss), each notebook's end-to-end time (smoke; demo but 00, 06 and
07 unless ``--demo-all``; ``python -m bench.workshop`` times a workshop
session), and on a GPU ViT-B-16 samples/s and MFU
(``no GPU`` otherwise). ``--quick``: fewer pairs and no notebooks.
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
from pathlib import Path

import torch

from .checkpoints import bench_checkpoints
from .distributed import bench_distributed
from .gpu import bench_gpu
from .imports import bench_imports
from .loader import bench_loader
from .metrics import bench_metrics
from .notebooks import bench_notebooks
from .sinkhorn import bench_sinkhorn
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


def _fmt(seconds) -> str:
    return "not run" if seconds is None else f"{seconds:.0f}"


def main(argv=None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true",
                        help="6 pairs per method, 1 round, no notebooks")
    parser.add_argument("--demo-all", action="store_true",
                        help="also time 06 and 07 in the demo preset")
    args = parser.parse_args(argv)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    steps = bench_steps(pairs=6 if args.quick else 20)
    ddp = bench_distributed(rounds=1 if args.quick else 3)
    sinkhorn = bench_sinkhorn()
    gpu = bench_gpu()
    loader = bench_loader(preset="smoke")
    reports = bench_metrics()
    notes = bench_summaries()
    ckpt = bench_checkpoints()
    imports = bench_imports()
    notebooks = [] if args.quick else bench_notebooks(
        demo_all=args.demo_all)
    lines = [
        "# Benchmarks", "",
        f"Machine: {machine()}. Run: "
        f"{_dt.datetime.now():%Y-%m-%d %H:%M}. Ratios are measured in "
        "one run on this machine."
        + (" `--quick`: 6 pairs per method, 1 round of processes, no "
           "notebooks." if args.quick else ""), "",
        "## Training step of every method relative to CLIP (same batches,"
        " interleaved)", "",
        "Both take one engine step on the same batch, alternately A B and"
        " B A; median of the pairwise ratios (interquartile range). "
        "Target <= 1.2 except where the method needs extra passes.", "",
        "| method | model | batch | CLIP step (s) | method / clip | extra "
        "passes | within target |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['method']} | {r['model']} | {r['batch']} | "
              f"{r['ratio'].a_s:.3f} | {r['ratio']} | {r['extra'] or '-'} "
              f"| {'yes' if r['ratio'].median <= 1.2 else 'no'} |"
              for r in steps]
    lines += ["", "MultiFair trains on SLO + OCT volumes and notes (07), "
              "not on image-text pairs: no CLIP step to compare with.",
              "", "## Two gloo processes vs one (same global batches, "
              "fairnb.distributed)", "",
              "Launches alternate (1, 2, 1, 2, ...); median of the "
              "per-round ratios of median step times (range). Both share "
              "the same cores: the ratio is the cost of the gathers and "
              "the all-reduce, not a speed-up.", "",
              "| method | model | global batch | 1 process (s) | 2 processes"
              " (s) | 2 / 1 | rounds |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['method']} | {r['model']} | {r['batch']} | "
              f"{r['one_s']:.3f} | {r['two_s']:.3f} | {r['ratio']:.2f} "
              f"({r['low']:.2f}-{r['high']:.2f}) | {r['rounds']} |"
              for r in ddp]
    lines += ["", "## Sinkhorn distance: forward + backward vs batch size",
              "", "A batch's similarities against a group of a quarter of "
              "it; the exact path at FairCLIP's blur (1e-4), the entropic "
              "POT path and geomloss at blur 0.05; value / exact: how far "
              "the entropic values lie from the exact limit.", "",
              "| batch | exact (ms) | entropic (ms) | geomloss (ms) | "
              "entropic / exact value | geomloss / exact value |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {r['n']} | {1e3 * r['exact_s']:.2f} | "
              f"{1e3 * r['entropic_s']:.1f} | {1e3 * r['geomloss_s']:.1f} | "
              f"{r['entropic_ratio']:.3f} | {r['geomloss_ratio']:.3f} |"
              for r in sinkhorn]
    lines += ["", "## GPU: ViT-B-16 training with autocast", ""]
    if gpu["gpu"] is None:
        lines += ["no GPU"]
    else:
        lines += [f"{gpu['gpu']}", "", "| batch | step (s) | samples/s | "
                  "TFLOP/s | MFU |", "|---|---|---|---|---|"]
        lines += [f"| {r['batch']} | {r['step_s']:.3f} | "
                  f"{r['samples_per_s']:.0f} | {r['tflops']:.1f} | "
                  + ("unknown peak" if r["mfu"] is None else
                     f"{r['mfu']:.1%}") + " |" for r in gpu["rows"]]
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
    if notebooks:
        lines += ["", "## Notebooks end to end (papermill, fresh kernel, "
                  "in order in one runs folder)", "",
                  "| notebook | smoke (s) | demo (s) |", "|---|---|---|"]
        lines += [f"| {r['notebook']} | {_fmt(r['smoke_s'])} | "
                  f"{_fmt(r['demo_s'])} |" for r in notebooks]
        lines += ["", "The first notebook to need the data builds its cache"
                  " (once per preset); `not run`: 00, 06 and 07 demo take "
                  "`--demo-all` (`python -m bench.workshop` times the tour "
                  "and a workshop session: bench/WORKSHOP.md)."]
    text = "\n".join(lines) + "\n"
    Path(__file__).with_name("RESULTS.md").write_text(text)
    print(text)
    failed = [f"{r['method']} step {r['ratio'].median:.2f}x clip"
              for r in steps if not r["ok"]]
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
