import json
import os

import plotly.graph_objects as go
import pytest

from fairnb import runs
from fairnb.config import ExploreConfig


@pytest.fixture
def cfg():
    return ExploreConfig.create(preset="smoke")


def test_start_run_writes_params_and_env(tmp_path, cfg):
    run = runs.start_run(cfg, key="race fairclip", root=tmp_path, seed=3)
    assert run.path.parent == tmp_path / "01_explore_data"
    assert run.path.name.endswith("_race-fairclip")
    params = json.loads((run.path / "params.json").read_text())
    assert params["preset"] == "smoke"
    env = json.loads((run.path / "env.json").read_text())
    assert env["seed"] == 3 and env["packages"]["numpy"]


def test_two_runs_in_the_same_second_get_distinct_folders(tmp_path, cfg):
    a = runs.start_run(cfg, root=tmp_path)
    b = runs.start_run(cfg, root=tmp_path)
    assert a.path != b.path


def test_latest_skips_incomplete_runs(tmp_path, cfg):
    with pytest.raises(FileNotFoundError, match="Run notebooks/01_explore"):
        runs.latest("01_explore_data", root=tmp_path)
    done = runs.start_run(cfg, root=tmp_path)
    done.write_metrics({"auc": 0.5})
    runs.start_run(cfg, root=tmp_path)  # no metrics.json: incomplete
    assert runs.latest("01_explore_data", root=tmp_path) == done.path
    assert runs.resolve_run("", "01_explore_data", root=tmp_path) == done.path
    with pytest.raises(FileNotFoundError, match="not a complete run"):
        runs.resolve_run(str(tmp_path), "01_explore_data")


def test_metrics_are_strict_json_and_flat(tmp_path, cfg):
    run = runs.start_run(cfg, root=tmp_path)
    run.write_metrics({"auc": float("nan"), "n": 3})
    text = (run.path / "metrics.json").read_text()
    assert json.loads(text) == {"schema_version": 1,
                                "notebook": cfg.NOTEBOOK, "auc": None,
                                "n": 3}
    run.write_metrics({"auc": 0.5, "selection": "test: optimistic"})
    assert json.loads((run.path / "metrics.json").read_text())[
        "selection"] == "test: optimistic"
    with pytest.raises(TypeError, match="flat numbers or strings"):
        run.write_metrics({"by_group": {"a": 1}})


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "x.json"
    runs.write_json(target, {"a": 1})

    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        runs.write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_save_figure_is_offline_html(tmp_path, cfg):
    run = runs.start_run(cfg, root=tmp_path)
    path = run.save_figure(go.Figure(go.Bar(x=[1], y=[2])), "bars")
    assert path.read_text().count("<html") == 1
    assert (path.parent / "plotly.min.js").is_file()


def test_resume_reopens_the_interrupted_run_only(tmp_path, cfg):
    a = runs.start_run(cfg, root=tmp_path, resume=True)
    b = runs.start_run(cfg, root=tmp_path, resume=True)
    assert b.path == a.path  # a has no metrics.json: interrupted
    other = ExploreConfig.create(preset="smoke", split="test")
    assert runs.start_run(other, root=tmp_path, resume=True).path != a.path
    a.write_metrics({"n": 1})  # complete: never reopened
    c = runs.start_run(cfg, root=tmp_path, resume=True)
    assert c.path != a.path
    assert runs.start_run(cfg, root=tmp_path).path != c.path


def test_atomic_write_honours_the_umask_and_keeps_an_old_mode(tmp_path):
    # mkstemp creates 0600 files; a run or dataset folder shared with a
    # group must get what a plain open() would give
    old = os.umask(0o027)
    try:
        new = runs.atomic_write_text(tmp_path / "a.csv", "x")
        assert new.stat().st_mode & 0o777 == 0o640
        kept = tmp_path / "b.csv"
        kept.write_text("old")
        kept.chmod(0o604)
        runs.atomic_write_text(kept, "new")
        assert kept.stat().st_mode & 0o777 == 0o604
    finally:
        os.umask(old)


def test_resolve_run_takes_a_name_and_refuses_another_notebooks_run(
        tmp_path, cfg):
    run = runs.start_run(cfg, root=tmp_path)
    run.write_metrics({"auc": 0.5})
    name = cfg.NOTEBOOK
    assert runs.resolve_run(run.path.name, name, root=tmp_path) == run.path
    assert runs.resolve_run(str(run.path), name, root=tmp_path) == run.path
    with pytest.raises(ValueError) as err:
        runs.resolve_run(str(run.path), "03_fairclip", root=tmp_path)
    assert f"is a run of {name}, not of 03_fairclip" in str(err.value)


def test_import_fairnb_loads_no_heavy_library():
    import subprocess
    import sys
    code = ("import sys, fairnb; fairnb.FairCLIPConfig; fairnb.dashboard; "
            "fairnb.Predictions; fairnb.metrics; print(sorted(m for m in "
            "('torch', 'open_clip', 'ot', 'transformers') if m in "
            "sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "[]"
