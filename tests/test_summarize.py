"""Summaries: the extractive summarizer on adversarial and synthetic notes,
the post-check, the resumable CSV, the quality report and its figures."""

import numpy as np
import pandas as pd
import pytest

from fairnb import plots, summarize, summary_quality
from fairnb.config import ConfigError, SummarizeConfig
from fairnb.data import _clinic_notes
from fairnb.deid import scrub
from fairnb.notes import count_tokens, truncate_note
from fairnb.summarizers import extractive
from fairnb.summarizers.extractive import (
    ExtractiveSummarizer,
    split_sentences,
    stated_diagnosis,
    summarize_note,
)

LONG = ("Patient reports mild blur at near and occasional dryness. " * 30
        + "Assessment: moderate primary open-angle glaucoma in both eyes. "
        + "Intraocular pressure 24 mmHg OD and 22 mmHg OS. " * 5)
ADVERSARIAL = {
    "very long": LONG,
    "no punctuation": " ".join(["glaucoma suspect with elevated pressure "
                                "and thin rims"] * 40),
    "one endless word": "x" * 500,
    "unicode": ("Évaluation: glaucome — ‘non-glaucoma’ exam ✓, IOP 16 mmHg "
                "OU; 视神经 normal; café-au-lait spots. ") * 8,
    "empty": "",
    "whitespace": "   \n\t  ",
    "only PHI": "Dr. John Smith 555-123-4567 john@example.com 01/02/2023",
    "numbers": " ".join(str(i) for i in range(400)),
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
@pytest.mark.parametrize("max_chars", [180, 60])
def test_limits_hold_on_adversarial_notes(name, max_chars):
    note = ADVERSARIAL[name]
    out = summarize_note(note, max_chars=max_chars)
    assert len(out) <= max_chars
    assert count_tokens([out])[0] <= 77
    if note.strip():
        assert out.strip(), name
    else:
        assert out == ""
    # never a cut word: every word of the summary is a word of the note
    # after abbreviation (the one endless word is the documented exception)
    if name != "one endless word":
        source = set(extractive.abbreviate(note).replace(";", " ")
                     .replace(",", " ").replace(".", " ").split())
        words = out.replace(";", " ").replace(",", " ").replace(".", " ")
        assert set(words.split()) <= source, name


def test_token_limit_binds_before_characters():
    # numbers are ~1 CLIP token per character pair: 77 tokens < 400 chars
    out = summarize_note(ADVERSARIAL["numbers"], max_chars=400)
    assert count_tokens([out])[0] <= 77 < count_tokens(
        [ADVERSARIAL["numbers"]])[0]
    assert len(out) < 400


def test_diagnosis_leads_and_is_kept():
    note = ("Reports glare when driving at night. Allergies: sulfa. "
            "Family history of glaucoma in mother. IOP 14 mmHg OU. "
            "Impression: non-glaucoma exam; physiologic cupping. "
            "Return in 1 year.")
    out = summarize_note(note)
    assert out.startswith("Impression: non-glaucoma exam")
    assert stated_diagnosis(out) == 0
    assert "IOP 14 mmHg" in out


def test_one_diagnosis_statement_and_never_a_contradiction():
    note = ("Assessment: moderate POAG, OD>OS, IOP above target. 70 y/o "
            "male seen for glaucoma follow-up. Referral letter said no "
            "glaucoma. C/D 0.8 OD, 0.7 OS.")
    out = summarize_note(note)
    # the statement naming glaucoma in words leads, alone
    assert out.startswith("70 y/o male seen for glaucoma follow-up.")
    assert "POAG" not in out and "no glaucoma" not in out
    assert "C/D 0.8" in out


@pytest.mark.parametrize("text, expected", [
    ("Assessment: non-glaucoma exam, both eyes.", 0),
    ("No evidence of glaucoma today.", 0),
    ("72 y/o with moderate POAG OU.", 1),
    ("Chronic angle-closure glaucoma OS.", 1),
    ("Positive family history of glaucoma (mother).", None),
    ("Routine refraction, no complaints.", None),
])
def test_stated_diagnosis(text, expected):
    assert stated_diagnosis(text) == expected


def synthetic_notes(n=400, seed=0):
    return _clinic_notes.sample_notes(n, seed=seed)


def test_keyword_retention_on_synthetic_notes():
    notes = synthetic_notes()
    out = ExtractiveSummarizer()(list(notes["note"]))
    said = [stated_diagnosis(s) for s in out]
    told = [stated_diagnosis(n) for n in notes["note"]]
    informative = notes["informative"].to_numpy()
    # every informative note states its label, and so does its summary
    assert all(t == y for t, y, i in zip(told, notes["label"], informative)
               if i)
    assert all(s == t for s, t in zip(said, told))
    lengths = np.array([len(s) for s in out])
    assert lengths.max() <= 180 and count_tokens(out).max() <= 77
    assert lengths.mean() > 150  # uses the room it has
    for note, summary, label, i in zip(notes["note"], out, notes["label"],
                                       informative):
        if not i:
            continue
        # the diagnosis leads, in the words the zero-shot prompts use
        # ("A photo of glaucoma" / "A photo of non-glaucoma") whenever the
        # note has them: spelled out, not only "POAG"
        stated = [stated_diagnosis(p) for p in split_sentences(summary)]
        assert stated[0] == label and stated.count(label) == 1, summary
        assert set(stated) <= {label, None}, summary
        word = "non-glaucoma" if label == 0 else "glaucoma"
        if any(word in p.lower() for p in split_sentences(note)
               if stated_diagnosis(p) is not None):
            assert word in split_sentences(summary)[0].lower(), (note,
                                                                 summary)


def test_summaries_keep_the_diagnosis_that_cutting_loses():
    # SOAP-order notes state the diagnosis in an assessment near the end
    notes = _clinic_notes.sample_notes(300, seed=2, assessment_first=0.0)
    notes = notes[notes["informative"]]
    out = ExtractiveSummarizer()(list(notes["note"]))
    cut = [truncate_note(n, max_chars=180) for n in notes["note"]]
    label = notes["label"].to_numpy()
    kept = np.mean([stated_diagnosis(s) for s in out] == label)
    cut_kept = np.mean([stated_diagnosis(c) for c in cut] == label)
    assert kept == 1.0
    assert cut_kept < 0.5


def test_fit_summary_cuts_and_counts():
    text, fixed = summarize.fit_summary("  Moderate  POAG OU,\nIOP 22  ")
    assert (text, fixed) == ("Moderate POAG OU, IOP 22", False)
    long = "glaucoma " * 50
    text, fixed = summarize.fit_summary(long, max_chars=50)
    assert fixed and len(text) <= 50 and text.endswith("glaucoma")
    text, fixed = summarize.fit_summary("1 2 " * 100, max_chars=1000)
    assert fixed and count_tokens([text])[0] <= 77


class Counting:
    """A summarizer that records every note it sees and can fail."""

    name = "counting"

    def __init__(self, fail_after=None, reply=None):
        self.seen, self.fail_after, self.reply = [], fail_after, reply

    def __call__(self, notes):
        if self.fail_after is not None and len(self.seen) >= self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        self.seen += notes
        return [self.reply(n) if self.reply else n[:40] for n in notes]


def notes_table(n=50):
    notes = synthetic_notes(n, seed=1)
    return pd.DataFrame({"file": [f"data_{i:05d}.npz" for i in range(n)],
                         "note": notes["note"]})


def test_resume_after_an_interruption_computes_nothing_twice(tmp_path):
    notes, csv = notes_table(), tmp_path / "counting_summarized_notes.csv"
    first = Counting(fail_after=20)
    with pytest.raises(KeyboardInterrupt):
        summarize.summarize_notes(notes, first, csv=csv, batch_size=8,
                                  progress=False)
    assert len(first.seen) == 24  # three batches of 8 written
    # a crash in the middle of an append leaves a partial last line
    with open(csv, "a") as f:
        f.write('data_00024.npz,"half a row')
    second = Counting()
    run = summarize.summarize_notes(notes, second, csv=csv, batch_size=8,
                                    progress=False)
    assert run.n_resumed == 24 and run.n_new == 26
    assert len(second.seen) == 26
    expected = [scrub(" ".join(n.split())) for n in notes["note"]]
    assert first.seen == expected[:24] and second.seen == expected[24:]
    table = summarize.read_summaries_csv(csv)
    assert list(table.columns) == list(summarize.CSV_COLUMNS)
    assert table["File Name"].tolist() == notes["file"].tolist()
    assert table["File Name"].is_unique
    third = Counting()
    again = summarize.summarize_notes(notes, third, csv=csv, progress=False)
    assert third.seen == [] and again.n_new == 0 and len(again.table) == 50


def test_rows_are_scrubbed_fixed_and_never_empty(tmp_path):
    notes = pd.DataFrame({
        "file": ["a.npz", "b.npz", "c.npz"],
        "note": ["Seen by Dr. Jane Roe on 03/04/2021. Assessment: POAG OU. "
                 "IOP 21 mmHg.", "Impression: non-glaucoma. C/D 0.3 OU.",
                 "Plan: monitor. IOP 15 mmHg OU."]})
    reply = {0: lambda n: "word " * 80, 1: lambda n: "", 2: lambda n: n}
    calls = iter(range(3))
    model = Counting(reply=lambda n: reply[next(calls)](n))
    run = summarize.summarize_notes(notes, model, csv=tmp_path / "s.csv",
                                    batch_size=3, progress=False)
    assert "Jane Roe" not in " ".join(model.seen)
    assert "<PERSON_NAME>" in model.seen[0] and "<DATE>" in model.seen[0]
    assert run.phi_counts["PERSON_NAME"] == 1
    out = run.table["Summarized Note"].tolist()
    assert run.n_fixed == 1 and len(out[0]) <= 180
    assert run.n_fallback == 1 and out[1].startswith("Impression: non-glauc")
    assert "Jane" not in run.table["Original Note"].str.cat()


def test_resume_refuses_a_foreign_csv(tmp_path):
    csv = tmp_path / "x.csv"
    csv.write_text("id,text\n1,a\n")
    with pytest.raises(ValueError, match="not a summaries CSV"):
        summarize.summarize_notes(notes_table(3), Counting(), csv=csv,
                                  progress=False)


def test_make_summarizer_names_what_is_missing():
    assert summarize.make_summarizer().name == "extractive"
    with pytest.raises(ValueError, match="model_path"):
        summarize.make_summarizer("transformers")
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        summarize.make_summarizer("openai", base_url="http://x")
    with pytest.raises(ValueError, match="extractive"):
        summarize.make_summarizer("extractiv")


def test_config_checks():
    cfg = SummarizeConfig.create(splits="test,train")
    assert cfg.splits == ["train", "test"]
    with pytest.raises(ConfigError, match="test"):
        SummarizeConfig.create(splits="tset")
    with pytest.raises(ConfigError, match="unscrubbed"):
        SummarizeConfig.create(summarizer="openai", base_url="http://x",
                               model_name="m", deid="off")
    with pytest.raises(ConfigError, match="model_path"):
        SummarizeConfig.create(summarizer="transformers")


def test_quality_report_numbers():
    table = pd.DataFrame({
        "File Name": ["a", "b", "c", "d"],
        "Original Note": ["Assessment: POAG OU. " + "IOP 20. " * 40,
                          "Impression: non-glaucoma exam.",
                          "Assessment: non-glaucoma.",
                          # the diagnosis after 180 characters: a cut note
                          # loses it
                          "Routine visit. " + "Reports mild blur. " * 9
                          + "Assessment: POAG OU."],
        "Summarized Note": ["Assessment: POAG OU.", "Routine exam.",
                            "Assessment: non-glaucoma.",
                            "Dr. <PERSON_NAME> visit."]})
    q = summary_quality.quality_report(table, labels=[1, 0, 0, 1])
    m = q.metrics
    assert m["n_summaries"] == 4 and m["share_within_limits"] == 1.0
    assert m["diagnosis_kept"] == pytest.approx(2 / 4)  # b, d lost it
    assert m["summary_states_label"] == pytest.approx(2 / 4)
    assert m["note_states_label"] == 1.0
    assert m["cut_note_states_label"] == pytest.approx(3 / 4)
    assert m["share_notes_over_tokens"] == pytest.approx(1 / 4)
    assert q.placeholders["PERSON_NAME"] == 1
    r = q.retention.set_index("label")
    assert r.loc[0, "states_label"] == 0.5 and r.loc[0, "states_nothing"] == .5
    assert r.loc[0, "states_label_note"] == 1.0
    assert set(q.lengths["source"]) == {"note", "note cut at 180", "summary"}
    fig = plots.summary_length_figure(q.lengths)
    assert len(fig.data) == 6 and fig.layout.xaxis.title.text == "characters"
    fig = plots.retention_figure(q.retention)
    assert [t.name for t in fig.data] == [
        "states the label", "states the other class", "states nothing"]
    assert list(fig.data[0].y) == [0.5, 0.5, 1.0, 1.0]
    with pytest.raises(ValueError, match="align"):
        summary_quality.quality_report(table, labels=[1, 0])
