"""fairnb.sweep: grids, resuming an interrupted sweep, command lists, and
a SLURM submission through submitit with a stand-in sbatch."""
import json
import os
import shlex
import stat

import pytest

from fairnb.config import ConfigError
from fairnb.sweep import (
    commands,
    complete_run,
    grid,
    require_complete,
    run_grid,
)


def test_grid_is_every_combination_and_validates_each_cell():
    cells = grid(method=["clip", "fairclip"], seed=[0, 1, 2],
                 attribute="race", preset="smoke")
    assert len(cells) == 6
    assert cells[4].parameters == {"method": "fairclip", "seed": 1,
                                   "attribute": "race", "preset": "smoke"}
    assert len({c.name for c in cells}) == 6
    with pytest.raises(ConfigError, match="Did you mean 'fairclip'"):
        grid(method=["clip", "fairclipp"])


def test_cell_names_stay_unique_for_long_and_similar_values():
    long = "/home/someuser/datasets/Harvard-FairVLMed-copy-for-a-sweep"
    cells = grid(data_dir=[long], epochs=[3], fair_weight=[10.0],
                 seed=[0, 1, 2], preset="smoke") + grid(
        data_dir=["a/b", "a-b"], preset="smoke")
    assert len({c.name for c in cells}) == len(cells) == 5


def test_explicit_parameters_are_not_overridden_by_the_preset():
    [cell] = grid(epochs=6, preset="smoke")  # 6 is the demo default
    assert cell.config().epochs == 6


def test_commands_are_papermill_lines_that_parse():
    cells = grid("01_explore_data", split=["train", "test"], preset="smoke")
    lines = commands(cells, folder="out").splitlines()
    assert len(lines) == 2
    args = shlex.split(lines[1])
    assert args[1:4] == ["-m", "papermill", "--cwd"]
    # a busy machine may take longer than papermill's 60 s to start a kernel
    assert args[5:7] == ["--start-timeout", "300"]
    assert args[7].endswith("notebooks/01_explore_data.ipynb")
    assert args[8].startswith("out/split=test-") and args[8].endswith(
        ".ipynb")
    assert args[9:] == ["-p", "split", "test", "-p", "preset", "smoke"]


def test_an_interrupted_sweep_runs_only_the_missing_cells(tmp_path):
    root = tmp_path / "runs"
    cells = grid("01_explore_data", split=["train", "val", "test"],
                 preset="smoke")
    first = run_grid(cells[:2], folder=tmp_path / "nb", workers=2,
                     root=root, progress=False)
    assert not first.failed and len(first.runs) == 2
    # the third cell was cut short: a folder with params and no metrics
    cfg = cells[2].config()
    stale = root / "01_explore_data" / "20000101-000000_killed"
    stale.mkdir(parents=True)
    (stale / "params.json").write_text(json.dumps(cfg.to_dict()))
    assert complete_run(cells[2], root=root) is None
    again = run_grid(cells, folder=tmp_path / "nb", root=root,
                     progress=False)
    assert sorted(again.skipped) == sorted(c.name for c in cells[:2])
    assert set(again.runs) == {c.name for c in cells}
    assert again.runs[cells[0].name] == first.runs[cells[0].name]
    params = json.loads((again.runs[cells[2].name] / "params.json")
                        .read_text())
    assert params["split"] == "test"
    done = run_grid(cells, folder=tmp_path / "nb", root=root,
                    progress=False)
    assert len(done.skipped) == 3  # nothing left to run
    # a complete run whose AUC is NaN still counts: training it again
    # would give the same NaN
    metrics = again.runs[cells[2].name] / "metrics.json"
    metrics.write_text(json.dumps({**json.loads(metrics.read_text()),
                                   "primary": "auc", "auc": None}))
    assert complete_run(cells[2], root=root) == again.runs[cells[2].name]


def test_slurm_submits_one_job_array_through_submitit(tmp_path,
                                                      monkeypatch):
    pytest.importorskip("submitit")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "sbatch.log"
    (bin_dir / "sbatch").write_text(
        f'#!/bin/sh\necho "$@" >> {log}\necho "Submitted batch job 4242"\n')
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    for f in bin_dir.iterdir():
        f.chmod(f.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    cells = grid("01_explore_data", split=["train", "val"], preset="smoke")
    result = run_grid(cells, folder=tmp_path / "sweep", executor="slurm",
                      root=tmp_path / "runs",
                      slurm={"timeout_min": 30, "slurm_partition": "gpu"})
    assert [j.job_id for j in result.jobs] == ["4242_0", "4242_1"]
    assert len(log.read_text().splitlines()) == 1  # one sbatch call
    text = (tmp_path / "sweep" / "slurm" / "4242_submission.sh").read_text()
    assert "#SBATCH --array=0-1" in text
    assert "#SBATCH --partition=gpu" in text and "#SBATCH --time=30" in text
    # re-run before the jobs finish: nothing is submitted twice
    again = run_grid(cells, folder=tmp_path / "sweep", executor="slurm",
                     root=tmp_path / "runs")
    assert again.jobs == [] and set(again.pending.values()) == {
        "4242_0", "4242_1"}
    assert len(log.read_text().splitlines()) == 1
    with pytest.raises(RuntimeError, match="no cell is submitted twice"):
        require_complete(again, cells)


def test_06_refuses_an_axis_that_a_parameter_also_sets():
    from fairnb.config import CompareConfig
    with pytest.raises(ConfigError, match="varies 'epochs'"):
        CompareConfig.create(grid_options="epochs=1|2", epochs=3)
    cells = CompareConfig.create(preset="smoke",
                                 grid_options="fair_weight:1|100").cells()
    # clip has no fair_weight: 2 seeds; fairclip: 2 weights x 2 seeds
    assert len(cells) == 6
    assert all("fair_weight" not in c.parameters for c in cells
               if c.parameters["method"] == "clip")
