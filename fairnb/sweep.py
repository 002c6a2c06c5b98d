"""Grids of notebook runs: methods x seeds x attributes x any parameter.

Each cell of a grid is one papermill run of a notebook (03 by default)
into its own run folder. :func:`run_grid` skips the cells that already have
a complete run with the same resolved parameters, so an interrupted sweep
re-run does only what is missing, and executes the rest with an existing
engine: local processes (``concurrent.futures`` over ``papermill``
subprocesses, ``workers`` at a time) or a SLURM cluster through
``submitit``. :func:`commands` writes the grid as plain papermill command
lines instead, for any other scheduler.

Used in: 06_compare_methods.
"""
from __future__ import annotations

import itertools
import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .choices import EXECUTORS  # noqa: E402
from .paths import repo_root


@dataclass(frozen=True)
class Cell:
    """One run of a grid: a notebook and its papermill parameters."""

    notebook: str
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """A file-name-safe label, unique per parameters: a readable part
        (e.g. ``method=clip_seed=0``) and a hash of all of them, so that
        long or similar values (paths) never collide."""
        import hashlib
        parts = [f"{k}={v}" for k, v in sorted(self.parameters.items())
                 if k != "preset"]
        text = "".join(c if c.isalnum() or c in "=._-" else "-"
                       for c in "_".join(parts) or "defaults")[:80]
        digest = hashlib.sha1(json.dumps(
            self.parameters, sort_keys=True, default=str).encode())
        return f"{text}-{digest.hexdigest()[:8]}"

    def config(self):
        """The notebook's validated config of these parameters (raises
        ConfigError naming a bad one before anything runs)."""
        from .config import CONFIGS
        # explicit, as papermill's -p: a preset never overrides them
        return CONFIGS[self.notebook].create(explicit=set(self.parameters),
                                             **self.parameters)


def grid(notebook: str = "03_fairclip", **axes) -> list[Cell]:
    """Every combination of the list-valued ``axes`` (scalars are fixed),
    in the order given; each cell's parameters are validated now.

    Examples
    --------
    >>> cells = grid(method=["clip", "fairclip"], seed=[0, 1],
    ...              preset="smoke")
    >>> [c.name.rsplit("-", 1)[0] for c in cells][:2]
    ['method=clip_seed=0', 'method=clip_seed=1']
    """
    names = list(axes)
    values = [v if isinstance(v, (list, tuple)) else [v]
              for v in axes.values()]
    cells = [Cell(notebook, dict(zip(names, combo)))
             for combo in itertools.product(*values)]
    for cell in cells:
        cell.config()
    return cells


def _same_params(path: Path, params: dict) -> bool:
    try:
        return json.loads((path / "params.json").read_text()) == params
    except (OSError, ValueError):
        return False


def complete_run(cell: Cell, *, root=None) -> Path | None:
    """The newest complete run of ``cell`` (``metrics.json`` written, the
    same resolved ``params.json``; an unscored run counts: training it
    again would give the same NaN), or None."""
    from .paths import resolve, runs_dir
    from .runs import _jsonable
    params = json.loads(json.dumps(_jsonable(cell.config().to_dict())))
    parent = (resolve(root) if root else runs_dir()) / cell.notebook
    found = [p for p in (parent.iterdir() if parent.is_dir() else ())
             if (p / "metrics.json").is_file() and _same_params(p, params)]
    return max(found, key=lambda p: p.name) if found else None


#: seconds a cell's kernel may take to start: papermill's 60 s default
#: is not enough where several cells start at once on a busy machine
KERNEL_START_TIMEOUT = 300


def command(cell: Cell, output: str | Path) -> list[str]:
    """The papermill command line of ``cell`` (run from ``notebooks/``)."""
    notebooks = repo_root() / "notebooks"
    args = [sys.executable, "-m", "papermill", "--cwd", str(notebooks),
            "--start-timeout", str(KERNEL_START_TIMEOUT),
            str(notebooks / f"{cell.notebook}.ipynb"), str(output)]
    for k, v in cell.parameters.items():
        args += ["-p", k, str(v)]
    return args


def commands(cells: Sequence[Cell], *, folder: str | Path = ".") -> str:
    """The grid as shell lines, one papermill command per cell."""
    return "\n".join(shlex.join(command(c, Path(folder) / f"{c.name}.ipynb"))
                     for c in cells) + "\n"


def _execute(cell: Cell, output: str, root: str | None = None
             ) -> tuple[str, int, str]:
    """Run one cell in a subprocess; (name, return code, error tail)."""
    env = dict(os.environ)
    if root is not None:
        env["FAIRNB_RUNS_DIR"] = str(root)
    proc = subprocess.run(command(cell, output), capture_output=True,
                          text=True, env=env)
    return cell.name, proc.returncode, proc.stderr[-2000:]


@dataclass
class SweepResult:
    """What :func:`run_grid` did: cell name -> run folder for the cells
    done (before or now), the cells skipped as already complete, the
    failures (name -> error tail), and submitted SLURM jobs."""

    runs: dict[str, Path]
    skipped: list[str]
    failed: dict[str, str]
    jobs: list = field(default_factory=list)
    #: cells submitted to SLURM earlier and not complete yet: name -> job
    pending: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        extra = f", {len(self.pending)} pending" if self.pending else ""
        return (f"SweepResult({len(self.runs)} runs, {len(self.skipped)} "
                f"already complete, {len(self.failed)} failed, "
                f"{len(self.jobs)} submitted{extra})")


def _submitted(folder: Path) -> dict[str, str]:
    path = folder / "slurm" / "submitted.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def run_grid(cells: Sequence[Cell], *, folder: str | Path,
             workers: int = 1, executor: str = "local",
             slurm: dict | None = None, root=None,
             progress: bool = True,
             resubmit: bool = False) -> SweepResult:
    """Run the cells of a grid that have no complete run yet.

    ``folder`` keeps each cell's executed notebook (``<cell>.ipynb``).
    ``executor="local"``: ``workers`` papermill processes at a time, one
    overall progress bar; a failed cell is reported, the others go on.
    ``executor="slurm"``: one submitit job array (``slurm`` holds its
    parameters, e.g. ``{"timeout_min": 60, "slurm_partition": "gpu",
    "gpus_per_node": 1}``); returns at once with the jobs, and a later
    call picks up the runs they completed; cells submitted before
    (``folder/slurm/submitted.json``) and not yet complete are not
    submitted again unless ``resubmit=True`` (after a job failed: its log
    is under ``folder/slurm``).
    """
    from .attributes import check_choice
    check_choice("executor", executor, EXECUTORS)
    if workers < 1:
        raise ValueError(f"workers must be >= 1; got {workers}.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    runs, skipped, todo = {}, [], []
    for cell in cells:
        done = complete_run(cell, root=root)
        if done is not None:
            runs[cell.name] = done
            skipped.append(cell.name)
        else:
            todo.append(cell)
    result = SweepResult(runs=runs, skipped=skipped, failed={})
    if not todo:
        return result
    outputs = [str(folder / f"{c.name}.ipynb") for c in todo]
    root_text = None if root is None else str(Path(root).resolve())
    if executor == "slurm":
        import submitit

        from .runs import write_json
        earlier = {} if resubmit else _submitted(folder)
        waiting = [c for c in todo if c.name in earlier]
        result.pending = {c.name: earlier[c.name] for c in waiting}
        todo = [c for c in todo if c.name not in earlier]
        if todo:
            outputs = [str(folder / f"{c.name}.ipynb") for c in todo]
            ex = submitit.AutoExecutor(folder=folder / "slurm",
                                       cluster="slurm")
            ex.update_parameters(**(slurm or {}))
            result.jobs = ex.map_array(_execute, todo, outputs,
                                       [root_text] * len(todo))
            record = {**_submitted(folder), **{
                c.name: str(j.job_id) for c, j in zip(todo, result.jobs)}}
            write_json(folder / "slurm" / "submitted.json", record)
        return result
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from tqdm.auto import tqdm
    # threads only wait: each cell is its own papermill process
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_execute, c, o, root_text)
                   for c, o in zip(todo, outputs)]
        bar = tqdm(total=len(cells), initial=len(skipped), unit="run",
                   desc="sweep", disable=not progress)
        for future in as_completed(futures):
            name, code, err = future.result()
            if code:
                result.failed[name] = err
            bar.update(1)
        bar.close()
    for cell in todo:
        done = complete_run(cell, root=root)
        if done is not None:
            result.runs[cell.name] = done
    return result


def require_complete(result: SweepResult, cells: Sequence[Cell]) -> list:
    """The run folders of every cell, in grid order; raises with what is
    missing: the failures (with their error's last lines) or the SLURM
    jobs still to finish (re-running picks up what they completed)."""
    missing = [c.name for c in cells if c.name not in result.runs]
    if not missing:
        return [result.runs[c.name] for c in cells]
    if result.jobs or result.pending:
        ids = ", ".join([str(j.job_id) for j in result.jobs]
                        + list(result.pending.values()))
        raise RuntimeError(
            f"{len(result.jobs) + len(result.pending)} cell(s) are with "
            f"SLURM (jobs {ids}). Re-run this notebook with the same "
            "parameters when they have finished: complete cells are picked "
            "up and no cell is submitted twice (a job that failed: its log "
            "is in the slurm folder beside submitted.json; delete that file "
            "to submit the missing cells again).")
    lines = [f"{name}: {result.failed.get(name, 'no complete run')[-400:]}"
             for name in missing]
    raise RuntimeError(
        f"{len(missing)} of {len(cells)} cell(s) have no complete run:\n"
        + "\n".join(lines) + "\nFix the cause and re-run: complete cells "
        "are skipped.")


__all__ = ["Cell", "EXECUTORS", "SweepResult", "command", "commands",
           "complete_run", "grid", "require_complete", "run_grid"]
