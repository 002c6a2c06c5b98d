"""Run the notebook series headlessly with papermill (``make demo``).

``python -m fairnb.series core --preset demo`` executes the core notebooks
(01 -> 04, those that exist) in order on the embedded default data; each
notebook writes its own run folder under ``runs/`` and the executed copies
go to ``runs/executed/<timestamp>/``.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import sys
import time
from pathlib import Path

from .config.base import PRESETS
from .paths import repo_root, runs_dir

SERIES = {
    # the whole story in about ten minutes (make tour)
    "tour": ("00_tour",),
    "core": ("01_explore_data", "02_summarize_notes", "03_fairclip",
             "04_fairness_dashboard"),
    # heavier: a grid of 03 runs (make compare)
    "compare": ("06_compare_methods",),
    # the two-modality classifiers: MultiFair beside its baselines
    # (make multifair)
    "multimodal": ("07_multifair",),
    # prompt learning on a frozen CLIP, in and out of distribution
    # (make dualfairvl)
    "prompting": ("08_dualfairvl",),
    # every notebook in order: a workshop session (preset workshop)
    "workshop": ("00_tour", "01_explore_data", "02_summarize_notes",
                 "03_fairclip", "04_fairness_dashboard", "05_linear_probe",
                 "06_compare_methods", "07_multifair", "08_dualfairvl"),
}


def notebook_paths(series: str) -> list[Path]:
    """Existing notebooks of ``series``, in order."""
    folder = repo_root() / "notebooks"
    return [folder / f"{n}.ipynb" for n in SERIES[series]
            if (folder / f"{n}.ipynb").is_file()]


def run_series(series: str = "core", *, preset: str = "demo",
               timeout: int = 1800, parameters: dict | None = None
               ) -> list[Path]:
    """Execute the series; returns the executed notebook paths."""
    import papermill as pm

    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = runs_dir() / "executed" / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for path in notebook_paths(series):
        start = time.monotonic()
        print(f"== {path.name} (preset {preset})", flush=True)
        out = out_dir / path.name
        pm.execute_notebook(
            str(path), str(out), parameters={"preset": preset,
                                             **(parameters or {})},
            kernel_name="python3", cwd=str(path.parent), progress_bar=False,
            log_output=False, execution_timeout=timeout)
        print(f"   done in {time.monotonic() - start:.0f} s -> {out}",
              flush=True)
        done.append(out)
    return done


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("series", nargs="?", default="core",
                        choices=sorted(SERIES))
    parser.add_argument("--preset", default="demo",
                        choices=PRESETS)
    parser.add_argument("--timeout", type=int, default=1800,
                        help="per-cell timeout in seconds")
    args = parser.parse_args(argv)
    run_series(args.series, preset=args.preset, timeout=args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
