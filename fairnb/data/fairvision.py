"""Reader of the Harvard-FairVision layout that MultiFair's released code
reads (SLO fundus + OCT B-scans), real or synthetic.

``train/``, ``val/`` and ``test/`` folders (``Training/``,
``Validation/``, ``Test/`` are accepted too) of ``*.npz`` files, each
with ``slo_fundus`` (a 2-D image), ``oct_bscans`` (a volume, slices
first: ``(S, H, W)``), ``glaucoma`` (0/1) and the demographic fields of
the FairVision release: ``race`` (0 Asian, 1 Black, 2 White), ``male``
(1 male, 0 female), ``hispanic`` (1 yes, 0 no) and, where present,
``language`` and ``maritalstatus``. These map onto fairnb's schema
(``male`` -> ``gender``, ``hispanic`` -> ``ethnicity``); a field the file
lacks, or a code outside the schema given as -1, is Unknown. ``age`` and
``md`` are read when present (NaN otherwise). There is no note: texts are
empty.

Archives are read member by member, so :meth:`FairVision.metadata` never
decompresses an image or a volume.

Used in: 07_multifair.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..attributes import ATTRIBUTES, SCHEMA, UNKNOWN
from ._npz import _as_uint8, _corrupt, _header, _member
from .layout import DatasetError

SPLITS = ("train", "val", "test")
FOLDERS = {"train": ("train", "Training"), "val": ("val", "Validation"),
           "test": ("test", "Test", "Testing")}
SLO, OCT, LABEL_FIELD = "slo_fundus", "oct_bscans", "glaucoma"
#: FairVision field -> fairnb attribute (codes as :data:`SCHEMA`)
ATTRIBUTE_FIELDS = {"race": "race", "male": "gender",
                    "hispanic": "ethnicity", "language": "language",
                    "maritalstatus": "maritalstatus"}
REQUIRED = (SLO, OCT, LABEL_FIELD, "race", "male")
COLUMNS = ("id", "split", "file", "label", "age", "md", *ATTRIBUTES,
           "note", "note_extra", "summary")
LAYOUT = ("Expected a Harvard-FairVision folder: train/, val/, test/ of "
          ".npz files with slo_fundus, oct_bscans, glaucoma, race, male "
          "(hispanic, language, maritalstatus, age, md optional)")


def _code(path, field, value, valid) -> int:
    a = np.asarray(value)
    if a.size != 1:
        raise DatasetError(f"{path}: {field} has shape {a.shape}; expected "
                           "one value.")
    x = float(a.reshape(()).item())
    if math.isfinite(x) and x == int(x) and (int(x) in valid
                                             or int(x) == UNKNOWN):
        return int(x)
    names = ", ".join(f"{c} ({n})" for c, n in valid.items())
    raise DatasetError(f"{path}: {field} = {x:g} is not a valid code. Valid "
                       f"codes: {names}, or -1 for unknown.")


def _row(path: Path, split: str) -> dict:
    try:
        npz = np.load(path)
    except Exception as exc:
        raise _corrupt(path, exc) from exc
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise _corrupt(path, TypeError("not an archive of named fields"))
    with npz:
        missing = [f for f in REQUIRED if f not in npz.files]
        if missing:
            raise DatasetError(
                f"{path} lacks field(s) {', '.join(missing)}. {LAYOUT}.")
        row = {"id": path.stem, "split": split, "file": str(path),
               "label": _code(path, LABEL_FIELD, _member(npz, LABEL_FIELD),
                              {0: "non-glaucoma", 1: "glaucoma"})}
        for field in ("age", "md"):
            row[field] = (float(np.asarray(_member(npz, field)).reshape(-1)
                                [0]) if field in npz.files else math.nan)
        for field, attribute in ATTRIBUTE_FIELDS.items():
            row[attribute] = (_code(path, field, _member(npz, field),
                                    SCHEMA[attribute])
                              if field in npz.files else UNKNOWN)
        for key, ndim in ((SLO, 2), (OCT, 3)):
            fp, (shape, _, _) = _header(npz, key)
            fp.close()
            if len(shape) != ndim:
                want = "a 2-D image" if ndim == 2 else \
                    "a volume (slices, height, width)"
                raise DatasetError(f"{path}: {key} has shape {shape}; "
                                   f"expected {want}.")
    row.update(note="", note_extra="", summary=None)
    return row


class FairVision:
    """A Harvard-FairVision folder; create it with :func:`read_fairvision`.

    Offers what :func:`fairnb.data.torch.load_split` reads
    (:meth:`metadata`, :meth:`files`, :meth:`load_image`, ``root``) and
    :meth:`load_volume` for the OCT B-scans.
    """

    summary_source = None

    def __init__(self, root: Path, files: dict[str, list[Path]]):
        self._root, self._files = root, files
        self._index = {p.stem: (s, p) for s, fs in files.items() for p in fs}
        self._table: pd.DataFrame | None = None

    root = property(lambda self: self._root, doc="The dataset folder.")

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self._files)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={len(f)}" for s, f in self._files.items())
        return f"FairVision({str(self._root)!r}, {sizes})"

    def files(self, split: str) -> list[Path]:
        """The ``*.npz`` files of ``split``, sorted by name."""
        if split not in self._files:
            raise ValueError(f"Split {split!r} was not read (read: "
                             f"{', '.join(self.splits)}).")
        return list(self._files[split])

    def metadata(self, split: str | None = None) -> pd.DataFrame:
        """One row per file (:data:`COLUMNS`; ``note`` empty); images and
        volumes are not decoded."""
        if self._table is None:
            rows = [_row(p, s) for s, fs in self._files.items() for p in fs]
            table = pd.DataFrame(rows, columns=COLUMNS)
            self._table = table.astype(
                {c: "int64" for c in ("label", *ATTRIBUTES)})
        table = self._table
        if split is not None:
            table = table[table["split"] == split]
        return table.reset_index(drop=True).copy()

    def _path(self, id: str) -> Path:
        key = Path(str(id)).name.removesuffix(".npz")
        if key not in self._index:
            raise KeyError(f"No {key}.npz in {self._root}.")
        return self._index[key][1]

    def load_image(self, id: str) -> np.ndarray:
        """The SLO fundus image of ``id`` as a 2-D uint8 array."""
        path = self._path(id)
        with np.load(path) as npz:
            return _as_uint8(npz[SLO], path)

    def load_volume(self, id: str) -> np.ndarray:
        """The OCT B-scans of ``id``: uint8 ``(S, H, W)``."""
        path = self._path(id)
        with np.load(path) as npz:
            volume = np.asarray(npz[OCT])
        try:  # one rule for the whole volume (floats <= 1: [0, 1])
            flat = _as_uint8(volume.reshape(-1, volume.shape[-1]), path)
        except DatasetError as exc:
            raise DatasetError(str(exc).replace(SLO, OCT)) from None
        return flat.reshape(volume.shape)


def _split_folder(root: Path, split: str) -> Path:
    found = [root / n for n in FOLDERS[split] if (root / n).is_dir()]
    if not found:
        raise DatasetError(f"{root} has no {FOLDERS[split][0]}/ folder. "
                           f"{LAYOUT} - point data_dir at the dataset root.")
    if len(found) > 1:
        raise DatasetError(f"{root} has both {found[0].name}/ and "
                           f"{found[1].name}/; keep one.")
    return found[0]


def read_fairvision(root, *, splits=SPLITS,
                    validate: bool = True) -> FairVision:
    """Open a Harvard-FairVision folder (or the synthetic OCT stand-in,
    :func:`fairnb.data.synthetic_oct.ensure_synthetic_oct`).

    Raises
    ------
    DatasetError
        Naming the folder or file, the problem and the fix.
    """
    root = paths.resolve(root)
    if not root.is_dir():
        raise DatasetError(f"Dataset folder {root} does not exist. {LAYOUT}.")
    files = {}
    for s in (s for s in SPLITS if s in tuple(splits)):
        folder = _split_folder(root, s)
        files[s] = sorted(folder.glob("*.npz"))
        if not files[s]:
            raise DatasetError(f"{folder} has no .npz files. {LAYOUT}.")
    dataset = FairVision(root, files)
    if validate:
        dataset.metadata()
    return dataset
