"""Run folders: one per notebook execution (shared/DESIGN.md).

``runs/<notebook>/<timestamp>_<key params>/`` holds ``params.json`` (the
resolved config), ``env.json`` (versions, device, seed), ``metrics.json``
(flat, stable keys), ``by_group.csv``, ``predictions.npz``,
``checkpoints/`` and ``figures/``. Every file is written atomically (a temp
file in the same folder, then ``os.replace``), and ``metrics.json`` is
written last: a run folder without it is incomplete and
:func:`latest` skips it.

Used in: all notebooks.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .choices import KEEP_CHECKPOINTS
from .environment import PACKAGES, env_info  # noqa: F401 (re-exported)
from .paths import resolve, runs_dir

#: version of the ``metrics.json`` contract (README: "Run folders")
METRICS_SCHEMA_VERSION = 1
#: written into a run folder when a cell raised (fairnb.run_status)
FAILED_FILE = "failed.json"


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Call ``write(fh)`` on a temporary file beside ``path``, sync it and
    rename it over ``path``, so readers never see a partial file (and a
    large object streams to disk instead of being built in memory)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode(path))  # mkstemp gives 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so readers never see a partial file."""
    return atomic_write(path, lambda fh: fh.write(data))


def file_mode(path: Path) -> int:
    """The mode ``open(path, "w")`` would leave: the old file's, else
    0666 less the umask (so shared run and dataset folders stay shared)."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None  # strict JSON has no NaN/inf
    return obj


def write_json(path: str | os.PathLike, obj) -> Path:
    """Atomic, strict JSON (NaN and inf become null)."""
    text = json.dumps(_jsonable(obj), indent=2, sort_keys=False,
                      allow_nan=False)
    return atomic_write_text(path, text + "\n")


@dataclass
class Run:
    """A run folder and the helpers that write into it."""

    path: Path
    notebook: str
    resumed: bool = False  # reopened by start_run(resume=True)

    def file(self, name: str) -> Path:
        """Path of ``name`` inside the run folder (parents created)."""
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def write_json(self, name: str, obj) -> Path:
        return write_json(self.file(name), obj)

    def write_text(self, name: str, text: str) -> Path:
        return atomic_write_text(self.file(name), text)

    def write_csv(self, name: str, frame) -> Path:
        return atomic_write_text(self.file(name), frame.to_csv(index=False))

    def write_metrics(self, metrics: dict, *, primary: str | None = None
                      ) -> Path:
        """Write ``metrics.json`` (flat str -> number, or a short string
        that says something in words), marking the run complete.

        ``primary`` names the metric the run is for (03 and 04: ``auc``);
        when it is NaN the run is complete but *unscored*: a warning says
        so and :func:`latest` does not pick it.
        """
        bad = {k: v for k, v in metrics.items()
               if not isinstance(v, (int, float, str, type(None)))
               and not hasattr(v, "item")}
        if bad:
            raise TypeError(
                "metrics.json takes flat numbers or strings only; got "
                + ", ".join(f"{k}={v!r}" for k, v in list(bad.items())[:5]))
        head = {"schema_version": METRICS_SCHEMA_VERSION,
                "notebook": self.notebook}
        if primary is not None:
            value = _jsonable(metrics.get(primary))
            if value is None:
                import warnings
                warnings.warn(
                    f"{self.path.name}: the primary metric {primary!r} is "
                    "undefined (NaN: e.g. one class only in the evaluated "
                    "split). The run is recorded but `latest` will not "
                    "pick it.", stacklevel=2)
            head["primary"] = primary
        path = self.write_json("metrics.json", {**head, **metrics})
        (self.path / FAILED_FILE).unlink(missing_ok=True)
        return path

    def prune_checkpoints(self, keep: str) -> None:
        """Keep ``best`` (``checkpoints/best.pt``), ``last``, ``both`` or
        ``none`` of a finished run's checkpoints (``last.pt`` only serves
        to resume an interrupted run)."""
        if keep not in KEEP_CHECKPOINTS:
            raise ValueError(f"keep={keep!r}; choose one of "
                             f"{', '.join(KEEP_CHECKPOINTS)}.")
        folder = self.path / "checkpoints"
        drop = {"best": ("last.pt",), "last": ("best.pt",), "both": (),
                "none": ("last.pt", "best.pt")}[keep]
        for name in drop:
            (folder / name).unlink(missing_ok=True)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()

    def save_figure(self, fig, name: str) -> Path:
        """Save a plotly figure as ``figures/<name>.html``.

        plotly.js is written once beside the figures
        (``include_plotlyjs="directory"``), so the HTML works offline and
        each file stays small.
        """
        path = self.file(f"figures/{name}.html")
        fig.write_html(str(path), include_plotlyjs="directory",
                       full_html=True)
        return path

    def __str__(self) -> str:
        return str(self.path)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=+-]+", "-", str(text)).strip("-")[:80]


def start_run(cfg, *, key: str = "", root: str | os.PathLike | None = None,
              seed: int | None = None, device: str | None = None,
              resume: bool = False) -> Run:
    """Create ``<root>/<notebook>/<timestamp>_<key>/`` with params and env.

    With ``resume=True`` the newest *incomplete* run (no ``metrics.json``)
    of the same notebook with the same ``params.json`` is reopened
    instead, so an interrupted long job continues in its own folder.

    Parameters
    ----------
    cfg : NotebookConfig
        The validated config; its ``NOTEBOOK`` names the folder.
    key : str
        Key parameters for the folder name (e.g. ``"race_fairclip"``).
    root : path, optional
        Parent of all runs; default :func:`fairnb.paths.runs_dir`.
    """
    parent = (resolve(root) if root else runs_dir()) / cfg.NOTEBOOK
    if resume:
        found = interrupted_run(cfg, parent)
        if found is not None:
            (found / FAILED_FILE).unlink(missing_ok=True)
            return _watched(Run(path=found, notebook=cfg.NOTEBOOK,
                                resumed=True))
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}_{_slug(key)}" if key else stamp
    parent.mkdir(parents=True, exist_ok=True)
    path, i = parent / name, 1
    while True:
        try:
            path.mkdir()
            break
        except FileExistsError:
            path, i = parent / f"{name}-{i}", i + 1
    run = Run(path=path, notebook=cfg.NOTEBOOK)
    run.write_json("params.json", cfg.to_dict())
    run.write_json("env.json", env_info(seed=seed, device=device))
    return _watched(run)


def _watched(run: Run) -> Run:
    from .run_status import watch
    watch(run)
    return run


def interrupted_run(cfg, parent: Path) -> Path | None:
    """Newest folder in ``parent`` with ``cfg``'s params and no
    ``metrics.json``, or None."""
    if not parent.is_dir():
        return None
    params = json.loads(json.dumps(_jsonable(cfg.to_dict())))
    found = []
    for p in parent.iterdir():
        info = p / "params.json"
        if info.is_file() and not (p / "metrics.json").exists():
            try:
                same = json.loads(info.read_text()) == params
            except ValueError:
                same = False
            if same:
                found.append(p)
    return max(found, key=lambda p: p.name) if found else None


def is_scored(path: Path) -> bool:
    """A complete run whose primary metric (if it names one) is defined."""
    try:
        metrics = json.loads((path / "metrics.json").read_text())
    except (OSError, ValueError):
        return False
    primary = metrics.get("primary")
    return primary is None or metrics.get(primary) is not None


def list_runs(notebook: str, *, root=None) -> list[Path]:
    """Complete, scored runs (:func:`is_scored`) of ``notebook``, oldest
    first."""
    parent = (resolve(root) if root else runs_dir()) / notebook
    if not parent.is_dir():
        return []
    done = [p for p in parent.iterdir() if is_scored(p)]
    return sorted(done, key=lambda p: ((p / "metrics.json").stat().st_mtime,
                                       p.name))


def latest(notebook: str, *, root=None) -> Path:
    """The newest complete run folder of ``notebook``.

    Raises
    ------
    FileNotFoundError
        With the notebook to run first, when there is none.
    """
    found = list_runs(notebook, root=root)
    if not found:
        parent = (resolve(root) if root else runs_dir()) / notebook
        raise FileNotFoundError(
            f"No complete run of {notebook} in {parent} (runs that failed "
            "or whose primary metric is NaN are never picked: "
            f"fnb.run_status.run_table({notebook!r}) lists them). Run "
            f"notebooks/{notebook}.ipynb first, or pass the run folder "
            "explicitly.")
    return found[-1]


def run_notebook(path: Path) -> str:
    """The notebook that wrote the run folder ``path`` (from its
    ``metrics.json``; runs older than the contract: the parent folder)."""
    try:
        written = json.loads((path / "metrics.json").read_text()).get(
            "notebook")
    except (OSError, ValueError):
        written = None
    return written or path.parent.name


def resolve_run(run: str, notebook: str | tuple[str, ...], *, root=None,
                other_than: Path | None = None) -> Path:
    """``run`` as a folder (a path, or a folder name under
    ``runs/<notebook>/``), or the latest run of ``notebook`` when empty.
    ``notebook`` may name several notebooks whose runs are accepted (the
    first is the one "latest" looks in). ``other_than``: a run it must
    differ from (a comparison's first run).

    Raises
    ------
    FileNotFoundError
        For an incomplete or missing folder.
    ValueError
        For a run folder another notebook wrote (the message names both).
    """
    accepted = (notebook,) if isinstance(notebook, str) else tuple(notebook)
    notebook = accepted[0]
    if not run:
        return latest(notebook, root=root)
    path = resolve(run)
    base = resolve(root) if root else runs_dir()
    for name in accepted:
        if not path.exists() and (base / name / run).is_dir():
            path = base / name / run
    if not (path / "metrics.json").is_file():
        raise FileNotFoundError(
            f"{path} is not a complete run folder (no metrics.json). Pass a "
            f"folder under runs/{notebook}/ (its path or its name) or leave "
            "the parameter empty for the latest run.")
    written = run_notebook(path)
    if written not in accepted:
        raise ValueError(
            f"{path} is a run of {written}, not of {' or '.join(accepted)}. "
            f"Pass a folder under runs/{notebook}/ or leave the parameter "
            "empty for the latest run.")
    if other_than is not None and path.resolve() == Path(
            other_than).resolve():
        raise ValueError(
            f"{path.name} is the run it would be compared with: a run "
            "compared with itself differs nowhere. Pass another run of "
            f"{notebook} (e.g. another seed or method).")
    return path
