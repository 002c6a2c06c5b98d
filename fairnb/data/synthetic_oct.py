"""A synthetic stand-in for Harvard-FairVision (SLO fundus + OCT B-scans),
in the layout MultiFair's released code reads.

``make_synthetic_oct`` writes ``train/``, ``val/`` and ``test/`` folders of
``data_NNNNN.npz`` files with ``slo_fundus``, ``oct_bscans`` (``(S, H, W)``
uint8), ``glaucoma``, ``race``, ``male``, ``hispanic``, ``language``,
``maritalstatus``, ``age``, ``md`` and ``tds``, plus ``synthetic.json``
and ``synthetic_truth.csv`` (per file: cup-to-disc ratio, relative
nerve-fibre-layer thickness, bias-group membership). The card is
``data_cards/synthetic_fairvision.md``.

Patients, labels and cup-to-disc ratios (CDR) are drawn exactly as in the
SLO stand-in (:mod:`fairnb.data.synthetic`, same seed: same
demographics and labels); the SLO image is drawn the same way. Each B-scan
is a cross-section through the optic nerve head region: a curved inner
limiting membrane, a bright retinal nerve fibre layer (RNFL) whose
thickness falls as the CDR rises (glaucomatous thinning, the signal), the
inner retina, a bright retinal pigment epithelium, speckle noise.

The planted disparity is the :class:`~fairnb.data.synthetic.Bias` of the
SLO stand-in applied to both modalities for its group: the fundus gets its
disc contrast, darkening and noise; the B-scans get the layer contrast
(RNFL and RPE against the background) times ``contrast``, the whole scan
times ``darkening``, and speckle noise three times the image ``noise``
(0.105 outside the group; 0.18 inside it at the default). A synthetic
device, not a claim about real populations or devices.

Used in: 07_multifair.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from ..attributes import check_choice
from ..paths import resolve
from ._folders import (
    _check_target,
    _is_complete,
    _replace,
    _save_npz,
    _sibling,
)
from ._images import render_image, total_deviation
from .synthetic import DATA_PRESETS, Bias, _draw_table, cached_root

PRESET_SIZES: dict[str, int] = {"smoke": 300, "demo": 1200, "paper": 10000}
VERSION = 1
#: B-scans per volume and their size (depth x width) in the stand-in
N_SLICES, SCAN_SHAPE = 12, (64, 96)
#: speckle sigma per unit of the SLO image noise
NOISE_FACTOR = 3.0
#: written last: a folder with it (and synthetic.json) is complete
TRUTH = "synthetic_truth.csv"
_FOLDER = {"training": "train", "validation": "val", "test": "test"}


def rnfl_thickness(cdr: float) -> float:
    """Relative RNFL thickness of an eye with cup-to-disc ratio ``cdr``
    (1 at a CDR of 0.375; thinner as the cup widens).

    Examples
    --------
    >>> round(rnfl_thickness(0.42), 3), round(rnfl_thickness(0.68), 3)
    (0.946, 0.634)
    """
    return float(np.clip(1.45 - 1.2 * cdr, 0.2, 1.3))


def _band(y, top, bottom, edge: float = 0.006):
    """1 between depths ``top`` and ``bottom``, soft edges."""
    return (0.5 + 0.5 * np.tanh((y - top) / edge)) * (
        0.5 - 0.5 * np.tanh((y - bottom) / edge))


def render_bscans(rng: np.random.Generator, cdr: float, *,
                  n_slices: int = N_SLICES, shape=SCAN_SHAPE,
                  contrast: float = 1.0, darkening: float = 1.0,
                  noise: float = NOISE_FACTOR * 0.035) -> np.ndarray:
    """An OCT volume ``(n_slices, H, W)`` uint8 of an eye with ``cdr``.

    The RNFL of slice k, at lateral position x in [0, 1], is
    ``rnfl_thickness(cdr) * (0.35 + 0.65 * sin(pi (k + 1/2) / S)) *
    (1 + 0.6 g(x - 0.3) + 0.6 g(x - 0.7))`` times 14 % of the depth, with
    g a Gaussian bump of width 0.12 (thickest above and below the disc).
    ``rng`` draws the same numbers whatever the knobs.
    """
    h, w = shape
    y = np.arange(h, dtype=np.float32)[:, None] / h
    x = (np.arange(w, dtype=np.float32)[None, :] + 0.5) / w
    health = rnfl_thickness(cdr)
    bump = 1 + 0.6 * np.exp(-((x - 0.3) / 0.12) ** 2) \
        + 0.6 * np.exp(-((x - 0.7) / 0.12) ** 2)
    tilt, depth0 = rng.normal(0, 0.03), rng.uniform(0.2, 0.28)
    scans = np.empty((n_slices, h, w), np.uint8)
    for k in range(n_slices):
        along = 0.35 + 0.65 * np.sin(np.pi * (k + 0.5) / n_slices)
        ilm = depth0 + tilt * (x - 0.5) + 0.05 * (x - 0.5) ** 2
        rnfl = ilm + 0.14 * health * along * bump
        rpe = ilm + 0.38
        img = 0.06 + contrast * (0.62 * _band(y, ilm, rnfl)
                                 + 0.70 * _band(y, rpe, rpe + 0.035))
        img = img + 0.26 * _band(y, rnfl, rpe)
        speckle = rng.normal(0, noise, (h, w)).astype(np.float32)
        img = img * darkening * (1 + speckle) + 0.3 * noise * rng.normal(
            0, 1, (h, w))
        scans[k] = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    return scans


def _params(n: int, seed: int, bias: Bias) -> dict:
    from dataclasses import asdict
    return {"generator": __name__, "version": VERSION, "n": n, "seed": seed,
            "bias": asdict(bias), "n_slices": N_SLICES,
            "scan_shape": list(SCAN_SHAPE)}


def make_synthetic_oct(root: str | os.PathLike, *, n: int = 1200,
                       seed: int = 0, bias: Bias | None = None,
                       overwrite: bool = False) -> Path:
    """Write a synthetic Harvard-FairVision dataset of ``n`` samples
    (70/10/20 into train/val/test), atomically (a hidden sibling folder
    renamed at the end); the same ``seed`` gives identical files.
    ``bias`` None is the default :class:`~fairnb.data.synthetic.Bias`."""
    bias = Bias() if bias is None else bias
    root = resolve(root)
    if not 10 <= n <= 99999:
        raise ValueError(f"n must lie in [10, 99999], got {n}.")
    _check_target(root, overwrite)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(root, "tmp")
    params = _params(n, seed, bias)
    try:
        table = _draw_table(n, seed, bias)
        table["rnfl"] = [round(rnfl_thickness(c), 4) for c in table["cdr"]]
        for folder in _FOLDER.values():
            (tmp / folder).mkdir()
        for row in table.to_dict("records"):
            _write_sample(tmp, row, seed, bias)
        table["folder"] = table["split"].map(_FOLDER)
        table[["filename", "folder", "cdr", "rnfl", "bias_group"]].to_csv(
            tmp / TRUTH, index=False)
        (tmp / "synthetic.json").write_text(json.dumps(params, indent=2))
        _replace(tmp, root, params, TRUTH)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def _write_sample(root: Path, row: dict, seed: int, bias: Bias) -> None:
    rng = np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(row["index"] + 1, 0)))
    oct_rng = np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(row["index"] + 1, 2)))
    group = row["bias_group"]
    knobs = ({"contrast": bias.contrast, "darkening": bias.darkening,
              "noise": bias.noise} if group else {})
    oct_knobs = dict(knobs)
    if "noise" in oct_knobs:
        oct_knobs["noise"] = NOISE_FACTOR * bias.noise
    arrays = {"slo_fundus": render_image(rng, row["cdr"], **knobs),
              "oct_bscans": render_bscans(oct_rng, row["cdr"], **oct_knobs),
              "glaucoma": np.array(row["glaucoma"], np.int64),
              "race": np.array(row["race"], np.int64),
              "male": np.array(row["gender"], np.int64),
              "hispanic": np.array(row["ethnicity"], np.int64),
              "language": np.array(row["language"], np.int64),
              "maritalstatus": np.array(row["maritalstatus"], np.int64),
              "age": np.array(row["age"], np.float32),
              "md": np.array(row["md"], np.float32),
              "tds": total_deviation(rng, row["md"], row["glaucoma"])}
    _save_npz(root / _FOLDER[row["split"]] / row["filename"], arrays)


def ensure_synthetic_oct(preset: str = "demo", *, seed: int = 0,
                         bias: float = 1.0) -> Path:
    """Path of the cached SLO + OCT stand-in of ``preset``
    (``data_dir() / "synthetic-oct-<preset>-seed<seed>"``, ``-bias<level>``
    for another planted-disparity level), made on first use."""
    check_choice("preset", preset, [*PRESET_SIZES, *DATA_PRESETS])
    preset = DATA_PRESETS.get(preset, preset)
    planted = Bias.scaled(bias)
    root = cached_root("synthetic-oct", preset, seed=seed, bias=bias)
    params = _params(PRESET_SIZES[preset], seed, planted)
    if not _is_complete(root, params, TRUTH):
        make_synthetic_oct(root, n=PRESET_SIZES[preset], seed=seed,
                           bias=planted, overwrite=True)
    return root
