"""Which run folders finished, failed or were cut short, and cleaning up.

A run folder is

- ``complete``: ``metrics.json`` written, its primary metric defined;
- ``unscored``: complete, but the primary metric is NaN (never "latest");
- ``failed``: a cell raised after the folder was made (``failed.json``
  names the error); re-running with the same parameters reopens it;
- ``incomplete``: neither, e.g. a killed kernel; re-running resumes it.

:func:`fairnb.runs.start_run` calls :func:`watch`, which marks the run
failed from an IPython ``post_run_cell`` hook when a cell raises (a
KeyboardInterrupt is an interruption, not a failure).

Used in: every notebook (through ``start_run``); by hand to tidy up.
"""
from __future__ import annotations

import datetime as _dt
import json
import shutil
from pathlib import Path

from .paths import resolve, runs_dir
from .runs import FAILED_FILE, Run, is_scored, write_json

STATUSES = ("complete", "unscored", "failed", "incomplete")
_hook = None  # the post_run_cell callback now registered


def mark_failed(path: Path, error: BaseException) -> None:
    """Write ``failed.json`` (error type and message) into ``path``."""
    write_json(Path(path) / FAILED_FILE, {
        "error": type(error).__name__, "message": str(error)[:2000],
        "time": _dt.datetime.now().isoformat(timespec="seconds")})


def watch(run: Run) -> None:
    """Mark ``run`` failed when a later notebook cell raises; replaces
    the watch on an earlier run. A no-op outside IPython."""
    global _hook
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    if _hook is not None:
        try:
            shell.events.unregister("post_run_cell", _hook)
        except ValueError:
            pass

    def on_cell(result):
        error = getattr(result, "error_in_exec", None)
        if (error is not None and not isinstance(error, KeyboardInterrupt)
                and not (run.path / "metrics.json").exists()
                and run.path.is_dir()):
            mark_failed(run.path, error)

    shell.events.register("post_run_cell", on_cell)
    _hook = on_cell


def status(path: str | Path) -> str:
    """One of :data:`STATUSES` for the run folder ``path``."""
    path = Path(path)
    if (path / "metrics.json").is_file():
        return "complete" if is_scored(path) else "unscored"
    return "failed" if (path / FAILED_FILE).is_file() else "incomplete"


def run_table(notebook: str, *, root=None):
    """Every run folder of ``notebook`` with its status and, for failed
    runs, the error: a DataFrame ``run, status, error``, oldest first."""
    import pandas as pd
    parent = (resolve(root) if root else runs_dir()) / notebook
    rows = []
    for path in sorted(parent.iterdir() if parent.is_dir() else ()):
        if not (path / "params.json").is_file():
            continue
        state, error = status(path), ""
        if state == "failed":
            try:
                info = json.loads((path / FAILED_FILE).read_text())
                error = f"{info.get('error')}: {info.get('message', '')}"
            except (OSError, ValueError):
                error = "(unreadable failed.json)"
        rows.append((str(path), state, error))
    return pd.DataFrame(rows, columns=["run", "status", "error"])


def clean_runs(notebook: str, *, statuses=("failed",), dry_run: bool = True,
               root=None) -> list[Path]:
    """Delete the run folders of ``notebook`` in ``statuses`` (default
    failed ones; ``"incomplete"`` and ``"unscored"`` may be added,
    ``"complete"`` may not). With ``dry_run=True`` (default) only lists
    them.

    Examples
    --------
    >>> clean_runs("03_fairclip", root="/nonexistent")
    []
    """
    bad = set(statuses) - set(STATUSES[1:])
    if bad:
        raise ValueError(f"clean_runs deletes only {', '.join(STATUSES[1:])}"
                         f" runs; got {sorted(bad)}.")
    table = run_table(notebook, root=root)
    chosen = [Path(p) for p, s in zip(table["run"], table["status"])
              if s in statuses]
    if not dry_run:
        for path in chosen:
            shutil.rmtree(path)
    return chosen


__all__ = ["STATUSES", "clean_runs", "mark_failed",
           "run_table", "status", "watch"]
