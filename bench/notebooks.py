"""Each notebook's end-to-end time (papermill, a fresh kernel) in the
smoke and the demo preset.

The notebooks run in order in one fresh runs folder, so 04 and 05 find
03's run; the data cache is built by the first notebook that needs it
(its time includes that once). By default every notebook runs in smoke,
and in demo all but 00, 06 and 07 (about 8, 15 and 5 minutes on 2 cores;
``--demo-all`` adds them; bench.workshop times the tour cold and warm).

Run: ``python -m bench.notebooks [--demo-all]``.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
HEAVY = ("00_tour", "06_compare_methods", "07_multifair")


def notebook_parameters(name: str, preset: str) -> dict:
    """The papermill parameters a notebook is timed with: its preset; 03
    keeps its weights even in smoke (whose preset keeps none), so that 05
    after it has a model to probe."""
    return {"preset": preset, **({"keep": "best"} if name == "03_fairclip"
                                 else {})}


def run_notebook(name: str, preset: str, out_dir: Path) -> float:
    import papermill as pm
    start = time.perf_counter()
    pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"),
                        str(out_dir / f"{name}.{preset}.ipynb"),
                        parameters=notebook_parameters(name, preset),
                        kernel_name="python3",
                        cwd=str(NOTEBOOKS), progress_bar=False,
                        log_output=False, execution_timeout=3600,
                        start_timeout=300)
    return time.perf_counter() - start


def bench_notebooks(*, demo_all: bool = False) -> list[dict]:
    names = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    rows = {n: {"notebook": n, "smoke_s": None, "demo_s": None}
            for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        old = os.environ.get("FAIRNB_RUNS_DIR")
        os.environ["FAIRNB_RUNS_DIR"] = str(Path(tmp) / "runs")
        try:
            for preset in ("smoke", "demo"):
                for n in names:
                    if preset == "demo" and n in HEAVY and not demo_all:
                        continue
                    rows[n][f"{preset}_s"] = run_notebook(n, preset,
                                                          Path(tmp))
                    print(f"{n} {preset}: {rows[n][f'{preset}_s']:.0f} s",
                          flush=True)
        finally:
            if old is None:
                os.environ.pop("FAIRNB_RUNS_DIR", None)
            else:
                os.environ["FAIRNB_RUNS_DIR"] = old
    return list(rows.values())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-all", action="store_true")
    bench_notebooks(demo_all=parser.parse_args().demo_all)
