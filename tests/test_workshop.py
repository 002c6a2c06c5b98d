"""``python -m fairnb.workshop``: the notebook runs it makes before the
solutions are the ones the sweep finds again. (``prepare`` as a whole
trains for minutes, so it is run by hand, not here: with ``--solutions``
in the smoke preset, without them in the workshop preset through
``python -m bench.workshop``.)"""
from fairnb.sweep import Cell
from fairnb.workshop import SOLUTION_RUNS


def test_each_solution_run_writes_the_run_folder_its_cell_looks_for():
    for notebook, extra in SOLUTION_RUNS:
        cfg = Cell(notebook, {"preset": "smoke", **extra}).config()
        # 07 writes one folder per method, each with for_method's
        # parameters; every other notebook writes its config as it is
        written = cfg.for_method(cfg.method) if notebook == "07_multifair" \
            else cfg
        assert written.to_dict() == cfg.to_dict(), notebook
