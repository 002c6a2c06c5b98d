"""Import time of ``fairnb`` and of what 04 needs, in fresh interpreters.

Target: ``import fairnb`` under 1 s and without torch. Figures are the
median of three runs; the ratio to ``import torch`` is measured in the
same run on the same machine.
"""
from __future__ import annotations

import json
import subprocess
import sys

CASES = {
    "import fairnb": "import fairnb",
    "04's names (dashboard, metrics, predictions)":
        "import fairnb as f; f.DashboardConfig; f.dashboard; f.metrics; "
        "f.Predictions; f.resolve_run",
    "import torch": "import torch",
}


def _time(code: str) -> tuple[float, bool]:
    probe = (f"import time, sys; t = time.perf_counter(); {code}; "
             "print(time.perf_counter() - t, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True,
                         text=True, check=True).stdout.split()
    return float(out[0]), out[1] == "True"


def bench_imports(*, repeats: int = 3) -> dict:
    rows = {}
    for name, code in CASES.items():
        times = sorted(_time(code)[0] for _ in range(repeats))
        rows[name] = {"seconds": times[len(times) // 2],
                      "torch": _time(code)[1]}
    torch_s = rows["import torch"]["seconds"]
    for row in rows.values():
        row["ratio_to_torch"] = row["seconds"] / torch_s
    fairnb = rows["import fairnb"]
    return {"rows": rows, "ok": fairnb["seconds"] < 1.0
            and not fairnb["torch"]}


if __name__ == "__main__":
    print(json.dumps(bench_imports(), indent=2))
