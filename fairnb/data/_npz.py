"""Reading one ``data_NNNNN.npz`` safely: member by member (metadata
never decompresses an image), pickles refused except plain numpy arrays,
every field checked against the layout."""
from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np

from .. import attributes
from ..attributes import ATTRIBUTES, LABEL, LABEL_NAMES, SCHEMA
from .layout import FIELDS, IMAGE, DatasetError


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
    root = Path(path).parent.parent
    fix = (f"it is part of a generated synthetic dataset: delete {root}; "
           "the notebooks' embedded default is generated again on next use "
           "(a folder made with make_synthetic: make it again)"
           if (root / "synthetic.json").is_file()
           else "re-download or re-extract it")
    return DatasetError(
        f"Cannot read {path}: {type(exc).__name__}: {exc}. The file is "
        f"damaged or is not an .npz archive - {fix}.")


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


#: images smaller than this on a side are reported (upsampling invents
#: detail the camera never recorded)
MIN_IMAGE_SIDE = 64


def _text(path, field, value, fallbacks: list | None = None) -> str:
    v = _scalar(path, field, value)
    if not isinstance(v, bytes):
        return str(v)
    try:
        return v.decode("utf-8")
    except UnicodeDecodeError:
        if fallbacks is not None:
            fallbacks.append(path.name)
        try:  # the usual culprit: text saved on Windows
            return v.decode("cp1252")
        except UnicodeDecodeError:
            return v.decode("latin-1")  # never fails


def decoding_report(fallbacks: list, small: list) -> None:
    """Warn once about notes that were not UTF-8 (decoded as cp1252 or
    latin-1) and about images smaller than :data:`MIN_IMAGE_SIDE`."""
    import warnings
    if fallbacks:
        warnings.warn(
            f"{len(fallbacks)} note(s) were not UTF-8 and were decoded as "
            f"cp1252 (latin-1 where cp1252 fails), e.g. {fallbacks[0]}. "
            "Check the text reads right; re-save the notes as UTF-8 to "
            "silence this.", stacklevel=3)
    if small:
        name, shape = small[0]
        warnings.warn(
            f"{len(small)} image(s) are smaller than {MIN_IMAGE_SIDE} px on "
            f"a side, e.g. {name} ({shape[0]}x{shape[1]}); they will be "
            "upsampled to the model's input size, which adds no detail. "
            "Check they are the SLO fundus images you meant.", stacklevel=3)


def _row(path: Path, split: str, raw: dict, fallbacks: list | None = None,
         small: list | None = None) -> dict:
    row = {"id": path.stem, "split": split, "file": str(path),
           "label": _code(path, LABEL, raw[LABEL], LABEL_NAMES),
           "age": _number(path, "age", raw["age"]),
           "md": _number(path, "md", raw["md"])}
    for a in ATTRIBUTES:
        valid = {**SCHEMA[a], attributes.UNKNOWN: attributes.UNKNOWN_NAME}
        row[a] = _code(path, a, raw[a], valid)
    for t in ("note", "note_extra"):
        row[t] = _text(path, t, raw[t], fallbacks)
    if small is not None and min(raw["shape"]) < MIN_IMAGE_SIDE:
        small.append((path.name, tuple(raw["shape"])))
    return row


def _as_uint8(image: np.ndarray, path=None) -> np.ndarray:
    # Floats with max <= 1 are taken as [0, 1] intensities, others as 0-255.
    if image.dtype == np.uint8:
        return image
    if image.dtype.kind in "iub" and image.size and (
            image.max() > 255 or image.min() < 0):
        raise DatasetError(
            f"{path or 'an image'}: {IMAGE} is {image.dtype} with values "
            f"{image.min()}..{image.max()}; expected 0..255 (or floats in "
            "0..1). Rescale it to 8 bits (e.g. 16-bit: image >> 8) and "
            "save again.")
    a = np.nan_to_num(image.astype(np.float64), nan=0.0)
    if np.issubdtype(image.dtype, np.floating) and a.max(initial=0) <= 1:
        a = a * 255
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)
