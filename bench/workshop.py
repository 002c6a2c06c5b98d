"""A workshop session's times on this machine (docs/workshop.md).

In a fresh data and runs folder: ``make workshop-data`` (fairnb.workshop,
preset ``workshop``) step by step, then every notebook of the workshop
series in order, in the workshop preset, as a participant runs them after
it (papermill, a fresh kernel each). The tour without the prepared runs
takes the prepare step "the tour's grid" plus its own time here: the grid
is the tour's training, run the same way. Writes ``bench/WORKSHOP.md``.

Run: ``python -m bench.workshop`` (about 20 minutes on 2 cores).
"""
from __future__ import annotations

import datetime as _dt
import os
import tempfile
from pathlib import Path

from .notebooks import run_notebook

OUT = Path(__file__).resolve().parent / "WORKSHOP.md"


def bench_workshop(preset: str = "workshop") -> dict:
    import contextlib
    import io

    from fairnb.series import SERIES
    from fairnb.workshop import prepare
    with tempfile.TemporaryDirectory() as tmp:
        old = {k: os.environ.get(k) for k in ("FAIRNB_RUNS_DIR",
                                              "FAIRNB_DATA_DIR")}
        os.environ["FAIRNB_RUNS_DIR"] = str(Path(tmp) / "runs")
        os.environ["FAIRNB_DATA_DIR"] = str(Path(tmp) / "data")
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                prepared = prepare(preset=preset, progress=False)
            print(prepared, flush=True)
            notebooks = {}
            for name in SERIES["workshop"]:
                notebooks[name] = run_notebook(name, preset, Path(tmp))
                print(f"{name}: {notebooks[name]:.0f} s", flush=True)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return {"prepare": prepared.steps, "notebooks": notebooks}


def write(result: dict, machine: str) -> Path:
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    prep, nbs = result["prepare"], result["notebooks"]
    grid = next(v for k, v in prep.items() if k.startswith("the tour"))
    lines = [
        "# Workshop timings", "",
        f"Machine: {machine}. Run: {stamp}. Preset `workshop`, fresh data "
        "and runs folders, one run (`python -m bench.workshop`).", "",
        "## `make workshop-data`", "",
        "| step | seconds |", "|---|---|",
        *[f"| {k} | {v:.0f} |" for k, v in prep.items()],
        f"| total | {sum(prep.values()):.0f} |", "",
        "## Each notebook after it (papermill, a fresh kernel)", "",
        "| notebook | seconds |", "|---|---|",
        *[f"| {k} | {v:.0f} |" for k, v in nbs.items()],
        f"| all, in order | {sum(nbs.values()):.0f} |", "",
        "The tour without `make workshop-data` trains its grid itself: "
        f"{grid:.0f} s (the grid step above) + "
        f"{nbs.get('00_tour', float('nan')):.0f} s = "
        f"{grid + nbs.get('00_tour', float('nan')):.0f} s.", ""]
    OUT.write_text("\n".join(lines))
    return OUT


if __name__ == "__main__":
    from .__main__ import machine
    result = bench_workshop()
    print("wrote", write(result, machine()))
