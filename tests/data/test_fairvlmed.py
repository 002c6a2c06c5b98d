"""Tests of the Harvard-FairVLMed reader on hand-made archives."""
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairnb.data import fairvlmed
from fairnb.data.fairvlmed import (
    COLUMNS,
    FIELDS,
    DatasetError,
    read_dataset,
)

SIZES = {"Training": 3, "Validation": 2, "Test": 2}
# the hand-made images are 8x6: the small-image warning is expected here
pytestmark = pytest.mark.filterwarnings("ignore:.*smaller than 64 px")


def sample(i=1, **over):
    """Fields of one archive; ``over`` replaces fields, None drops one."""
    fields = dict(
        slo_fundus=np.full((8, 6), i, dtype=np.uint8), md=np.array(-1.5),
        tds=np.zeros(52), age=np.array(60.0 + i), gender=np.array(i % 2),
        race=np.array(2), ethnicity=np.array(0), language=np.array(0),
        maritalstatus=np.array(1), glaucoma=np.array(i % 2),
        note=np.array(f"note {i}"), note_extra=np.array("extra"))
    fields.update(over)
    return {k: v for k, v in fields.items() if v is not None}


def make_dataset(root, sizes=SIZES, **over):
    """Write ``sizes`` files per split folder, numbered across splits."""
    i = 0
    for folder, n in sizes.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for _ in range(n):
            i += 1
            np.savez(root / folder / f"data_{i:05d}.npz", **sample(i, **over))
    return root


def npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def write_members(path, members):
    """An npz written member by member, so a member can be damaged."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(f"{name}.npy", data)


def write_summaries(path, ids, columns=("File Name", "Original Note",
                                        "Summarized Note")):
    rows = [(f"{i}.npz", f"orig {i}", f"  summary of {i} ") for i in ids]
    pd.DataFrame([r[:len(columns)] for r in rows], columns=list(columns)
                 ).to_csv(path, index=False)
    return path


def ids(n):
    return [f"data_{i:05d}" for i in range(1, n + 1)]


def error(root, **kwargs):
    with pytest.raises(DatasetError) as info:
        read_dataset(root, **kwargs).metadata()
    return str(info.value)


# -- happy path ------------------------------------------------------------

def test_reads_all_splits_with_typed_metadata(tmp_path):
    ds = read_dataset(make_dataset(tmp_path))
    meta = ds.metadata()
    assert len(ds) == 7 and ds.splits == ("train", "val", "test")
    assert tuple(meta.columns) == COLUMNS
    assert meta["id"].tolist() == ids(7)
    assert meta["split"].tolist() == ["train"] * 3 + ["val"] * 2 + ["test"] * 2
    for col in ("label", "race", "gender", "ethnicity", "language",
                "maritalstatus"):
        assert meta[col].dtype == np.int64
    assert meta["age"].dtype == np.float64 and meta["md"].dtype == np.float64
    assert meta["label"].tolist() == [1, 0, 1, 0, 1, 0, 1]
    np.testing.assert_allclose(meta["age"], 60.0 + np.arange(1, 8))
    assert meta["note"].iloc[2] == "note 3"
    assert meta["summary"].isna().all() and ds.summary_source is None
    assert [p.name for p in ds.files("val")] == ["data_00004.npz",
                                                 "data_00005.npz"]
    assert len(ds.metadata("test")) == 2
    assert Path(meta["file"].iloc[0]) == tmp_path / "Training" / \
        "data_00001.npz"


def test_record_and_records(tmp_path):
    ds = read_dataset(make_dataset(tmp_path))
    rec = ds.record("data_00004.npz")
    assert (rec.id, rec.split, rec.label, rec.note) == (
        "data_00004", "val", 0, "note 4")
    assert rec.attributes == {"race": 2, "gender": 0, "ethnicity": 0,
                              "language": 0, "maritalstatus": 1}
    assert rec.age == 64.0 and rec.md == -1.5 and rec.summary is None
    assert rec.image.dtype == np.uint8 and rec.image.shape == (8, 6)
    assert (rec.image == 4).all()
    assert [r.id for r in ds.records("test")] == ["data_00006",
                                                  "data_00007"]
    np.testing.assert_array_equal(ds.load_image("data_00006"),
                                  np.full((8, 6), 6, np.uint8))
    with pytest.raises(KeyError, match="data_00099"):
        ds.record("data_00099")


def test_testing_folder_and_subset_of_splits(tmp_path):
    make_dataset(tmp_path, {"Testing": 2})
    ds = read_dataset(tmp_path, splits=("test",))
    assert ds.splits == ("test",) and len(ds) == 2
    with pytest.raises(ValueError, match="'train' was not read"):
        ds.metadata("train")


def test_metadata_is_cached_and_a_copy(tmp_path):
    ds = read_dataset(make_dataset(tmp_path))
    meta = ds.metadata()
    meta.loc[0, "race"] = 0
    (tmp_path / "Test" / "data_00007.npz").unlink()
    again = ds.metadata()
    assert len(again) == 7 and again.loc[0, "race"] == 2


@pytest.mark.parametrize("name", ["gpt-4_summarized_notes.csv",
                                  "gpt4_summarized_notes.csv"])
def test_auto_picks_the_official_summaries(tmp_path, name):
    make_dataset(tmp_path)
    write_summaries(tmp_path / name, ids(7))
    write_summaries(tmp_path / "mine_summarized_notes.csv", ids(7))
    ds = read_dataset(tmp_path)
    assert ds.summary_source == tmp_path / name
    meta = ds.metadata()
    assert meta["summary"].tolist() == [f"summary of {i}" for i in ids(7)]
    assert ds.record("data_00002").summary == "summary of data_00002"


def test_auto_takes_a_single_own_csv_and_refuses_to_guess(tmp_path):
    make_dataset(tmp_path)
    assert read_dataset(tmp_path).summary_source is None
    own = write_summaries(tmp_path / "a_summarized_notes.csv", ids(7))
    assert read_dataset(tmp_path).summary_source == own
    write_summaries(tmp_path / "b_summarized_notes.csv", ids(7))
    msg = error(tmp_path)
    assert "a_summarized_notes.csv" in msg and "b_summarized_notes" in msg
    assert read_dataset(tmp_path, summaries=None).summary_source is None


def test_explicit_summaries_path_relative_to_root(tmp_path):
    make_dataset(tmp_path)
    rows = pd.DataFrame({"File Name": [i for i in ids(7)], "o": "x",
                         "Summarized Note": [f"s{i}" for i in range(7)]})
    rows.to_csv(tmp_path / "notes.csv", index=False)  # names without .npz
    ds = read_dataset(tmp_path, summaries="notes.csv")
    assert ds.metadata()["summary"].tolist() == [f"s{i}" for i in range(7)]


# -- encodings that are valid ----------------------------------------------

def test_float_image_in_unit_range_is_scaled(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.random((664, 512))
    make_dataset(tmp_path, {"Test": 1}, slo_fundus=image)
    ds = read_dataset(tmp_path, splits="test")
    out = ds.load_image("data_00001")
    assert out.dtype == np.uint8 and out.shape == (664, 512)
    np.testing.assert_array_equal(out, np.rint(image * 255).astype(np.uint8))


def test_other_images_are_clipped(tmp_path):
    image = np.array([[-5.0, 0.5, 2.0], [254.6, 300.0, np.nan]])
    make_dataset(tmp_path, {"Test": 1}, slo_fundus=image)
    out = read_dataset(tmp_path, splits="test").load_image("data_00001")
    np.testing.assert_array_equal(out, [[0, 0, 2], [255, 255, 0]])
    assert out.dtype == np.uint8


def test_scalar_and_string_encodings(tmp_path):
    make_dataset(tmp_path, {"Test": 1}, race=np.array([1.0]),
                 gender=np.array(1, dtype=np.int8), glaucoma=np.array([1]),
                 age=np.array([71]), note=np.array(b"caf\xc3\xa9"),
                 note_extra=np.array("x", dtype=object))
    row = read_dataset(tmp_path, splits="test").metadata().iloc[0]
    assert (row["race"], row["gender"], row["label"]) == (1, 1, 1)
    assert row["age"] == 71.0
    assert row["note"] == "café" and row["note_extra"] == "x"


def test_unknown_codes_are_valid(tmp_path):
    unknown = {a: np.array(-1) for a in fairvlmed.ATTRIBUTES}
    make_dataset(tmp_path, **unknown)
    meta = read_dataset(tmp_path).metadata()
    assert (meta[list(fairvlmed.ATTRIBUTES)] == -1).all().all()


def test_metadata_does_not_decode_images(tmp_path):
    make_dataset(tmp_path, {"Test": 1})
    members = {k: npy_bytes(v) for k, v in sample(2).items()}
    # A valid header followed by too few bytes: decoding it must fail.
    members["slo_fundus"] = npy_bytes(np.zeros((664, 512), np.uint8))[:300]
    write_members(tmp_path / "Test" / "data_00002.npz", members)
    ds = read_dataset(tmp_path, splits="test")
    assert ds.metadata()["id"].tolist() == ["data_00001", "data_00002"]
    with pytest.raises(DatasetError, match="data_00002.npz") as info:
        ds.load_image("data_00002")
    assert info.value.__cause__ is not None


def test_validate_false_defers_reading_files(tmp_path):
    make_dataset(tmp_path)
    (tmp_path / "Test" / "data_00007.npz").write_bytes(b"garbage")
    ds = read_dataset(tmp_path, validate=False)
    assert len(ds) == 7
    with pytest.raises(DatasetError, match="data_00007.npz"):
        ds.metadata()


# -- errors ----------------------------------------------------------------

def test_missing_root(tmp_path):
    msg = error(tmp_path / "nowhere")
    assert "nowhere" in msg and "does not exist" in msg


def test_missing_split_folder_names_it_and_the_layout(tmp_path):
    make_dataset(tmp_path, {"Training": 1, "Test": 1})
    msg = error(tmp_path)
    assert "Validation is missing" in msg and "Testing/" in msg
    assert "splits=" in msg


def test_pointing_at_a_parent_or_split_folder_hints(tmp_path):
    make_dataset(tmp_path / "fairvlmed")
    assert "did you mean" in error(tmp_path)
    assert "its parent" in error(tmp_path / "fairvlmed" / "Training")


def test_empty_split_and_ambiguous_test_folders(tmp_path):
    make_dataset(tmp_path, {"Training": 1, "Validation": 1})
    (tmp_path / "Test").mkdir()
    msg = error(tmp_path)
    assert "Test" in msg and "no data_*.npz" in msg
    make_dataset(tmp_path, {"Test": 1, "Testing": 1})
    assert "both Test/ and Testing/" in error(tmp_path)


def test_duplicate_ids_across_splits(tmp_path):
    make_dataset(tmp_path)
    copy = tmp_path / "Validation" / "data_00001.npz"
    copy.write_bytes((tmp_path / "Training" / "data_00001.npz").read_bytes())
    msg = error(tmp_path)
    assert "data_00001.npz" in msg and "one split" in msg


def test_missing_fields(tmp_path):
    make_dataset(tmp_path, {"Test": 1}, tds=None, note_extra=None)
    msg = error(tmp_path, splits="test")
    assert "data_00001.npz" in msg and "tds, note_extra" in msg
    assert ", ".join(FIELDS) in msg


def test_corrupt_archive_chains_the_cause(tmp_path):
    make_dataset(tmp_path, {"Test": 1})
    (tmp_path / "Test" / "data_00002.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="data_00002.npz") as info:
        read_dataset(tmp_path, splits="test")
    assert "damaged" in str(info.value) and info.value.__cause__ is not None


@pytest.mark.parametrize("field,value,words", [
    ("race", 3, ["race = 3", "0 (Asian)", "2 (White)", "-1 (Unknown)"]),
    ("language", 1.5, ["language = 1.5", "2 (Other)"]),
    ("glaucoma", 2, ["glaucoma = 2", "0 (Non-glaucoma)", "1 (Glaucoma)"]),
    ("glaucoma", -1, ["glaucoma = -1"]),
])
def test_invalid_codes(tmp_path, field, value, words):
    make_dataset(tmp_path, {"Test": 1}, **{field: np.array(value)})
    msg = error(tmp_path, splits="test")
    assert "data_00001.npz" in msg and "not a valid code" in msg
    for w in words:
        assert w in msg


def test_non_scalar_field(tmp_path):
    make_dataset(tmp_path, {"Test": 1}, gender=np.array([0, 1]))
    msg = error(tmp_path, splits="test")
    assert "data_00001.npz" in msg and "gender has shape (2,)" in msg


def test_image_must_be_2d(tmp_path):
    make_dataset(tmp_path, {"Test": 1},
                 slo_fundus=np.zeros((8, 6, 3), np.uint8))
    msg = error(tmp_path, splits="test")
    assert "data_00001.npz" in msg and "(8, 6, 3)" in msg and "2-D" in msg


def test_object_arrays_other_than_text_are_refused(tmp_path):
    make_dataset(tmp_path, {"Test": 1},
                 note=np.array(Path("x"), dtype=object))
    msg = error(tmp_path, splits="test")
    assert "data_00001.npz" in msg and "refusing" in msg


def test_summaries_missing_files(tmp_path):
    make_dataset(tmp_path, {"Training": 9, "Validation": 1, "Test": 1})
    write_summaries(tmp_path / "gpt-4_summarized_notes.csv", ids(11)[6:])
    msg = error(tmp_path)
    assert "has no summary for 6 file(s)" in msg
    assert "data_00001.npz, data_00002.npz" in msg and "and 1 more" in msg
    assert "gpt-4_summarized_notes.csv" in msg


def test_summaries_empty_cell_counts_as_missing(tmp_path):
    make_dataset(tmp_path)
    csv = write_summaries(tmp_path / "gpt4_summarized_notes.csv", ids(7))
    df = pd.read_csv(csv)
    df.loc[3, "Summarized Note"] = ""
    df.to_csv(csv, index=False)
    assert "data_00004.npz" in error(tmp_path)


def test_summaries_are_read_by_header_name_in_any_order(tmp_path):
    make_dataset(tmp_path)
    write_summaries(tmp_path / "gpt-4_summarized_notes.csv", ids(7),
                    columns=("File Name", "Original Note",
                             "Summarized Note"))
    csv = tmp_path / "gpt-4_summarized_notes.csv"
    df = pd.read_csv(csv)
    df[["Summarized Note", "File Name", "Original Note"]].to_csv(
        csv, index=False)  # the order that used to be read by position
    meta = read_dataset(tmp_path).metadata().set_index("id")
    assert meta.loc["data_00003", "summary"] == "summary of data_00003"


@pytest.mark.parametrize("file_col, summary_col", [
    ("filename", "summary"), ("file_name", "gpt4_summary"),
    ("FILE NAME", "summarised-note")])
def test_summaries_accept_the_documented_aliases(tmp_path, file_col,
                                                 summary_col):
    make_dataset(tmp_path)
    pd.DataFrame({"note": [f"orig {i}" for i in ids(7)],
                  summary_col: [f"short {i}" for i in ids(7)],
                  file_col: [f"{i}.npz" for i in ids(7)]}).to_csv(
        tmp_path / "gpt-4_summarized_notes.csv", index=False)
    meta = read_dataset(tmp_path).metadata().set_index("id")
    assert meta.loc["data_00005", "summary"] == "short data_00005"


def test_summaries_without_known_names_are_read_by_position(tmp_path):
    make_dataset(tmp_path)
    write_summaries(tmp_path / "gpt-4_summarized_notes.csv", ids(7),
                    columns=("a", "b", "c"))
    with pytest.warns(UserWarning, match="by position"):
        meta = read_dataset(tmp_path).metadata().set_index("id")
    assert meta.loc["data_00002", "summary"] == "summary of data_00002"


@pytest.mark.parametrize("columns", [("File Name", "Text"),
                                     ("File Name", "Original Note", "x"),
                                     ("name", "Summarized Note")])
def test_summaries_whose_header_cannot_be_mapped_are_refused(tmp_path,
                                                             columns):
    make_dataset(tmp_path)
    write_summaries(tmp_path / "gpt-4_summarized_notes.csv", ids(7),
                    columns=columns)
    msg = error(tmp_path)
    assert f"has columns {', '.join(columns)}" in msg
    assert "Summarized Note" in msg and "rename the columns" in msg


def test_a_summaries_csv_that_is_not_utf8_says_save_as_utf8(tmp_path):
    make_dataset(tmp_path)
    csv = write_summaries(tmp_path / "gpt-4_summarized_notes.csv", ids(7))
    text = csv.read_text().replace("summary of data_00001", "café résumé")
    csv.write_bytes(text.encode("cp1252"))
    msg = error(tmp_path)
    assert "is not UTF-8" in msg and "save it as UTF-8" in msg


def test_summaries_of_another_dataset(tmp_path):
    make_dataset(tmp_path)
    write_summaries(tmp_path / "gpt-4_summarized_notes.csv", ids(9))
    msg = error(tmp_path)
    assert "not in the dataset" in msg
    assert "data_00008.npz, data_00009.npz" in msg


def test_summaries_of_unread_splits_are_not_foreign(tmp_path):
    make_dataset(tmp_path)
    write_summaries(tmp_path / "gpt-4_summarized_notes.csv", ids(7))
    ds = read_dataset(tmp_path, splits=("test",))
    assert ds.metadata()["summary"].notna().all()


def test_summaries_listing_a_file_twice(tmp_path):
    make_dataset(tmp_path)
    write_summaries(tmp_path / "gpt-4_summarized_notes.csv",
                    ids(7) + ["data_00003"])
    msg = error(tmp_path)
    assert "lists twice 1 file(s)" in msg and "data_00003.npz" in msg


def test_summaries_path_that_does_not_exist(tmp_path):
    make_dataset(tmp_path)
    msg = error(tmp_path, summaries=tmp_path / "nope.csv")
    assert "nope.csv does not exist" in msg


def test_open_dataset_summarizes_when_no_summaries_exist(tmp_path,
                                                          monkeypatch):
    from fairnb.data import make_synthetic
    from fairnb.sources import open_dataset

    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "runs"))  # no 02
    root = make_synthetic(tmp_path / "ds", n=40, seed=4)
    assert open_dataset(str(root), summaries="latest").summary_source is None
    ds = open_dataset(str(root), summaries="latest",
                      summarize_into=tmp_path / "run")
    csv = tmp_path / "run" / "extractive_summarized_notes.csv"
    assert ds.summary_source == csv
    meta = ds.metadata()
    table = pd.read_csv(csv)
    assert len(table) == 40 and set(table["File Name"]) == {
        f"{i}.npz" for i in meta["id"]}
    record = ds.record(meta["id"].iloc[0])
    assert record.summary == table["Summarized Note"].iloc[0]
    assert len(record.summary) <= 180 and record.summary != record.note
    # "none" still means the cut notes; a dataset CSV beside the data wins
    assert open_dataset(str(root), summaries="none",
                        summarize_into=tmp_path / "r2").summary_source is None
    assert not (tmp_path / "r2").exists()
    table.to_csv(root / "gpt-4_summarized_notes.csv", index=False)
    ds = open_dataset(str(root), summaries="latest",
                      summarize_into=tmp_path / "r3")
    assert ds.summary_source == root / "gpt-4_summarized_notes.csv"
    assert not (tmp_path / "r3").exists()
