"""Training on several processes keeps the method: with gloo and two CPU
processes, one step's loss, logged terms and gradients equal one
process's on the same global batch (clip, fairclip, dbpm, groupdro,
multifair, dualfairvl), and
a 2-process training (``torchrun -m fairnb train`` and 03 with
``launcher="torchrun"``) writes the run folder one process writes, with
the same metrics."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import papermill as pm
import pytest
import torch

import fairnb as fnb
from fairnb.config import ConfigError, FairCLIPConfig
from fairnb.distributed import World, current_world, shard_sizes
from fairnb.engine import TrainSettings, _Engine

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone",
            "--nproc_per_node", "2"]


def run(cmd, **kw):
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          cwd=ROOT, **kw)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done


# -- one process: the world of size 1 -------------------------------------
def test_one_process_is_the_world_of_size_one(smoke_splits):
    _, data = smoke_splits
    world = current_world()
    assert world == World() and not world.active and world.is_main
    batch = data["train"].batch(np.arange(5))
    assert world.local(batch) is batch
    x = torch.randn(5, 3)
    assert world.gather(x, 5) is x


def test_slices_cover_the_batch_in_order(smoke_splits):
    _, data = smoke_splits
    assert shard_sizes(7, 2) == [4, 3] and shard_sizes(2, 3) == [1, 1, 0]
    batch = data["train"].batch(np.arange(10, 17))
    parts = [World(rank=r, size=3).local(batch) for r in range(3)]
    assert [p.index.tolist() for p in parts] == [[10, 11, 12], [13, 14],
                                                 [15, 16]]
    joined = torch.cat([p.images for p in parts])
    assert torch.equal(joined, batch.images)
    assert torch.equal(torch.cat([p.attributes for p in parts]),
                       batch.attributes)


def test_a_split_subset_is_the_rows_it_names(smoke_splits):
    _, data = smoke_splits
    train = data["train"]
    rows = [7, 2, 30]
    part = train.subset(rows)
    assert part.ids == [train.ids[i] for i in rows]
    assert part.texts == [train.texts[i] for i in rows]
    assert torch.equal(part.images, train.images[rows])
    assert torch.equal(part.labels, train.labels[rows])
    assert len(part) == 3 and part.split == train.split


def test_scores_of_slices_concatenate_to_the_whole(smoke_splits):
    bundle, data = smoke_splits
    method = fnb.make_method("clip")
    method.setup(fnb.methods.base.Context(bundle=bundle, train=data["train"],
                                          device=torch.device("cpu")))
    val = data["val"]
    whole = method.score(val)
    cut = shard_sizes(len(val), 2)[0]
    parts = [method.score(val.subset(np.arange(cut))),
             method.score(val.subset(np.arange(cut, len(val))))]
    joined = fnb.evaluate.Predictions.concat(parts)
    assert (joined.ids == whole.ids).all()
    np.testing.assert_allclose(joined.y_score, whole.y_score, rtol=1e-5)
    for a in whole.attributes:
        assert (joined.attributes[a] == whole.attributes[a]).all()


class _OneProcessOnly(fnb.methods.Method):
    def training_step(self, batch, step):
        raise AssertionError("never reached")


def test_several_processes_refuse_what_they_cannot_split(smoke_splits,
                                                         monkeypatch):
    bundle, data = smoke_splits
    monkeypatch.setattr("fairnb.engine.current_world",
                        lambda: World(rank=0, size=2))
    settings = TrainSettings(epochs=1, batch_size=32, device="cpu")
    with pytest.raises(ValueError, match="does not train on several"):
        _Engine(bundle, _OneProcessOnly(), data["train"], settings, None)
    # plain batches whose last one holds a single sample
    n = len(data["train"])
    size = next(b for b in range(3, 40) if n % b == 1)
    settings = TrainSettings(epochs=1, batch_size=size, sampler="plain",
                             device="cpu")
    with pytest.raises(ValueError, match="cannot be split over 2"), \
            pytest.warns(UserWarning, match="SyncBatchNorm does not run"):
        _Engine(bundle, fnb.make_method("clip"), data["train"], settings,
                None)


def test_the_config_names_a_launcher_that_cannot_work():
    with pytest.raises(ConfigError, match="needs launcher='torchrun'"):
        FairCLIPConfig.create(devices=2)
    with pytest.raises(ConfigError, match="Bad value for 'launcher'"):
        FairCLIPConfig.create(launcher="slurm")
    with pytest.raises(ConfigError, match="batch_size >= 4"):
        FairCLIPConfig.create(launcher="torchrun", devices=4, batch_size=3)
    cfg = FairCLIPConfig.create(launcher="torchrun", devices=2)
    assert (cfg.launcher, cfg.devices) == ("torchrun", 2)


# -- two processes with gloo ----------------------------------------------
def test_two_processes_give_one_process_loss_and_gradients(tmp_path):
    """tests/ddp_step.py: the sampler's first global batch of 31 (16 + 15
    rows), one engine step; gradients as the optimizer gets them."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run([sys.executable, "tests/ddp_step.py", str(tmp_path / "one")],
        env=env)
    run([*TORCHRUN, "tests/ddp_step.py", str(tmp_path / "two")], env=env)
    sizes = []
    for name in ("clip", "fairclip", "dbpm", "groupdro", "multifair",
                 "dualfairvl"):
        one = torch.load(tmp_path / "one" / f"{name}.pt", weights_only=False)
        two = torch.load(tmp_path / "two" / f"{name}.pt", weights_only=False)
        assert (one["world"], two["world"]) == (1, 2)
        sizes.append(len(one["index"]))  # group batches differ by one
        assert (one["index"] == two["index"]).all()  # the same global batch
        for key, value in one["row"].items():  # loss and every logged term
            assert two["row"][key] == pytest.approx(value, rel=1e-5,
                                                    abs=1e-7), (name, key)
        assert one["grads"].keys() == two["grads"].keys()
        assert len(one["grads"]) > 20  # dualfairvl: its modules only
        for key, g in one["grads"].items():
            torch.testing.assert_close(two["grads"][key], g, rtol=1e-4,
                                       atol=1e-6, msg=f"{name} {key}")
        if name == "fairclip":
            assert one["row"]["fair_term"] > 0
        if name == "dbpm":  # the mined memory moved the same way
            assert 0 < one["flagged"].sum() < len(one["flagged"])
            assert one["row"]["flagged_in_batch"] > 0
            np.testing.assert_allclose(two["sum"], one["sum"], rtol=1e-5)
            assert (two["count"] == one["count"]).all()
            assert one["count"].sum() == len(one["index"])
        if name == "groupdro":
            torch.testing.assert_close(two["q"], one["q"])
            assert not torch.allclose(one["q"], torch.full_like(one["q"],
                                                                1 / 3))
        if name == "multifair":  # both levels acted, the same way
            assert one["row"]["priority"] == 1.0
            assert two["factors"] == pytest.approx(one["factors"], rel=1e-6)
            assert all(abs(f - 1) > 0.05 for f in one["factors"].values())
            for m, ema in one["group_ema"].items():
                np.testing.assert_allclose(two["group_ema"][m], ema,
                                           rtol=1e-6)
        if name == "dualfairvl":  # prototypes of the whole batch
            torch.testing.assert_close(two["protos"], one["protos"])
            torch.testing.assert_close(two["protos_g"], one["protos_g"])
            assert one["protos"].abs().sum() > 0
    assert set(sizes) <= {30, 31} and 31 in sizes  # 16 + 15 rows too


NOTEBOOKS = ROOT / "notebooks"


def execute_03(tmp_path, **parameters):
    pm.execute_notebook(
        str(NOTEBOOKS / "03_fairclip.ipynb"), str(tmp_path / "03.out.ipynb"),
        parameters={"preset": "smoke", "method": "clip",
                    "model": "fairnb-tiny-vit", **parameters},
        kernel_name="python3", cwd=str(NOTEBOOKS), progress_bar=False,
        execution_timeout=300, store_widget_state=False)


@pytest.fixture(scope="module")
def one_process_run(tmp_path_factory):
    """A 03 smoke run (clip, LayerNorm ViT) in one process."""
    tmp = tmp_path_factory.mktemp("one_process")
    mp = pytest.MonkeyPatch()
    mp.setenv("FAIRNB_RUNS_DIR", str(tmp / "runs"))
    execute_03(tmp)
    mp.undo()
    [folder] = (tmp / "runs" / "03_fairclip").iterdir()
    return folder


def assert_same_run(a: Path, b: Path):
    ma = json.loads((a / "metrics.json").read_text())
    mb = json.loads((b / "metrics.json").read_text())
    assert ma.keys() == mb.keys()
    for key, value in ma.items():
        if isinstance(value, float):
            assert mb[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
        else:
            assert mb[key] == value, key
    ea = np.genfromtxt(a / "epochs.csv", delimiter=",", names=True)
    eb = np.genfromtxt(b / "epochs.csv", delimiter=",", names=True)
    for col in ("train_loss", "val_auc", "val_es_auc"):
        np.testing.assert_allclose(eb[col], ea[col], rtol=1e-5)
    pa = fnb.evaluate.Predictions.load(a / "predictions.npz")
    pb = fnb.evaluate.Predictions.load(b / "predictions.npz")
    assert (pa.ids == pb.ids).all()  # gathered in order
    np.testing.assert_allclose(pb.y_score, pa.y_score, rtol=1e-4, atol=1e-6)


def test_03_trains_in_two_processes_with_launcher_torchrun(tmp_path,
                                                           monkeypatch,
                                                           one_process_run):
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "runs"))
    execute_03(tmp_path, launcher="torchrun", devices=2)
    [folder] = (tmp_path / "runs" / "03_fairclip").iterdir()
    assert (folder / "figures").is_dir()
    assert_same_run(one_process_run, folder)


def test_torchrun_trains_a_03_run_from_its_params_json_and_resumes(
        tmp_path, one_process_run, kill_after_first_checkpoint):
    """``torchrun -m fairnb train --config <a 03 run's params.json>``
    killed after its first epoch's checkpoint, then the same command
    again: it resumes the run folder (every process from ``last.pt``, each
    with its own random state) and writes the run folder the
    uninterrupted one-process training writes."""
    cmd = [*TORCHRUN, "-m", "fairnb", "train", "--config",
           str(one_process_run / "params.json"), "--root",
           str(tmp_path / "killed")]  # smoke: 2 epochs
    folder = tmp_path / "killed" / "03_fairclip"
    kill_after_first_checkpoint(cmd, folder, cwd=ROOT)
    [killed] = folder.iterdir()
    assert not (killed / "metrics.json").exists()
    last = torch.load(killed / "checkpoints" / "last.pt", weights_only=True)
    assert last["epoch"] == 1
    assert len(last["rng_ranks"]) == 2  # one random state per process
    done = run(cmd)  # the same command
    assert [p.name for p in folder.iterdir()] == [killed.name]
    assert f"run folder: {killed} (2 processes)" in done.stdout
    params = json.loads((killed / "params.json").read_text())
    assert (params["launcher"], params["devices"]) == ("torchrun", 2)
    for name in ("predictions_val.npz", "by_group.csv", "data.json",
                 "env.json"):
        assert (killed / name).is_file(), name
    assert not (killed / "checkpoints").exists()  # smoke keeps none
    assert_same_run(one_process_run, killed)
