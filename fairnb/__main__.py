"""``python -m fairnb``: command-line entry points.

``python -m fairnb train --config runs/03_fairclip/<run>/params.json``
repeats a 03 run from its own record (:func:`fairnb.jobs.train_job`);
``-p name value`` overrides a parameter as papermill's ``-p`` does (e.g.
``-p seed 1`` or ``-p preset paper``), ``--root`` sets the runs folder.
Under ``torchrun --nproc_per_node N -m fairnb train ...`` the N processes
train one run together (:mod:`fairnb.distributed`).
"""
from __future__ import annotations

import argparse
import ast
import sys


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fairnb",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="a 03 training run from a "
                           "params.json")
    train.add_argument("--config", required=True,
                       help="a 03 run's params.json (or any file of 03 "
                       "parameters)")
    train.add_argument("-p", "--parameter", nargs=2, action="append",
                       default=[], metavar=("NAME", "VALUE"),
                       help="override one parameter")
    train.add_argument("--root", default=None,
                       help="runs folder (default: FAIRNB_RUNS_DIR or runs/)")
    train.add_argument("--run-folder", default=None,
                       help="train into this existing run folder (resuming"
                       " it) instead of a new one")
    train.add_argument("--train-only", action="store_true",
                       help="stop after training (checkpoints and "
                       "epochs.csv; 03 with launcher='torchrun' evaluates)")
    args = parser.parse_args(argv)
    from .config import ConfigError
    from .jobs import read_config, train_job
    try:
        cfg = read_config(args.config, **{k: _value(v) for k, v in
                                          args.parameter})
    except (ConfigError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from .distributed import close_world, init_world
    world = init_world(device=cfg.device)  # torchrun: join its processes
    try:
        result = train_job(cfg, root=args.root, run_path=args.run_folder,
                           train_only=args.train_only)
    finally:
        close_world()
    if world.is_main:
        print(f"run folder: {result.run.path}"
              + (f" ({world.size} processes)" if world.active else ""))
        m = result.metrics
        if m:
            print(f"AUC {m['auc']:.3f} | ES-AUC ({cfg.attribute}) "
                  f"{m['es_auc_' + cfg.attribute]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
