"""Run folders the references read: the newest complete run of a notebook
whose parameters match."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def newest(notebook: str, **match) -> Path:
    """The newest complete run of ``notebook`` whose ``params.json`` has
    every ``match`` value; a clear error naming what to run otherwise."""
    from ..runs import list_runs
    for path in reversed(list_runs(notebook)):
        params = json.loads((path / "params.json").read_text())
        if all(params.get(k) == v for k, v in match.items()):
            return path
    wanted = " ".join(f"-p {k} {v}" for k, v in match.items())
    raise FileNotFoundError(
        f"No complete run of {notebook}{' with ' + wanted if wanted else ''}"
        f"; run it first (papermill {notebook}.ipynb out.ipynb {wanted}).")


def metrics(path: Path) -> dict:
    return json.loads((Path(path) / "metrics.json").read_text())


def group_values(path: Path, attribute: str, metric: str = "auc"
                 ) -> pd.Series:
    """One metric per group (the run's ``by_group.csv``), without the
    ``all`` row."""
    table = pd.read_csv(Path(path) / "by_group.csv")
    part = table[(table["attribute"] == attribute)
                 & (table["metric"] == metric) & (table["group"] != "all")]
    return part.set_index("group")["value"]
