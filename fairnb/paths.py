"""Where fairnb keeps generated data and run folders.

Paths resolve against the repository root (or the environment variables
below), never against the current directory, so a notebook gives the same
answer whether papermill runs it from ``notebooks/`` or from the root.

- ``FAIRNB_DATA_DIR``: cache of generated datasets (default ``<root>/data``).
- ``FAIRNB_RUNS_DIR``: run folders (default ``<root>/runs``).
- ``FAIRNB_HOME``: the root itself when fairnb is not installed from a
  checkout (default ``~/.cache/fairnb``).
"""
from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The checkout fairnb was installed from, else ``FAIRNB_HOME``."""
    if os.environ.get("FAIRNB_HOME"):
        return Path(os.environ["FAIRNB_HOME"]).expanduser().resolve()
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").is_file() and (here / "fairnb").is_dir():
        return here
    return Path("~/.cache/fairnb").expanduser()


def data_dir() -> Path:
    """Cache folder for generated datasets."""
    env = os.environ.get("FAIRNB_DATA_DIR")
    return Path(env).expanduser().resolve() if env else repo_root() / "data"


def runs_dir() -> Path:
    """Parent folder of all run folders."""
    env = os.environ.get("FAIRNB_RUNS_DIR")
    return Path(env).expanduser().resolve() if env else repo_root() / "runs"


def resolve(path: str | os.PathLike) -> Path:
    """Resolve a user path: absolute as given, relative against the root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (repo_root() / p).resolve()


#: file suffixes that make a ``pretrained`` value a file, not a tag
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".safetensors")


def is_file_value(pretrained: str) -> bool:
    """Whether a ``pretrained`` value names a file (a path separator or a
    checkpoint suffix) rather than an open_clip tag such as ``openai``.

    Examples
    --------
    >>> is_file_value("openai"), is_file_value("runs/x/best.pt")
    (False, True)
    """
    text = str(pretrained)
    return "/" in text or "\\" in text or text.endswith(CHECKPOINT_SUFFIXES)
