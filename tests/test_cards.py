"""Data cards: required sections, the stats table, filling between markers."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from fairnb.cards import (
    REQUIRED_SECTIONS,
    STATS_END,
    STATS_START,
    check_card,
    fill_stats,
    stats_table,
    validate_card,
)

CARDS_DIR = Path(__file__).resolve().parents[1] / "data_cards"
CARDS = sorted(p for p in CARDS_DIR.glob("*.md") if p.name != "README.md")


def test_expected_cards_exist():
    names = {p.name for p in CARDS}
    assert {"TEMPLATE.md", "harvard_fairvlmed.md",
            "synthetic_fairvlmed.md"} <= names


@pytest.mark.parametrize("card", CARDS, ids=lambda p: p.name)
def test_card_has_required_sections(card):
    assert check_card(card) == []
    validate_card(card)  # must not raise


@pytest.mark.parametrize("card", CARDS, ids=lambda p: p.name)
def test_card_has_one_pair_of_stats_markers(card):
    text = card.read_text(encoding="utf-8")
    assert text.count(STATS_START) == 1
    assert text.count(STATS_END) == 1
    assert text.index(STATS_START) < text.index(STATS_END)


@pytest.mark.parametrize("card", CARDS, ids=lambda p: p.name)
def test_card_avoids_promissory_words(card):
    text = card.read_text(encoding="utf-8").lower()
    assert "debias" not in text
    assert "unbiased" not in text


def test_harvard_card_quotes_the_paper():
    text = (CARDS_DIR / "harvard_fairvlmed.md").read_text(encoding="utf-8")
    for fact in ("819 (8.2%)", "1,491 (14.9%)", "7,690 (76.9%)", "56.3%",
                 "90.6%", "92.5%", "57.4%", "60.9 ± 16.2", "7,000",
                 "1,000", "2,000", "2015 and 2022", "Presidio",
                 "CC BY-NC-ND 4.0", "11 to 332 words"):
        assert fact in text, fact


def _card_without(section: str) -> str:
    return "\n".join(f"## {s}\n\ntext\n" for s in REQUIRED_SECTIONS
                     if s != section)


def test_check_card_reports_missing_section(tmp_path):
    path = tmp_path / "card.md"
    path.write_text(_card_without("PHI rules"), encoding="utf-8")
    assert check_card(path) == ["PHI rules"]
    with pytest.raises(ValueError, match="PHI rules"):
        validate_card(path)


def test_check_card_ignores_headings_in_code_fences(tmp_path):
    path = tmp_path / "card.md"
    path.write_text(_card_without("Labels") + "```\n## Labels\n```\n",
                    encoding="utf-8")
    assert check_card(path) == ["Labels"]


def test_check_card_ignores_case_and_level(tmp_path):
    path = tmp_path / "card.md"
    # a level-3 heading does not count; a lower-case level-2 heading does
    path.write_text(_card_without("Splits") + "### Splits\n"
                    "## summary\n", encoding="utf-8")
    assert check_card(path) == ["Splits"]


@pytest.fixture
def meta():
    # rows deliberately not in split order
    return pd.DataFrame({
        "split": ["test", "train", "train", "val", "train", "train", "val",
                  "test"],
        "label": [1, 1, 0, 0, 0, 1, 0, 1],
        "age": [30, 40, 60, 70, 50, 50, 70, 50],
        "race": [1, 0, 1, 2, 2, 2, 2, 2],
        "gender": [0, 0, 0, 0, 1, 1, 1, 0],
        "ethnicity": [0, 0, 0, 0, 1, -1, 0, -1],
        "language": [-1, 0, 0, 1, 0, 0, 2, 0],
        "maritalstatus": [-1, 0, 1, 4, 2, 3, 0, 0],
    })


def _cells(table: str) -> dict[tuple[str, str], list[str]]:
    rows = [[c.strip() for c in line.strip("|").split("|")]
            for line in table.splitlines()]
    return {(r[0], r[1]): r[2:] for r in rows[2:]}


def test_stats_table_header_orders_splits(meta):
    lines = stats_table(meta).splitlines()
    assert lines[0] == "| Attribute | Group | Train | Val | Test | All |"
    assert lines[1] == "| --- | --- | --- | --- | --- | --- |"


def test_stats_table_known_counts(meta):
    cells = _cells(stats_table(meta))
    assert cells[("race", "Asian")] == [
        "1 (25.0%)", "0 (0.0%)", "0 (0.0%)", "1 (12.5%)"]
    assert cells[("race", "Black")] == [
        "1 (25.0%)", "0 (0.0%)", "1 (50.0%)", "2 (25.0%)"]
    assert cells[("race", "White")] == [
        "2 (50.0%)", "2 (100.0%)", "1 (50.0%)", "5 (62.5%)"]
    assert cells[("gender", "Female")] == [
        "2 (50.0%)", "1 (50.0%)", "2 (100.0%)", "5 (62.5%)"]
    assert cells[("ethnicity", "Unknown")] == [
        "1 (25.0%)", "0 (0.0%)", "1 (50.0%)", "2 (25.0%)"]
    assert cells[("maritalstatus", "Legally Separated")] == [
        "0 (0.0%)", "1 (50.0%)", "0 (0.0%)", "1 (12.5%)"]
    assert cells[("glaucoma", "prevalence")] == [
        "2 (50.0%)", "0 (0.0%)", "2 (100.0%)", "4 (50.0%)"]


def test_stats_table_age_mean_and_sample_sd(meta):
    # train 40, 60, 50, 50: sd = sqrt(200 / 3) = 8.16;
    # all eight: mean 52.5, sd = sqrt(1350 / 7) = 13.89
    assert _cells(stats_table(meta))[("age", "mean ± sd")] == [
        "50.0 ± 8.2", "70.0 ± 0.0", "40.0 ± 14.1", "52.5 ± 13.9"]


def test_stats_table_rows_follow_schema(meta):
    keys = list(_cells(stats_table(meta)))
    # race has no unknowns here, so no Unknown row; ethnicity has one
    assert ("race", "Unknown") not in keys
    assert keys[:3] == [("race", "Asian"), ("race", "Black"),
                        ("race", "White")]
    assert keys[5:8] == [("ethnicity", "Non-Hispanic"),
                         ("ethnicity", "Hispanic"), ("ethnicity", "Unknown")]
    assert len(keys) == 3 + 2 + 3 + 4 + 6 + 2
    assert keys[-2:] == [("age", "mean ± sd"), ("glaucoma", "prevalence")]


def test_stats_table_attribute_subset(meta):
    keys = list(_cells(stats_table(meta, attributes=["gender"])))
    assert keys == [("gender", "Female"), ("gender", "Male"),
                    ("age", "mean ± sd"), ("glaucoma", "prevalence")]


def test_stats_table_rejects_bad_input(meta):
    with pytest.raises(ValueError, match="Did you mean 'race'"):
        stats_table(meta, attributes=["raec"])
    with pytest.raises(ValueError, match="age"):
        stats_table(meta.drop(columns="age"))


PREFIX = "# Card\n\n## Demographics\n\nIntro text.\n\n"
SUFFIX = "\nAfter the table.\n\n## Labels\n\nMore.\n"


def _write_card(tmp_path, body="| old | table |"):
    path = tmp_path / "card.md"
    path.write_text(f"{PREFIX}{STATS_START}\n{body}\n{STATS_END}{SUFFIX}",
                    encoding="utf-8")
    return path


def test_fill_stats_replaces_only_between_markers(tmp_path, meta):
    path = _write_card(tmp_path)
    new = fill_stats(path, meta)
    assert path.read_text(encoding="utf-8") == new
    assert new == (f"{PREFIX}{STATS_START}\n{stats_table(meta)}\n"
                   f"{STATS_END}{SUFFIX}")
    assert "| old | table |" not in new


def test_fill_stats_is_idempotent(tmp_path, meta):
    path = _write_card(tmp_path)
    first = fill_stats(path, meta)
    second = fill_stats(path, meta)
    assert first == second
    assert path.read_bytes() == first.encode("utf-8")


def test_fill_stats_leaves_no_temp_file_and_keeps_mode(tmp_path, meta):
    path = _write_card(tmp_path)
    os.chmod(path, 0o644)
    fill_stats(path, meta)
    assert [p.name for p in tmp_path.iterdir()] == ["card.md"]
    assert path.stat().st_mode & 0o777 == 0o644


def test_fill_stats_keeps_crlf_line_endings(tmp_path, meta):
    path = tmp_path / "card.md"
    path.write_bytes(f"a\r\n{STATS_START}\r\nx\r\n{STATS_END}\r\nb\r\n"
                     .encode("utf-8"))
    fill_stats(path, meta)
    data = path.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n")
    assert data.startswith(f"a\r\n{STATS_START}\r\n| Attribute".encode())


@pytest.mark.parametrize("text", [
    "no markers at all\n",
    f"{STATS_START}\nonly the start marker\n",
    f"only the end marker\n{STATS_END}\n",
    f"{STATS_END}\nreversed\n{STATS_START}\n",
    f"{STATS_START}\n{STATS_START}\ntwice\n{STATS_END}\n",
])
def test_fill_stats_without_markers_names_them(tmp_path, meta, text):
    path = tmp_path / "card.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as err:
        fill_stats(path, meta)
    assert STATS_START in str(err.value)
    assert STATS_END in str(err.value)
    assert path.read_text(encoding="utf-8") == text
