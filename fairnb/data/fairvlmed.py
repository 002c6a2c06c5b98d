"""Reader of the Harvard-FairVLMed layout (FairCLIP, CVPR 2024), real or
synthetic: ``Training/``, ``Validation/``, ``Test/`` (or ``Testing/``) of
``data_NNNNN.npz`` files, and optionally a summarized-notes CSV (``File
Name``, ``Original Note``, ``Summarized Note``). Archives are read member
by member, so :meth:`FairVLMed.metadata` never decompresses an image.

Used in: 01_explore_data, 02_summarize_notes, 03_fairclip, 05_linear_probe.
"""
from __future__ import annotations

import math
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from .. import attributes, paths
from ..attributes import ATTRIBUTES, LABEL, LABEL_NAMES, SCHEMA

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


class _NumpyOnlyUnpickler(pickle.Unpickler):
    # Object arrays of strings are pickles; allow only what numpy needs to
    # rebuild them so a crafted file cannot run code.
    def find_class(self, module, name):
        if (module, name) != ("_codecs", "encode") and (
                module.split(".")[0] != "numpy" or name not in {
                    "_reconstruct", "ndarray", "dtype", "scalar"}):
            raise pickle.UnpicklingError(f"refusing {module}.{name}")
        if module.startswith("numpy.core") and np.__version__[0] != "1":
            module = "numpy._core" + module[len("numpy.core"):]
        return super().find_class(module, name)


def _header(npz, key):
    name = f"{key}.npy" if f"{key}.npy" in npz.zip.namelist() else key
    fp = npz.zip.open(name)
    fmt = np.lib.format
    reader = (fmt.read_array_header_1_0 if fmt.read_magic(fp) == (1, 0)
              else fmt.read_array_header_2_0)
    return fp, reader(fp)  # (shape, fortran_order, dtype)


def _member(npz, key):
    try:
        return npz[key]
    except ValueError:
        fp, (_, _, dtype) = _header(npz, key)
        with fp:
            if not dtype.hasobject:
                raise
            return np.asarray(_NumpyOnlyUnpickler(fp).load())


def _corrupt(path, exc):
    return DatasetError(
        f"Cannot read {path}: {type(exc).__name__}: {exc}. The file is "
        "damaged or is not an .npz archive - re-download or re-extract it.")


def _load(path: Path, *, small=True, image=False) -> dict:
    try:
        npz = np.load(path)
    except Exception as exc:
        raise _corrupt(path, exc) from exc
    if not isinstance(npz, np.lib.npyio.NpzFile):  # a lone .npy array
        raise _corrupt(path, TypeError("not an archive of named fields"))
    with npz:
        missing = [f for f in FIELDS if f not in npz.files]
        if missing:
            raise DatasetError(
                f"{path} lacks field(s) {', '.join(missing)}. Every "
                f"data_NNNNN.npz needs: {', '.join(FIELDS)}. Re-extract "
                "the file or regenerate the dataset.")
        try:
            raw = {f: _member(npz, f) for f in FIELDS
                   if small and f not in (IMAGE, "tds")}
            fp, (raw["shape"], _, _) = _header(npz, IMAGE)
            fp.close()
            if image:
                raw[IMAGE] = npz[IMAGE]
        except Exception as exc:
            raise _corrupt(path, exc) from exc
    if len(raw["shape"]) != 2:
        raise DatasetError(
            f"{path}: {IMAGE} has shape {raw['shape']}; expected a 2-D "
            "grayscale image (height x width, e.g. 664x512). Store the "
            "image as one 2-D channel.")
    return raw


def _scalar(path, field, value):
    a = np.asarray(value)
    if a.size != 1:
        raise DatasetError(f"{path}: {field} has shape {a.shape}; expected "
                           "one value (a 0-d or 1-element array). Fix it.")
    return a.reshape(()).item()


def _number(path, field, value) -> float:
    v = _scalar(path, field, value)
    try:
        return float(v)
    except (TypeError, ValueError):
        raise DatasetError(f"{path}: {field} = {v!r} is not a number. "
                           "Store it as an int or float.") from None


def _code(path, field, value, valid: dict[int, str]) -> int:
    x = _number(path, field, value)
    if math.isfinite(x) and x == int(x) and int(x) in valid:
        return int(x)
    names = ", ".join(f"{c} ({n})" for c, n in valid.items())
    raise DatasetError(f"{path}: {field} = {x:g} is not a valid code. Valid "
                       f"codes: {names}. Fix the value in the file.")


def _text(path, field, value) -> str:
    v = _scalar(path, field, value)
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def _row(path: Path, split: str, raw: dict) -> dict:
    row = {"id": path.stem, "split": split, "file": str(path),
           "label": _code(path, LABEL, raw[LABEL], LABEL_NAMES),
           "age": _number(path, "age", raw["age"]),
           "md": _number(path, "md", raw["md"])}
    for a in ATTRIBUTES:
        valid = {**SCHEMA[a], attributes.UNKNOWN: attributes.UNKNOWN_NAME}
        row[a] = _code(path, a, raw[a], valid)
    for t in ("note", "note_extra"):
        row[t] = _text(path, t, raw[t])
    return row


def _as_uint8(image: np.ndarray) -> np.ndarray:
    # Floats with max <= 1 are taken as [0, 1] intensities, others as 0-255.
    if image.dtype == np.uint8:
        return image
    a = np.nan_to_num(image.astype(np.float64), nan=0.0)
    if np.issubdtype(image.dtype, np.floating) and a.max(initial=0) <= 1:
        a = a * 255
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def _some(names) -> str:
    names = sorted(names)
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return ", ".join(f"{n}.npz" for n in names[:5]) + more


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
            rows = [_row(p, s, _load(p)) for s, fs in self._files.items()
                    for p in fs]
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
        return _as_uint8(_load(path, small=False, image=True)[IMAGE])

    def record(self, id: str) -> Record:
        """The full sample ``id`` (``"data_00001"``, ``.npz`` optional)."""
        split, path = self._locate(id)
        raw = _load(path, image=True)
        row = _row(path, split, raw)
        return Record(id=row["id"], split=split, image=_as_uint8(raw[IMAGE]),
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
        f"{root / _FOLDERS[split][0]} is missing. {_LAYOUT} - {fix} (or "
        "pass splits=... to read only the splits you have).")


def _find_summaries(root: Path, summaries) -> Path | None:
    if summaries is None:
        return None
    if summaries == "auto":
        for name in OFFICIAL_SUMMARIES:
            if (root / name).is_file():
                return root / name
        found = sorted(root.glob("*_summarized_notes.csv"))
        if len(found) > 1:
            raise DatasetError(
                f"{root} has several summaries CSVs "
                f"({', '.join(p.name for p in found)}); summaries='auto' "
                "will not guess. Pass summaries=<one of them> or None.")
        return found[0] if found else None
    path = Path(summaries).expanduser()
    if not path.is_absolute():
        path = root / path if (root / path).is_file() else paths.resolve(path)
    if not path.is_file():
        raise DatasetError(
            f"Summaries file {path} does not exist. Pass a CSV with columns "
            "File Name, Original Note, Summarized Note, 'auto' or None.")
    return path


def _read_summaries(csv: Path, wanted: set[str], root: Path) -> dict:
    try:
        df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise DatasetError(f"Cannot read {csv}: {exc}. Re-create it as a "
                           "CSV with a header row.") from exc
    if df.shape[1] < 3:
        raise DatasetError(
            f"{csv} has {df.shape[1]} column(s) ({', '.join(df.columns)}); "
            "expected at least 3: File Name, Original Note, Summarized Note "
            "(file name first, summary third). Re-create it in that layout.")
    ids = [Path(n.strip()).name.removesuffix(".npz") for n in df.iloc[:, 0]]
    table = dict(zip(ids, (t.strip() for t in df.iloc[:, 2])))
    known = {p.stem for n in sum(_FOLDERS.values(), ())
             for p in (root / n).glob("data_*.npz")}
    problems = [
        (set(pd.Series(ids)[pd.Series(ids).duplicated()]), "lists twice",
         "keep one row per file"),
        ([i for i in wanted if not table.get(i)], "has no summary for",
         "re-run the summarizer (it resumes) or pass summaries=None"),
        ([i for i in table if i not in known], "lists files not in "
         f"the dataset at {root}:", "pass the CSV made for this dataset"),
    ]
    for names, what, fix in problems:
        if names:
            raise DatasetError(f"{csv} {what} {len(names)} file(s), e.g. "
                               f"{_some(names)}. Fix: {fix}.")
    return table


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
        Summarized-notes CSV (file name in the first column, summary in
        the third); a relative path is looked up in ``root`` first.
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
