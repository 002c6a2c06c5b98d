"""Reader of the Harvard-FairVLMed layout (FairCLIP, CVPR 2024), real or
synthetic: ``Training/``, ``Validation/``, ``Test/`` (or ``Testing/``) of
``data_NNNNN.npz`` files, and optionally a summarized-notes CSV (``File
Name``, ``Original Note``, ``Summarized Note``). Archives are read member
by member, so :meth:`FairVLMed.metadata` never decompresses an image.

Used in: 01_explore_data, 02_summarize_notes, 03_fairclip, 05_linear_probe.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from .. import attributes, paths
from ..attributes import ATTRIBUTES
from ._npz import _as_uint8, _load, _row, decoding_report
from ._summaries_csv import _find_summaries, _read_summaries
from .layout import (  # noqa: F401 (re-exported)
    _FOLDERS,
    _LAYOUT,
    COLUMNS,
    FIELDS,
    IMAGE,
    OFFICIAL_SUMMARIES,
    SPLITS,
    DatasetError,
)


@dataclass(frozen=True, eq=False)  # eq would compare arrays elementwise
class Record:
    """One sample: ``image`` is a 2-D uint8 array, ``attributes`` maps
    every attribute of the schema to its code (-1 = Unknown)."""

    id: str
    split: str
    image: np.ndarray
    note: str
    summary: str | None
    label: int
    attributes: dict[str, int]
    age: float
    md: float


class FairVLMed:
    """A FairVLMed folder; create it with :func:`read_dataset`."""

    def __init__(self, root: Path, files: dict[str, list[Path]],
                 summary_source: Path | None, summaries: dict[str, str]):
        self._root, self._files = root, files
        self._summary_source, self._summaries = summary_source, summaries
        self._index = {p.stem: (s, p) for s, fs in files.items() for p in fs}
        self._table: pd.DataFrame | None = None

    root = property(lambda self: self._root, doc="The dataset folder.")
    summary_source = property(lambda self: self._summary_source,
                              doc="The summaries CSV joined, or None.")

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits read, in :data:`SPLITS` order."""
        return tuple(self._files)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={len(f)}" for s, f in self._files.items())
        src = self._summary_source and self._summary_source.name
        return f"FairVLMed({str(self._root)!r}, {sizes}, summaries={src!r})"

    def _check(self, split: str) -> str:
        if split not in self._files:
            raise ValueError(f"Split {split!r} was not read (read: "
                             f"{', '.join(self.splits)}); choose them with "
                             "read_dataset(root, splits=...).")
        return split

    def _locate(self, id: str) -> tuple[str, Path]:
        key = Path(str(id)).name.removesuffix(".npz")
        if key not in self._index:
            raise KeyError(f"No {key}.npz in the {', '.join(self.splits)} "
                           f"split(s) of {self._root}.")
        return self._index[key]

    def files(self, split: str) -> list[Path]:
        """The ``data_*.npz`` files of ``split``, sorted by name."""
        return list(self._files[self._check(split)])

    def metadata(self, split: str | None = None) -> pd.DataFrame:
        """One row per file with :data:`COLUMNS`; images are not decoded.

        Parameters
        ----------
        split : {"train", "val", "test"}, optional
            Rows of this split only; default all splits read.

        Returns
        -------
        pandas.DataFrame
            Codes and ``label`` as int64 (-1 = Unknown), ``age`` and
            ``md`` as float64, ``summary`` None where there is none.
        """
        if self._table is None:
            fallbacks, small = [], []
            rows = [_row(p, s, _load(p), fallbacks, small)
                    for s, fs in self._files.items() for p in fs]
            decoding_report(fallbacks, small)
            table = pd.DataFrame(rows, columns=COLUMNS[:-1])
            table = table.astype({c: "int64" for c in ("label", *ATTRIBUTES)})
            table["summary"] = pd.Series(
                [self._summaries.get(i) for i in table["id"]], dtype=object)
            self._table = table
        table = self._table
        if split is not None:
            table = table[table["split"] == self._check(split)]
        return table.reset_index(drop=True).copy()

    def load_image(self, id: str) -> np.ndarray:
        """The SLO fundus image of ``id`` as a 2-D uint8 array."""
        _, path = self._locate(id)
        return _as_uint8(_load(path, small=False, image=True)[IMAGE], path)

    def record(self, id: str) -> Record:
        """The full sample ``id`` (``"data_00001"``, ``.npz`` optional)."""
        split, path = self._locate(id)
        raw = _load(path, image=True)
        row = _row(path, split, raw)
        image = _as_uint8(raw[IMAGE], path)
        return Record(id=row["id"], split=split, image=image,
                      note=row["note"], summary=self._summaries.get(row["id"]),
                      label=row["label"], age=row["age"], md=row["md"],
                      attributes={a: row[a] for a in ATTRIBUTES})

    def records(self, split: str) -> Iterator[Record]:
        """Records of ``split`` in file-name order."""
        for path in self.files(split):
            yield self.record(path.stem)


def _split_folder(root: Path, split: str) -> Path:
    found = [root / n for n in _FOLDERS[split] if (root / n).is_dir()]
    if len(found) > 1:
        raise DatasetError(f"{root} has both {found[0].name}/ and "
                           f"{found[1].name}/. Keep one test folder.")
    if found:
        return found[0]
    fix = "point data_dir at the dataset root"
    if any(root.glob("data_*.npz")):
        fix = (f"{root} holds data_*.npz itself, so it looks like a split "
               "folder: point data_dir at its parent")
    elif inner := [p for p in root.iterdir() if (p / "Training").is_dir()]:
        fix = f"did you mean {inner[0]}?"
    raise DatasetError(
        f"{root / _FOLDERS[split][0]} is missing. {_LAYOUT} - {fix} (02 "
        "reads fewer splits with -p splits train; 01 and 03 need all "
        "three; in Python: read_dataset(root, splits=('train',))).")


def read_dataset(root, *, splits=SPLITS, summaries="auto",
                 validate: bool = True) -> FairVLMed:
    """Open a Harvard-FairVLMed folder (or the synthetic one).

    Parameters
    ----------
    root : str or path-like
        Dataset folder; relative paths resolve against the repository
        root (:func:`fairnb.paths.resolve`).
    splits : sequence of {"train", "val", "test"}
        Splits to read; each must exist and hold ``data_*.npz`` files.
    summaries : path, "auto" or None
        Summarized-notes CSV (columns found by header name, see
        ``_summaries_csv.COLUMN_ALIASES``); a relative path is looked up
        in ``root`` first.
        ``"auto"`` takes ``gpt-4_summarized_notes.csv`` or
        ``gpt4_summarized_notes.csv`` in ``root``; failing those, the
        only ``*_summarized_notes.csv`` there; several such files are an
        error (pass one); none means no summaries.
    validate : bool
        Read every file's small fields now (1-2 ms a file), so bad
        files fail here rather than in the middle of training.

    Returns
    -------
    FairVLMed

    Raises
    ------
    DatasetError
        Naming the file or folder, the problem and the fix.
    """
    root = paths.resolve(root)
    if not root.is_dir():
        raise DatasetError(f"Dataset folder {root} does not exist or is not "
                           f"a folder. {_LAYOUT} - point data_dir at it.")
    splits = (splits,) if isinstance(splits, str) else tuple(splits)
    for s in splits:
        attributes.check_choice("split", s, SPLITS)
    files, seen = {}, {}
    for s in (s for s in SPLITS if s in splits):
        folder = _split_folder(root, s)
        files[s] = sorted(folder.glob("data_*.npz"))
        if not files[s]:
            raise DatasetError(f"{folder} has no data_*.npz files. Finish "
                               "extracting the dataset into it.")
        for p in files[s]:
            if seen.setdefault(p.stem, p) is not p:
                raise DatasetError(f"{p.name} is in both {seen[p.stem]} and "
                                   f"{p}. Keep each file in one split.")
    source = _find_summaries(root, summaries)
    table = {} if source is None else _read_summaries(source, set(seen), root)
    dataset = FairVLMed(root, files, source, table)
    if validate:
        dataset.metadata()
    return dataset
