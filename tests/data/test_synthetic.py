"""Tests of the synthetic Harvard-FairVLMed generator."""
import json

import numpy as np
import pandas as pd
import pytest

from fairnb.attributes import ATTRIBUTES, name_to_code
from fairnb.data import synthetic as syn
from fairnb.data.synthetic import Bias, ensure_synthetic, make_synthetic

FOLDERS = {"training": "Training", "validation": "Validation", "test": "Test"}
FIELDS = {"slo_fundus": (np.uint8, (664, 512)), "md": (np.float32, ()),
          "tds": (np.float32, (52,)), "age": (np.float32, ()),
          **{a: (np.int64, ()) for a in (*ATTRIBUTES, "glaucoma")},
          "note": (np.str_, ()), "note_extra": (np.str_, ())}
NEGATIVE = ("no evidence of glaucoma", "non-glaucoma", "no glaucoma",
            "glaucoma suspect")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """One 300-sample dataset shared by the tests of this module."""
    return make_synthetic(tmp_path_factory.mktemp("syn") / "ds", n=300)


@pytest.fixture(scope="module")
def images(smoke):
    """The smoke images in numbering order, (300, 664, 512) uint8."""
    meta = pd.read_csv(smoke / "data_summary.csv")
    return np.stack([np.load(smoke / FOLDERS[s] / f)["slo_fundus"]
                     for f, s in zip(meta.filename, meta.split)])


@pytest.fixture(scope="module")
def table():
    """A large demographics table, no images or notes."""
    return syn._draw_table(20000, 1, Bias())


def _files(root):
    """The npz files of ``root`` in numbering order."""
    return sorted(root.glob("*/data_*.npz"), key=lambda p: p.name)


def _states_glaucoma(note: str) -> bool:
    """Diagnosis stated within the 180 characters CLIP would read."""
    head = note[:180]
    mentions = "glaucoma" in head.lower() or "POAG" in head
    return mentions and not any(n in head.lower() for n in NEGATIVE)


def _assessment(note: str) -> str:
    """The last "Assessment:" / "Impression:" sentence of ``note``."""
    starts = [note.rfind(w) for w in ("Assessment:", "Impression:")]
    start = max(starts)
    return note[start:note.find(".", start) + 1] if start >= 0 else ""


def test_layout_and_numbering(smoke):
    meta = pd.read_csv(smoke / "data_summary.csv")
    assert list(meta.columns) == ["filename", "split", "age", *ATTRIBUTES,
                                  "glaucoma", "md", "note"]
    assert list(meta.filename) == [f"data_{i:05d}.npz"
                                   for i in range(1, 301)]
    assert meta.split.value_counts().to_dict() == {
        "training": 210, "validation": 30, "test": 60}
    on_disk = [f"{FOLDERS[s]}/{f}" for f, s in zip(meta.filename,
                                                    meta.split)]
    assert [f"{p.parent.name}/{p.name}" for p in _files(smoke)] == on_disk
    # Training comes first, then Validation, then Test.
    assert list(meta.split.drop_duplicates()) == list(FOLDERS)
    assert [p.name for p in smoke.parent.iterdir()] == ["ds"]


def test_every_file_has_exactly_the_fields(smoke):
    for path in _files(smoke):
        with np.load(path) as npz:
            assert set(npz.files) == set(FIELDS), path
            for key, (dtype, shape) in FIELDS.items():
                assert npz[key].dtype.type is dtype, (path, key)
                assert npz[key].shape == shape, (path, key)
            assert npz["gender"] in (0, 1)
            assert -1 <= npz["maritalstatus"] <= 4


def test_summary_matches_files(smoke):
    meta = pd.read_csv(smoke / "data_summary.csv")
    for _, row in meta.sample(20, random_state=0).iterrows():
        with np.load(smoke / FOLDERS[row.split] / row.filename) as npz:
            for a in (*ATTRIBUTES, "glaucoma"):
                assert int(npz[a]) == row[a]
            np.testing.assert_allclose(npz["age"], row.age, atol=1e-3)
            np.testing.assert_allclose(npz["md"], row.md, atol=1e-3)
            np.testing.assert_allclose(npz["tds"].mean(), row.md, atol=1e-3)
            assert str(npz["note"]) == row.note


def test_reader_opens_the_dataset(smoke):
    from fairnb.data import read_dataset
    meta = read_dataset(smoke).metadata()
    summary = pd.read_csv(smoke / "data_summary.csv")
    assert len(meta) == 300
    assert meta.label.tolist() == summary.glaucoma.tolist()


def test_same_seed_gives_identical_files(tmp_path):
    a, b, c = (make_synthetic(tmp_path / name, n=30, seed=seed)
               for name, seed in (("a", 3), ("b", 3), ("c", 4)))
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) == 30 + 3
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    first = "Training/data_00001.npz"
    with np.load(a / first) as x, np.load(c / first) as y:
        assert not np.array_equal(x["slo_fundus"], y["slo_fundus"])
        assert str(x["note"]) != str(y["note"])


def test_workers_do_not_change_the_output(smoke, tmp_path):
    table = syn._draw_table(300, 0, Bias())
    syn._draw_notes(table, 0)
    (tmp_path / "Training").mkdir()
    rows = table.to_dict("records")[:5]
    syn._write_samples(str(tmp_path), rows, 0, Bias())
    for row in rows:
        rel = f"Training/{row['filename']}"
        assert (tmp_path / rel).read_bytes() == (smoke / rel).read_bytes()


def test_bias_changes_only_the_bias_group(tmp_path):
    biased = make_synthetic(tmp_path / "b", n=40, seed=5)
    plain = make_synthetic(tmp_path / "p", n=40, seed=5, bias=Bias.none())
    tb = pd.read_csv(biased / "synthetic_truth.csv")
    tp = pd.read_csv(plain / "synthetic_truth.csv")
    pd.testing.assert_series_equal(tb.cdr, tp.cdr)
    assert tb.bias_group.any() and not tb.bias_group.all()
    for path, in_group in zip(_files(biased), tb.bias_group):
        with np.load(path) as x, np.load(plain / path.relative_to(
                biased)) as y:
            same = np.array_equal(x["slo_fundus"], y["slo_fundus"])
            assert same != in_group, path.name


def test_marginals_follow_the_paper(table):
    for attribute, shares in syn.SHARES.items():
        found = table[attribute].value_counts(normalize=True)
        for name, share in shares.items():
            code = name_to_code(attribute, name)
            assert abs(found.get(code, 0) - share) < 0.01, (attribute, name)
    assert table.split.value_counts().to_dict() == {
        "training": 14000, "validation": 2000, "test": 4000}
    assert abs(table.age.mean() - 60.9) < 0.6
    assert 15 < table.age.std() < 16.5
    assert table.age.between(18, 95).all()
    assert abs(table.glaucoma.mean() - 0.5) < 0.015
    cdr = table.groupby("glaucoma").cdr.mean()
    np.testing.assert_allclose(cdr, [0.42, 0.68], atol=0.01)
    assert table.cdr.between(0.15, 0.92).all()
    md = table.groupby("glaucoma").md.mean()
    assert md[1] < md[0] - 3


def test_note_quality_rates_follow_the_bias(table):
    bias, group = Bias(), table.bias_group
    assert abs(group.mean() - syn.SHARES["race"]["Black"]) < 0.01
    uninformative = ~table.note_informative
    assert abs(uninformative[group].mean() - bias.uninformative_notes) < .03
    assert abs(uninformative[~group].mean() - syn.BASE_UNINFORMATIVE) < .01
    flip = table.note_flipped[table.note_informative]
    assert abs(flip[group].mean() - bias.label_noise) < 0.03
    assert abs(flip[~group].mean() - syn.BASE_LABEL_NOISE) < 0.01
    plain = syn._draw_table(20000, 1, Bias.none())
    flip = plain.note_flipped[plain.note_informative]
    assert abs(flip[group].mean() - flip[~group].mean()) < 0.02


def test_notes_lengths_and_diagnosis():
    t = syn._draw_table(400, 2, Bias())
    syn._draw_notes(t, 2)
    words = t.note.str.split().str.len()
    assert words.between(11, 332).all()
    assert 130 <= words.mean() <= 170
    informative = t[t.note_informative]
    expected = informative.glaucoma.astype(bool) ^ informative.note_flipped
    assert informative.note_flipped.any()
    first = informative.note_assessment_first
    assert abs(first.mean() - syn.ASSESSMENT_FIRST) < 0.08
    # Assessment first: the diagnosis is in what a 180-character cut keeps.
    stated = informative.note[first].map(_states_glaucoma)
    assert (stated == expected[first]).all()
    # SOAP order: a history opener without the diagnosis, the C/D in the
    # exam and the assessment near the end, past the first 180 characters
    # in nearly every note.
    soap = informative.note[~first]
    assessment = soap.map(_assessment)
    says_glaucoma = ~assessment.str.contains("non-glaucoma")
    assert (says_glaucoma == expected[~first]).all()
    assert soap.str.contains("C/D|Cup-to-disc").all()
    opener = soap.str.split(".").str[0]
    assert not opener.str.contains("non-glaucoma|Assessment|Impression|"
                                   "C/D|Cup-to").any()
    late = [n.rfind(a) >= 180 for n, a in zip(soap, assessment)]
    assert np.mean(late) > 0.9
    hidden = t.note[~t.note_informative]
    assert len(hidden) > 10
    for word in ("glaucoma", "POAG", "C/D", "cup-to-disc"):
        assert not hidden.str.contains(word, case=False).any(), word
    assert t.note_extra.str.startswith("Medications:").all()


def test_all_assessment_first_reproduces_the_opening_diagnosis():
    t = syn._draw_table(300, 3, Bias(), assessment_first=1.0)
    syn._draw_notes(t, 3)
    informative = t[t.note_informative]
    assert informative.note_assessment_first.all()
    expected = informative.glaucoma.astype(bool) ^ informative.note_flipped
    assert (informative.note.map(_states_glaucoma) == expected).all()
    with pytest.raises(ValueError, match="assessment_first"):
        make_synthetic("/nonexistent/x", n=20, assessment_first=1.5)


def test_label_is_visible_in_images(smoke, images):
    truth = pd.read_csv(smoke / "synthetic_truth.csv")
    meta = pd.read_csv(smoke / "data_summary.csv")
    bright = (images > 0.62 * 255).mean(axis=(1, 2))
    base = ~truth.bias_group.to_numpy()
    sick = meta.glaucoma.to_numpy() == 1
    assert bright[base & sick].mean() > 1.5 * bright[base & ~sick].mean()
    assert np.corrcoef(truth.cdr[base], bright[base])[0, 1] > 0.6


def test_bias_group_has_lower_contrast(smoke, images):
    truth = pd.read_csv(smoke / "synthetic_truth.csv")
    # 8x8 block means: one pixel of a 64-px model input.
    blocks = images.reshape(len(images), 83, 8, 64, 8).mean(axis=(2, 4))
    contrast = np.array([np.percentile(b, 99) - np.median(b[b > 40])
                         for b in blocks])
    group = truth.bias_group.to_numpy()
    assert contrast[group].mean() < 0.8 * contrast[~group].mean()


def test_ensure_synthetic_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("FAIRNB_DATA_DIR", str(tmp_path))
    monkeypatch.setitem(syn.PRESET_SIZES, "smoke", 20)
    root = ensure_synthetic("smoke", seed=1)
    assert root == tmp_path / "synthetic-smoke-seed1"
    stamp = (root / "data_summary.csv").stat().st_mtime_ns
    assert ensure_synthetic("smoke", seed=1) == root
    assert (root / "data_summary.csv").stat().st_mtime_ns == stamp
    assert len(_files(root)) == 20
    # A dataset written by another generator version is rebuilt.
    params = json.loads((root / "synthetic.json").read_text())
    params["version"] = -1
    (root / "synthetic.json").write_text(json.dumps(params))
    ensure_synthetic("smoke", seed=1)
    assert (root / "data_summary.csv").stat().st_mtime_ns != stamp
    assert json.loads((root / "synthetic.json").read_text())["version"] \
        == syn.VERSION


def test_interrupted_generation_is_not_complete(tmp_path, monkeypatch):
    monkeypatch.setenv("FAIRNB_DATA_DIR", str(tmp_path))
    monkeypatch.setitem(syn.PRESET_SIZES, "smoke", 20)
    # A run killed hard leaves only its hidden temporary folder behind.
    leftover = tmp_path / ".synthetic-smoke-seed0.tmp-dead"
    (leftover / "Training").mkdir(parents=True)
    (leftover / "data_summary.csv").write_text("filename\n")

    def crash(*args):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(syn, "_write_samples", crash)
        with pytest.raises(KeyboardInterrupt):
            ensure_synthetic("smoke")
    assert sorted(p.name for p in tmp_path.iterdir()) == [leftover.name]
    root = ensure_synthetic("smoke")
    assert syn._is_complete(root) and len(_files(root)) == 20


def test_make_synthetic_protects_existing_folders(tmp_path):
    root = make_synthetic(tmp_path / "ds", n=10)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        make_synthetic(root, n=10)
    make_synthetic(root, n=12, overwrite=True)
    assert len(_files(root)) == 12
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a synthetic dataset"):
        make_synthetic(other, n=10, overwrite=True)
    assert (other / "notes.txt").read_text() == "keep me"


def test_bad_arguments():
    with pytest.raises(ValueError, match="smoke, demo, paper"):
        ensure_synthetic("smok")
    with pytest.raises(ValueError, match="Did you mean 'Black'"):
        Bias(group="Blak")
    with pytest.raises(ValueError, match="label_noise"):
        Bias(label_noise=1.5)
    with pytest.raises(ValueError, match="n must lie"):
        make_synthetic("unused", n=5)


def test_describe_bias():
    text = syn.describe_bias(Bias(attribute="gender", group="Male"))
    assert "gender = Male" in text and "x0.6" in text and "45%" in text
    assert syn.describe_bias(Bias.none()).startswith("No planted disparity")


def test_bias_levels_scale_every_knob_from_the_base_rates():
    none, full = Bias.none(), Bias()
    assert Bias.scaled(0) == none and Bias.scaled(1) == full
    knobs = ("contrast", "darkening", "noise", "uninformative_notes",
             "label_noise")
    for k in knobs:  # by hand: base + level * (default - base)
        for level in (0.5, 2.0):
            assert getattr(Bias.scaled(level), k) == pytest.approx(
                getattr(none, k) + level * (getattr(full, k)
                                            - getattr(none, k)))
    assert Bias.scaled(2).uninformative_notes == pytest.approx(0.85)
    from fairnb.data.synthetic import MAX_BIAS_LEVEL
    top = Bias.scaled(MAX_BIAS_LEVEL)  # the top level is a valid Bias
    assert top.uninformative_notes == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"lie in \[0, 2.375\]"):
        Bias.scaled(2.4)
    # the note rates follow the level in the drawn table
    t = syn._draw_table(20000, 1, Bias.scaled(2))
    group = t.bias_group
    assert abs((~t.note_informative)[group].mean() - 0.85) < 0.03
    assert abs((~t.note_informative)[~group].mean()
               - syn.BASE_UNINFORMATIVE) < 0.01


def test_ensure_synthetic_keeps_one_folder_per_bias_level(tmp_path,
                                                          monkeypatch):
    monkeypatch.setenv("FAIRNB_DATA_DIR", str(tmp_path))
    monkeypatch.setitem(syn.PRESET_SIZES, "smoke", 40)
    default = ensure_synthetic("smoke")
    strong = ensure_synthetic("smoke", bias=2)
    none = ensure_synthetic("smoke", bias=0.0)
    assert (default.name, strong.name, none.name) == (
        "synthetic-smoke-seed0", "synthetic-smoke-seed0-bias2",
        "synthetic-smoke-seed0-bias0")
    recorded = json.loads((strong / "synthetic.json").read_text())["bias"]
    assert recorded["uninformative_notes"] == pytest.approx(0.85)
    assert ensure_synthetic("smoke", bias=2.0) == strong  # reused
    # same patients and labels; only the bias group's images differ
    truth = pd.read_csv(strong / "synthetic_truth.csv")
    for path, in_group in zip(_files(strong), truth.bias_group):
        with np.load(path) as x, np.load(none / path.relative_to(
                strong)) as y:
            assert int(x["glaucoma"]) == int(y["glaucoma"])
            same = np.array_equal(x["slo_fundus"], y["slo_fundus"])
            assert same != in_group, path.name
    from fairnb.data import locate_dataset
    with pytest.raises(ValueError, match="leave data_dir empty"):
        locate_dataset(str(default), bias=2)


def test_the_workshop_preset_reads_the_demo_data(tmp_path, monkeypatch):
    import fairnb.data.synthetic as synthetic
    monkeypatch.setenv("FAIRNB_DATA_DIR", str(tmp_path))
    monkeypatch.setitem(synthetic.PRESET_SIZES, "demo", 30)
    demo = ensure_synthetic("demo")
    assert demo.name == "synthetic-demo-seed0"
    stamp = (demo / "data_summary.csv").stat().st_mtime_ns
    assert ensure_synthetic("workshop") == demo  # not generated again
    assert (demo / "data_summary.csv").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in tmp_path.iterdir()) == [demo.name]
