"""The Harvard-FairVLMed layout: splits, folders, npz fields, errors."""
from __future__ import annotations

from ..attributes import ATTRIBUTES, LABEL

SPLITS = ("train", "val", "test")
_FOLDERS = {"train": ("Training",), "val": ("Validation",),
            "test": ("Test", "Testing")}
IMAGE = "slo_fundus"
FIELDS = (IMAGE, "md", "tds", "age", "gender", "race", "ethnicity",
          "language", "maritalstatus", LABEL, "note", "note_extra")
OFFICIAL_SUMMARIES = ("gpt-4_summarized_notes.csv",
                      "gpt4_summarized_notes.csv")
COLUMNS = ("id", "split", "file", "label", "age", "md", *ATTRIBUTES,
           "note", "note_extra", "summary")
_LAYOUT = ("Expected a folder with Training/, Validation/, Test/ (or "
           "Testing/) of data_NNNNN.npz files")


class DatasetError(ValueError):
    """A dataset folder or file does not match the FairVLMed layout."""
