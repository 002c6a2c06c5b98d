"""The bad-input matrix (README: "Bad input"): each row, the error or
warning the user sees, and that its fix works as written. Rows that need
a notebook run are in tests/notebooks/test_notebooks.py."""
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import fairnb as fnb
from fairnb import preflight
from fairnb.config import ConfigError, FairCLIPConfig, SummarizeConfig
from fairnb.data import read_dataset
from fairnb.data.fairvlmed import DatasetError
from fairnb.runs import start_run


def config(**kw):
    return FairCLIPConfig.create(preset="smoke", **kw)


# -- numbers that cannot train --
@pytest.mark.parametrize("name", ["fair_weight", "lr", "blur", "grad_clip"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused_by_name(name, value):
    with pytest.raises(ConfigError) as err:
        config(**{name: value})
    assert f"Parameter {name!r} must be a finite number" in str(err.value)


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_seed_out_of_range_names_seed(seed):
    with pytest.raises(ConfigError, match="'seed'"):
        config(seed=seed)
    config(seed=2**32 - 1)  # the largest seed numpy takes works


# -- device, pretrained --
@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_is_refused_before_any_run_folder():
    with pytest.raises(ConfigError) as err:
        preflight.check_device("cuda")
    assert "device" in str(err.value) and "'auto' or 'cpu'" in str(err.value)
    preflight.check_device("auto")  # the fix


def test_a_relative_pretrained_path_resolves_against_the_repository_root():
    from fairnb.paths import repo_root
    cfg = config(pretrained="runs/x/checkpoints/best.pt")
    assert cfg.pretrained == str(repo_root() / "runs/x/checkpoints/best.pt")
    assert config(pretrained="openai", model="ViT-B-16").pretrained == \
        "openai"  # a tag stays a tag


def test_a_missing_pretrained_file_names_the_path_and_the_rule(tmp_path):
    with pytest.raises(ConfigError) as err:
        preflight.check_pretrained("fairnb-tiny", str(tmp_path / "no.pt"))
    assert "no.pt does not exist" in str(err.value)
    assert "relative to the repository root" in str(err.value)


def test_an_unknown_pretrained_tag_lists_the_tags():
    with pytest.raises(ConfigError) as err:
        preflight.check_pretrained("ViT-B-16", "openia")
    assert "openai" in str(err.value)


def test_a_file_that_is_not_a_checkpoint_is_refused_safely(tmp_path):
    bad = tmp_path / "notes.pt"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ConfigError) as err:
        preflight.check_pretrained("fairnb-tiny", str(bad))
    msg = str(err.value)
    assert "not a checkpoint fairnb can read safely" in msg
    assert "weights_only=False" not in msg  # never advise running code


def test_a_checkpoint_of_another_model_names_the_model(tmp_path):
    path = tmp_path / "best.pt"
    bundle = fnb.create_model("fairnb-tiny", seed=0)
    torch.save({"model": bundle.model.state_dict(),
                "model_name": "fairnb-tiny"}, path)
    with pytest.raises(ConfigError) as err:
        preflight.check_pretrained("ViT-B-16", str(path))
    assert "a checkpoint of model 'fairnb-tiny'" in str(err.value)
    assert "-p model fairnb-tiny" in str(err.value)
    preflight.check_pretrained("fairnb-tiny", str(path))  # the fix works
    fnb.create_model("fairnb-tiny", pretrained=str(path))


# -- data that cannot give a score --
class Meta:
    """A stand-in dataset: metadata only, as the checks read it."""

    root = Path("/data/x")

    def __init__(self, rows):
        self.table = pd.DataFrame(rows, columns=["split", "label", "race"])

    def metadata(self, split=None):
        t = self.table
        return t if split is None else t[t["split"] == split]


def rows(test_labels=(0, 1), train_race=(0, 1, 2), test_race=(0, 1, 2)):
    out = [("train", i % 2, r) for i, r in enumerate(train_race * 4)]
    out += [("val", y, 0) for y in (0, 1, 0, 1)]
    out += [("test", y, r) for y in test_labels for r in test_race]
    return out


def test_a_test_split_with_one_class_is_refused_before_training():
    with pytest.raises(ConfigError) as err:
        preflight.check_splits(Meta(rows(test_labels=(1,))), attribute="race")
    assert "test split" in str(err.value) and "only label {1}" in str(
        err.value)
    assert "both hold glaucoma and non-glaucoma" in str(err.value)


def test_a_group_absent_from_training_is_reported():
    with pytest.warns(UserWarning, match="Black appear in Test but not in "
                                         "Training"):
        preflight.check_splits(Meta(rows(train_race=(0, 2))),
                               attribute="race")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        preflight.check_splits(Meta(rows()), attribute="race")


def test_a_batch_too_small_for_the_groups_names_batch_size_and_the_fix():
    data = Meta(rows())  # three race groups in Training
    method = fnb.make_method("fairclip", attribute="race")
    with pytest.raises(ConfigError) as err:
        preflight.check_batches(method, config(batch_size=4).train_settings(),
                                data)
    msg = str(err.value)
    assert "batch_size" in msg and "min_per_group" in msg
    # the fixes it names work: a larger batch, or fewer places per group
    preflight.check_batches(method, config(batch_size=8).train_settings(),
                            data)
    preflight.check_batches(
        method, config(batch_size=4, min_per_group=1).train_settings(), data)


# -- files in the dataset folder --
def npz(path, note=b"note", image=None, **over):
    fields = dict(
        slo_fundus=np.full((64, 64), 9, np.uint8) if image is None else image,
        md=np.array(-1.0), tds=np.zeros(52), age=np.array(60.0),
        gender=np.array(0), race=np.array(2), ethnicity=np.array(0),
        language=np.array(0), maritalstatus=np.array(1),
        glaucoma=np.array(1), note=np.array(note),
        note_extra=np.array(b"x"))
    fields.update(over)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **fields)


def test_notes_that_are_not_utf8_are_decoded_with_a_named_fallback(
        tmp_path):
    npz(tmp_path / "Test/data_00001.npz", note="café OD".encode("cp1252"))
    npz(tmp_path / "Test/data_00002.npz", note="fine".encode())
    with pytest.warns(UserWarning, match=r"1 note\(s\) were not UTF-8 .*"
                                         r"cp1252.*data_00001\.npz"):
        meta = read_dataset(tmp_path, splits=("test",)).metadata()
    assert meta["note"].tolist() == ["café OD", "fine"]  # not U+FFFD


def test_a_tiny_image_is_reported(tmp_path):
    npz(tmp_path / "Test/data_00001.npz", image=np.zeros((1, 5), np.uint8))
    with pytest.warns(UserWarning, match=r"data_00001\.npz \(1x5\)"):
        read_dataset(tmp_path, splits=("test",)).metadata()


def test_a_16_bit_image_is_refused_with_the_rescale(tmp_path):
    npz(tmp_path / "Test/data_00001.npz",
        image=np.full((64, 64), 4000, np.uint16))
    ds = read_dataset(tmp_path, splits=("test",))
    with pytest.raises(DatasetError, match=r"uint16 with values 4000\.\.4000"
                                           r".*image >> 8"):
        ds.load_image("data_00001")


# -- run folders --
def test_a_nan_primary_metric_warns_and_is_never_latest(tmp_path):
    from fairnb.config import ExploreConfig
    from fairnb.runs import latest
    good = start_run(ExploreConfig.create(), root=tmp_path, key="good")
    good.write_metrics({"auc": 0.7}, primary="auc")
    nan = start_run(ExploreConfig.create(), root=tmp_path, key="nan")
    with pytest.warns(UserWarning, match="'auc' is undefined"):
        nan.write_metrics({"auc": float("nan")}, primary="auc")
    assert latest("01_explore_data", root=tmp_path) == good.path
    assert fnb.run_status.status(nan.path) == "unscored"


def test_a_cell_that_raises_marks_the_run_failed_and_clean_runs_removes_it(
        tmp_path):
    from IPython.core.interactiveshell import InteractiveShell

    from fairnb.config import ExploreConfig
    shell = InteractiveShell.instance()
    try:
        run = start_run(ExploreConfig.create(), root=tmp_path)
        shell.run_cell("raise ValueError('bad thing')")
        assert fnb.run_status.status(run.path) == "failed"
        info = json.loads((run.path / "failed.json").read_text())
        assert info["error"] == "ValueError"
        table = fnb.run_status.run_table("01_explore_data", root=tmp_path)
        assert table["error"].tolist() == ["ValueError: bad thing"]
        assert fnb.list_runs("01_explore_data", root=tmp_path) == []
        done = start_run(ExploreConfig.create(), root=tmp_path, key="ok")
        shell.run_cell("1 + 1")
        done.write_metrics({"n": 1})
        listed = fnb.run_status.clean_runs("01_explore_data", root=tmp_path)
        assert listed == [run.path] and run.path.exists()  # dry run
        fnb.run_status.clean_runs("01_explore_data", root=tmp_path,
                                  dry_run=False)
        assert not run.path.exists() and done.path.exists()
        with pytest.raises(ValueError, match="complete"):
            fnb.run_status.clean_runs("01_explore_data", root=tmp_path,
                                      statuses=("complete",))
    finally:
        InteractiveShell.clear_instance()


def test_keep_prunes_a_finished_runs_checkpoints(tmp_path):
    from fairnb.config import ExploreConfig
    for keep, left in (("best", {"best.pt"}), ("last", {"last.pt"}),
                       ("both", {"best.pt", "last.pt"}), ("none", set())):
        run = start_run(ExploreConfig.create(), root=tmp_path, key=keep)
        for name in ("best.pt", "last.pt"):
            run.file(f"checkpoints/{name}").write_bytes(b"x")
        run.prune_checkpoints(keep)
        folder = run.path / "checkpoints"
        assert (set(p.name for p in folder.iterdir()) if folder.exists()
                else set()) == left
    assert config().keep == "none" and FairCLIPConfig.create().keep == "best"


def test_a_damaged_predictions_file_says_so(tmp_path):
    from fairnb.predictions import Predictions
    path = tmp_path / "predictions.npz"
    path.write_bytes(b"PK\x03\x04 torn")
    with pytest.raises(ValueError, match="not a readable predictions file"):
        Predictions.load(path)
    with pytest.raises(FileNotFoundError, match="has no predictions"):
        Predictions.load(tmp_path / "none.npz")


def test_comparing_a_run_with_itself_is_refused(tmp_path):
    from fairnb.config import ExploreConfig
    run = start_run(ExploreConfig.create(), root=tmp_path)
    run.write_metrics({"n": 1})
    with pytest.raises(ValueError, match="compared with itself"):
        fnb.resolve_run(run.path.name, "01_explore_data", root=tmp_path,
                        other_than=run.path)


# -- 02 --
def test_02_timeout_and_retries_are_bounded_parameters_that_reach_the_client():
    cfg = SummarizeConfig.create()
    assert (cfg.timeout, cfg.retries) == (30.0, 2)
    for bad in ({"timeout": 0.0}, {"retries": 11}, {"timeout": math.nan}):
        with pytest.raises(ConfigError):
            SummarizeConfig.create(**bad)
    client = fnb.summarize.make_summarizer(
        "openai", base_url="http://localhost:1/v1", model_name="m",
        timeout=5.0, retries=1)
    assert (client.timeout, client.retries) == (5.0, 1)


def test_an_empty_note_gets_the_placeholder_and_03_reads_it(tmp_path):
    from fairnb.summarize import EMPTY_NOTE_SUMMARY, summarize_notes
    notes = pd.DataFrame({"file": ["data_00001", "data_00002"],
                          "note": ["POAG OU, C/D 0.8.", "   "]})
    csv = tmp_path / "extractive_summarized_notes.csv"
    summarize = fnb.summarize.make_summarizer("extractive")
    result = summarize_notes(notes, summarize, csv=csv, progress=False)
    assert result.empty_notes == ["data_00002"]
    table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    assert table["Summarized Note"].tolist()[1] == EMPTY_NOTE_SUMMARY
    again = summarize_notes(notes, summarize, csv=csv, progress=False)
    assert again.n_new == 0 and again.empty_notes == ["data_00002"]


def test_an_old_csv_with_an_empty_summary_is_filled_on_resume(tmp_path):
    from fairnb.summarize import EMPTY_NOTE_SUMMARY, summarize_notes
    csv = tmp_path / "extractive_summarized_notes.csv"
    csv.write_text("File Name,Original Note,Summarized Note\n"
                   "data_00001,POAG OU.,POAG OU.\ndata_00002,,\n")
    notes = pd.DataFrame({"file": ["data_00001", "data_00002"],
                          "note": ["POAG OU.", ""]})
    result = summarize_notes(notes, fnb.summarize.make_summarizer(
        "extractive"), csv=csv, progress=False)
    assert (result.n_resumed, result.n_new) == (1, 1)
    table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    assert table["File Name"].tolist() == ["data_00001", "data_00002"]
    assert table["Summarized Note"].tolist()[1] == EMPTY_NOTE_SUMMARY


def test_a_checkpoint_whose_pickle_runs_code_is_refused_unrun(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            import os
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    torch.save({"model": {"w": torch.zeros(1)}, "x": Payload()}, path)
    with pytest.raises(ConfigError, match="not a checkpoint fairnb can read"):
        preflight.check_pretrained("fairnb-tiny", str(path))
    assert not marker.exists()


def test_a_damaged_file_of_a_synthetic_set_says_regenerate_which_works(
        tmp_path, monkeypatch):
    import shutil
    monkeypatch.setenv("FAIRNB_DATA_DIR", str(tmp_path / "cache"))
    root = fnb.open_dataset(preset="smoke", summaries="none").root
    victim = sorted((root / "Test").glob("data_*.npz"))[0]
    victim.write_bytes(b"PK\x03\x04 torn")
    with pytest.raises(DatasetError) as err:
        fnb.open_dataset(preset="smoke", summaries="none").metadata()
    assert f"generated synthetic dataset: delete {root}" in str(err.value)
    assert "re-download" not in str(err.value)
    shutil.rmtree(root)  # the fix, as written
    ds = fnb.open_dataset(preset="smoke", summaries="none")
    assert len(ds.metadata()) == 300
