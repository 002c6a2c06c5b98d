"""Everything a workshop needs, built in advance (``make workshop-data``).

``python -m fairnb.workshop`` (preset ``workshop``: the demo data, fewer
epochs) generates the synthetic datasets, trains the tour's grid (CLIP and
FairCLIP over three seeds: 00 and 06 then train nothing) and one 03 run
that keeps its weights (04 and 05 read it), so participants wait for
nothing. ``--solutions`` also runs the notebooks the solutions read (00,
06 with and without planted levels, 07, 08: :data:`SOLUTION_RUNS`) and
then every exercise's worked solution (the runs they train). Whatever
exists is reused: running it again takes seconds. See ``docs/workshop.md``.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field

#: the notebook runs the solutions read, beyond 03's: the tour (00.x),
#: a comparison with the tour's grid and one over three planted levels
#: (06.x), and 07's MultiFair run and 08's run (07.x, 08.x vary them; 07
#: alone, without the baselines a solution trains when it needs one, so
#: that its run folder carries these parameters)
SOLUTION_RUNS = (("00_tour", {}), ("06_compare_methods", {}),
                 ("06_compare_methods", {"bias_levels": "0,1,2"}),
                 ("07_multifair", {"baselines": "none"}),
                 ("08_dualfairvl", {}))


@dataclass
class Prepared:
    """What :func:`prepare` built or found, with seconds per step."""

    steps: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"{name}: {seconds:.0f} s" for name, seconds in
                 self.steps.items()]
        return "\n".join(lines + [f"total: {sum(self.steps.values()):.0f} s"])


def prepare(*, preset: str = "workshop", solutions: bool = False,
            progress: bool = True) -> Prepared:
    """Build the data and the runs of a workshop session (module doc)."""
    from .config import TourConfig
    from .data.synthetic import ensure_synthetic
    from .data.synthetic_oct import ensure_synthetic_oct
    from .jobs import run_or_reuse
    from .paths import runs_dir
    from .sweep import require_complete, run_grid

    done = Prepared()

    def step(name, fn):
        start = time.monotonic()
        if progress:
            print(f"== {name}", flush=True)
        value = fn()
        done.steps[name] = time.monotonic() - start
        return value

    step("data (Harvard-FairVLMed stand-in)", lambda: ensure_synthetic(
        preset))
    step("data (FairVision SLO + OCT stand-in)",
         lambda: ensure_synthetic_oct(preset))
    tour = TourConfig.create(explicit={"preset"}, preset=preset)
    cells = tour.comparison().cells()
    step(f"the tour's grid ({len(cells)} 03 runs)", lambda: require_complete(
        run_grid(cells, folder=runs_dir() / "workshop" / "cells",
                 progress=progress), cells))
    step("a 03 run that keeps its weights (04, 05)",
         lambda: run_or_reuse(preset=preset))
    if solutions:
        from .exercises import EXERCISES, run_solution
        from .sweep import Cell
        # the notebook runs the solutions read (each reused when complete)
        runs = [Cell(notebook, {"preset": preset, **extra})
                for notebook, extra in SOLUTION_RUNS]
        for cell in runs:
            flags = " ".join(f"-p {k} {v}" for k, v in cell.parameters.items())
            step(f"{cell.notebook} {flags}",
                 lambda cell=cell: require_complete(run_grid(
                     [cell], folder=runs_dir() / "workshop" / "cells",
                     progress=progress), [cell]))
        for key in EXERCISES:
            step(f"solution {key}", lambda key=key: run_solution(
                key, preset=preset))
    return done


def main(argv=None) -> int:
    from .config.base import PRESETS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="workshop", choices=PRESETS)
    parser.add_argument("--solutions", action="store_true",
                        help="also run every exercise's solution")
    args = parser.parse_args(argv)
    print(prepare(preset=args.preset, solutions=args.solutions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
