"""Rule-based de-identification: planted PHI goes, clinical text stays."""
import sys

import numpy as np
import pytest

from fairnb import deid
from fairnb.data._clinic_notes import write_note
from fairnb.deid import (
    PLACEHOLDERS,
    PHIError,
    PHISpan,
    check_scrubbed,
    count_placeholders,
    find_phi,
    scrub,
    scrub_notes,
)

# (note, PHI substring that must disappear, placeholder that replaces it)
PLANTED = [
    ("Seen on 01/02/2023 for IOP check.", "01/02/2023", "DATE"),
    ("Seen on 2023-01-02 for IOP check.", "2023-01-02", "DATE"),
    ("Seen on Jan 2, 2023 for IOP check.", "Jan 2, 2023", "DATE"),
    ("Seen on 2 January 2023 for IOP check.", "2 January 2023", "DATE"),
    ("Seen on 1/2/23 for IOP check.", "1/2/23", "DATE"),
    ("Last field March 2021, stable.", "March 2021", "DATE"),
    ("Surgery 03/2019 OD.", "03/2019", "DATE"),
    ("DOB: Sept. 14, 1931.", "Sept. 14, 1931", "DATE"),
    ("Call (555) 123-4567 with questions.", "(555) 123-4567",
     "PHONE_NUMBER"),
    ("Call 555-123-4567 with questions.", "555-123-4567", "PHONE_NUMBER"),
    ("Call +1 555 123 4567 with questions.", "+1 555 123 4567",
     "PHONE_NUMBER"),
    ("Call 555.123.4567 with questions.", "555.123.4567", "PHONE_NUMBER"),
    ("Mail jane.doe+eye@clinic.example.org today.",
     "jane.doe+eye@clinic.example.org", "EMAIL_ADDRESS"),
    ("Portal https://portal.example.org/p?id=7. Thanks.",
     "https://portal.example.org/p?id=7", "URL"),
    ("See www.example.com for drops.", "www.example.com", "URL"),
    ("MRN: 12345678, POAG OU.", "12345678", "MRN"),
    ("MRN 1234567, POAG OU.", "1234567", "MRN"),
    ("Medical record #123456 reviewed.", "123456", "MRN"),
    ("Chart no. A12345 reviewed.", "A12345", "MRN"),
    ("Accession 9876543210 filed.", "9876543210", "MRN"),
    ("Referred by Dr. John Smith for POAG.", "John Smith", "PERSON_NAME"),
    ("Referred by Dr Patel for POAG.", "Patel", "PERSON_NAME"),
    ("Mrs. O'Brien reports glare.", "O'Brien", "PERSON_NAME"),
    ("Discussed with Mr. McDonald-Hill today.", "McDonald-Hill",
     "PERSON_NAME"),
    ("Ms. Ann Lee agrees with plan.", "Ann Lee", "PERSON_NAME"),
    ("Miss Daisy returns in 3 months.", "Daisy", "PERSON_NAME"),
    ("Prof. Xavier Chen consulted.", "Xavier Chen", "PERSON_NAME"),
    ("Patient name: Maria Lopez Garcia.", "Maria Lopez Garcia",
     "PERSON_NAME"),
    ("Electronically signed by Alan Turing.", "Alan Turing",
     "PERSON_NAME"),
    ("Mary Major, MD", "Mary Major", "PERSON_NAME"),
    ("Lives at 123 Main Street with family.", "123 Main Street",
     "STREET_ADDRESS"),
    ("Lives at 45 Oak Ave., Apt 3B alone.", "45 Oak Ave., Apt 3B",
     "STREET_ADDRESS"),
    ("Lives at 9 West 5th Blvd near clinic.", "9 West 5th Blvd",
     "STREET_ADDRESS"),
    ("Moved to Boston, MA 02115 last year.", "02115", "ZIP_CODE"),
    ("A 92-year-old woman with POAG.", "92", "AGE"),
    ("Patient aged 95 with POAG.", "95", "AGE"),
    ("Age 91, POAG OU.", "91", "AGE"),
    ("93 yo male, IOP 18 mmHg.", "93", "AGE"),
    ("93 y/o male, IOP 18 mmHg.", "93", "AGE"),
    ("He is 104 years old.", "104", "AGE"),
    ("SSN 123-45-6789 on file.", "123-45-6789", "US_SSN"),
    ("Login from 192.168.10.1 noted.", "192.168.10.1", "IP_ADDRESS"),
]

CLINICAL = [
    "IOP 18 mmHg OD, 21 mmHg OS.",
    "IOP of 21 by applanation.",
    "C/D 0.7 OD, 0.65 OS.",
    "Vertical C/D ratio 0.65/0.7.",
    "cup-to-disc ratio 0.65",
    "OCT RNFL 85 microns OD and 92 microns OS.",
    "Humphrey 24-2: MD -3.2 dB OD, -12.5 dB OS.",
    "VA 20/40 OD, 20/200 OS, 20/20 OU.",
    "Intraocular pressure 18/20 mmHg by Goldmann tonometry.",
    "latanoprost 0.005% qhs OU",
    "timolol 0.5% BID and dorzolamide 2% tid",
    "Follow up in 3 months; return in 1 year.",
    "Patient is a 67 y/o female, age 67, a 67-year-old.",
    "89 year old male with POAG.",
    "Instill 2 drops in each eye; the patient may 2 weeks wait.",
    "Central corneal thickness 545 microns; angles open 360 degrees.",
    "Reading add +2.50; Dr. visit scheduled.",
    "Glaucoma suspect, MS and HTN; no known drug allergies.",
    "Target IOP below 15 mmHg; consider SLT.",
    "",
]


@pytest.mark.parametrize("note, phi, kind", PLANTED)
def test_planted_phi_is_replaced(note, phi, kind):
    out = scrub(note, engine="rules")
    assert phi not in out
    assert f"<{kind}>" in out
    assert [s.kind for s in find_phi(note)] == [kind]


@pytest.mark.parametrize("note", CLINICAL)
def test_clinical_text_is_untouched(note):
    assert find_phi(note) == []
    assert scrub(note, engine="rules") == note


def test_find_phi_spans_are_sorted_and_point_into_text():
    text = ("Dr. Jane Roe saw the 95-year-old on 01/02/2023; call "
            "555-123-4567. IOP 18 mmHg.")
    spans = find_phi(text)
    assert [s.kind for s in spans] == ["PERSON_NAME", "AGE", "DATE",
                                       "PHONE_NUMBER"]
    assert all(text[s.start:s.end] == s.text for s in spans)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))
    assert spans[0] == PHISpan("PERSON_NAME", 4, 12, "Jane Roe")


def test_scrub_keeps_titles_labels_and_punctuation():
    text = "MRN: 12345678. Dr. Jane Roe saw the 95-year-old on Jan 2, 2023."
    assert scrub(text, engine="rules") == (
        "MRN: <MRN>. Dr. <PERSON_NAME> saw the <AGE>-year-old on <DATE>.")


@pytest.mark.parametrize("note", [n for n, _, _ in PLANTED] + CLINICAL)
def test_scrub_is_idempotent(note):
    once = scrub(note, engine="rules")
    assert scrub(once, engine="rules") == once
    assert find_phi(once) == []


def test_placeholders_are_not_detected():
    text = " ".join(f"<{k}>" for k in PLACEHOLDERS)
    assert find_phi(text) == []
    assert scrub(text, engine="rules") == text


def test_note_made_only_of_phi():
    text = "Dr. John Smith 01/02/2023 (555) 123-4567 john@x.org"
    assert scrub(text, engine="rules") == (
        "Dr. <PERSON_NAME> <DATE> <PHONE_NUMBER> <EMAIL_ADDRESS>")
    assert scrub("123-45-6789", engine="rules") == "<US_SSN>"


def test_unicode_text_survives():
    text = "Señora Müller — IOP 18 mmHg OD, naïve to drops ✓; Dr. José Núñez"
    out = scrub(text, engine="rules")
    assert out.startswith("Señora Müller — IOP 18 mmHg OD, naïve to drops ✓")
    assert "José" not in out and out.endswith("Dr. <PERSON_NAME>")


def test_scrub_notes_counts_and_changes():
    notes = ["Dr. Ann Lee on 01/02/2023 and 2023-03-04.", "IOP 18 mmHg.",
             "MRN 1234567", ""]
    report = scrub_notes(notes, engine="rules")
    assert report.texts == [scrub(n, engine="rules") for n in notes]
    assert report.n_changed == 2
    assert report.counts["DATE"] == 2
    assert report.counts["PERSON_NAME"] == 1
    assert report.counts["MRN"] == 1
    assert set(report.counts) == set(PLACEHOLDERS)
    assert sum(report.counts.values()) == 4
    assert count_placeholders(report.texts) == report.counts
    assert repr(report) == ("ScrubReport(n=4, n_changed=2, counts="
                            "{'PERSON_NAME': 1, 'DATE': 2, 'MRN': 1})")


def test_count_placeholders():
    counts = count_placeholders(["<DATE> and <DATE>", "Dr. <PERSON_NAME>",
                                 "<NOT_A_KIND> <date>", "plain"])
    assert counts["DATE"] == 2 and counts["PERSON_NAME"] == 1
    assert sum(counts.values()) == 3


def test_check_scrubbed_names_note_and_kinds_but_not_phi():
    notes = ["IOP 18 mmHg.", "Dr. <PERSON_NAME> on <DATE>.",
             "Call Dr. Zed Quimby at 555-123-4567.", "MRN 7654321"]
    with pytest.raises(PHIError) as info:
        check_scrubbed(notes)
    msg = str(info.value)
    assert "Note 2" in msg and "PERSON_NAME" in msg
    assert "PHONE_NUMBER" in msg and "2 of 4" in msg
    for leaked in ("Zed", "Quimby", "555", "7654321"):
        assert leaked not in msg
    assert isinstance(info.value, ValueError)


def test_check_scrubbed_passes_scrubbed_notes():
    notes = [n for n, _, _ in PLANTED] + CLINICAL
    check_scrubbed(scrub_notes(notes, engine="rules").texts)
    check_scrubbed([])


def test_unknown_engine_names_choices():
    with pytest.raises(ValueError, match="auto, rules, presidio"):
        scrub("text", engine="regex")
    with pytest.raises(ValueError, match="Did you mean 'presidio'"):
        scrub_notes(["text"], engine="presido")


@pytest.fixture
def no_presidio(monkeypatch):
    """Presidio made unimportable, whether or not it is installed."""
    monkeypatch.setitem(sys.modules, "presidio_analyzer", None)
    deid.presidio.engines.cache_clear()
    deid.presidio.ready.cache_clear()
    yield
    deid.presidio.engines.cache_clear()
    deid.presidio.ready.cache_clear()


def test_presidio_missing_says_how_to_install(no_presidio):
    with pytest.raises(ImportError, match="pip install presidio-analyzer "
                                          "presidio-anonymizer") as info:
        scrub("Dr. Ann Lee", engine="presidio")
    assert "spacy download" in str(info.value)
    with pytest.raises(ImportError, match="presidio-analyzer"):
        scrub_notes(["IOP 18 mmHg"], engine="presidio")


def test_auto_falls_back_to_rules_without_presidio(no_presidio):
    assert scrub("Dr. Ann Lee", engine="auto") == "Dr. <PERSON_NAME>"
    assert not deid.presidio.ready()


def _synthetic_notes():
    """Clinic notes of the synthetic generator, ages 18 to 95, all kinds."""
    rng = np.random.default_rng(0)
    rows = [{"age": age, "gender": age % 2, "glaucoma": age % 3 > 0,
             "md": -0.2 * (age % 30), "cdr": 0.3 + (age % 7) / 12,
             "note_informative": age % 5 > 0, "note_flipped": age % 11 == 0}
            for age in range(18, 96)]
    return [write_note(rng, row)[0] for row in rows], rows


def test_synthetic_notes_keep_clinical_content():
    notes, rows = _synthetic_notes()
    report = scrub_notes(notes, engine="rules")
    # The only PHI a synthetic note holds is an age over 89.
    old = [row["age"] >= 90 for row in rows]
    assert report.counts["AGE"] == sum(old) == report.n_changed == 6
    assert sum(report.counts.values()) == report.counts["AGE"]
    for before, after, is_old in zip(notes, report.texts, old):
        if not is_old:
            assert after == before
        assert after.count("mmHg") == before.count("mmHg")
        assert after.count("glaucoma") == before.count("glaucoma")
    assert sum("glaucoma" in t for t in report.texts) > len(notes) // 2
    assert sum("mmHg" in t for t in report.texts) > len(notes) // 2
    check_scrubbed(report.texts)
