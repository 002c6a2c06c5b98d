"""What ``env.json`` records of the machine a run used: Python, platform,
package versions, git commit, device and seed.

Used in: every notebook (through :func:`fairnb.runs.start_run`).
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import sys
from importlib import metadata

from .paths import repo_root

PACKAGES = ("torch", "open_clip_torch", "pot", "numpy", "pandas",
            "scikit-learn", "fairlearn", "plotly", "papermill")


def env_info(*, seed: int | None = None, device: str | None = None) -> dict:
    """Python, platform, package versions, git commit, device and seed."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo_root()), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"python": sys.version.split()[0],
            "platform": platform.platform(),
            "processor": platform.machine(),
            "cpu_count": os.cpu_count(),
            "packages": versions, "git_commit": commit or None,
            "device": device, "seed": seed,
            "time": _dt.datetime.now().isoformat(timespec="seconds")}


__all__ = ["PACKAGES", "env_info"]
