"""Which data a notebook reads: a probed run's own folder and texts."""
import json

import pandas as pd
import pytest

from fairnb.data import make_synthetic
from fairnb.sources import open_run_dataset


@pytest.fixture
def dataset(tmp_path):
    return make_synthetic(tmp_path / "ds", n=20, seed=3)


def write_summaries(dataset, path, prefix):
    meta = pd.read_csv(dataset / "data_summary.csv")
    pd.DataFrame({"File Name": meta["filename"],
                  "Original Note": "note",
                  "Summarized Note": [f"{prefix} {i}" for i in
                                      range(len(meta))]}).to_csv(path,
                                                                 index=False)
    return path


def test_a_run_is_probed_on_the_data_and_texts_it_read(dataset, tmp_path):
    own = write_summaries(dataset, tmp_path / "own.csv", "own")
    run = tmp_path / "run"
    run.mkdir()
    (run / "data.json").write_text(json.dumps(
        {"root": str(dataset), "summaries": str(own)}))
    ds = open_run_dataset(run)
    assert ds.root == dataset and ds.summary_source == own
    first = next(ds.records("train"))
    assert first.summary.startswith("own ")  # the run's texts, not others
    other = write_summaries(dataset, tmp_path / "other.csv", "other")
    # a CSV named explicitly wins over the run's record
    assert open_run_dataset(run, data_dir=str(dataset),
                            summaries=str(other)).summary_source == other
    # notes cut at 180 characters are recorded as such
    (run / "data.json").write_text(json.dumps(
        {"root": str(dataset), "summaries": None}))
    assert open_run_dataset(run).summary_source is None
    # a record from another machine says what to pass
    (run / "data.json").write_text(json.dumps(
        {"root": str(tmp_path / "gone"), "summaries": None}))
    with pytest.raises(FileNotFoundError, match="-p data_dir"):
        open_run_dataset(run)
    (run / "data.json").write_text(json.dumps(
        {"root": str(dataset), "summaries": str(tmp_path / "gone.csv")}))
    with pytest.raises(FileNotFoundError, match="-p summaries"):
        open_run_dataset(run)
