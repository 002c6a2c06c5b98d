"""Run folders the references and solutions read: the newest complete run
of a notebook whose parameters match, a run's config, and the runs of a
grid (reused, or trained here)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd


def params(path: Path) -> dict:
    """The resolved parameters of a run folder (its ``params.json``)."""
    return json.loads((Path(path) / "params.json").read_text())


def newest(notebook: str, *, where: Callable[[dict], bool] | None = None,
           needs: str = "", **match) -> Path:
    """The newest complete run of ``notebook`` whose ``params.json`` has
    every ``match`` value (and satisfies ``where``, a test of the
    parameters); a clear error naming what to run otherwise. ``needs`` is
    the papermill fragment that makes a run ``where`` accepts (e.g. ``"-p
    bias_levels 0,1,2"``): the error adds it to the command it shows."""
    from ..config import CONFIGS
    from ..runs import list_runs
    for path in reversed(list_runs(notebook)):
        found = params(path)
        if all(found.get(k) == v for k, v in match.items()) and (
                where is None or where(found)):
            return path
    defaults = CONFIGS[notebook]() if notebook in CONFIGS else None
    wanted = " ".join(  # the preset, and what differs from the defaults
        f"-p {k} {v}" for k, v in match.items()
        if k == "preset" or getattr(defaults, k, object()) != v)
    command = " ".join(filter(None, (f"papermill {notebook}.ipynb "
                                     "out.ipynb", wanted, needs)))
    raise FileNotFoundError(
        f"No complete run of {notebook}{' with ' + wanted if wanted else ''}"
        f"{' and ' + needs if needs else ''}; run it first ({command}).")


def config_of(path: Path, **overrides):
    """The config of the run folder ``path`` (its notebook's config class,
    every recorded value counting as set), with ``overrides`` on top."""
    from ..config import CONFIGS
    values = {**params(path), **overrides}
    return CONFIGS[Path(path).parent.name].create(explicit=set(values),
                                                  **values)


def ensure(cells: Sequence) -> list[Path]:
    """The complete run of every grid cell (:class:`fairnb.sweep.Cell`),
    in order: reused where one exists, else trained now, a 03 or 07 cell
    in this process (:func:`fairnb.jobs.run_or_reuse`,
    :func:`fairnb.multimodal.run_or_reuse`), any other as a papermill run
    (:func:`fairnb.sweep.run_grid`)."""
    from ..jobs import run_or_reuse as train_03
    from ..multimodal import run_or_reuse as train_07
    from ..paths import runs_dir
    from ..sweep import require_complete, run_grid
    here = {"03_fairclip": train_03, "07_multifair": train_07}
    out = []
    for cell in cells:
        if cell.notebook in here:
            out.append(Path(here[cell.notebook](**cell.parameters)))
        else:
            result = run_grid([cell], folder=runs_dir() / "exercises",
                              progress=False)
            out.extend(require_complete(result, [cell]))
    return out


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
