"""A synthetic stand-in for Harvard-FairVLMed, in its exact on-disk layout.

``make_synthetic`` writes ``Training/``, ``Validation/`` and ``Test/``
folders of ``data_NNNNN.npz`` files plus ``data_summary.csv``, so the one
reader in :mod:`fairnb.data.fairvlmed` serves real and synthetic data alike.
Two extra files record what the real data cannot tell: ``synthetic.json``
(generator version, size, seed, bias, note order) and
``synthetic_truth.csv`` (per file: drawn cup-to-disc ratio, bias-group
membership, whether the note is informative, whether its diagnosis was
flipped and whether it opens with the assessment or states it near the
end).

Images are SLO-like fundus drawings whose cup-to-disc ratio (CDR) follows the
label; notes are templated glaucoma-clinic notes. One group receives a
planted disparity (:class:`Bias`). For a fixed seed, datasets built with
different ``Bias`` values share demographics, labels, CDRs and image
geometry, so they differ only by the knobs.

Used in: 01_explore_data, 02_summarize_notes, 03_fairclip.
"""
from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..attributes import ATTRIBUTES, check_choice, name_to_code
from ..paths import data_dir, resolve
from ._clinic_notes import write_note
from ._folders import (
    _check_target,
    _default_workers,
    _is_complete,
    _replace,
    _save_npz,
    _sibling,
)
from ._images import BASE_NOISE, render_image, total_deviation

PRESET_SIZES: dict[str, int] = {"smoke": 300, "demo": 2000, "paper": 10000}
#: presets that read another preset's data (one cached folder serves both)
DATA_PRESETS: dict[str, str] = {"workshop": "demo"}
#: Largest :meth:`Bias.scaled` level: the bias group's notes then never
#: state the diagnosis (0.05 + 2.375 x 0.40 = 1); its disc contrast is 0.05.
MAX_BIAS_LEVEL = 2.375
_SPLITS = (("Training", "training", 0.7), ("Validation", "validation", 0.1),
          ("Test", "test", 0.2))
VERSION = 5
#: Rates every group outside the bias group gets (image noise: BASE_NOISE).
BASE_UNINFORMATIVE, BASE_LABEL_NOISE = 0.05, 0.03
#: Share of informative notes that open with the assessment; the others
#: follow SOAP order and state the diagnosis near the end, where notes cut
#: to 180 characters lose it (every group alike).
ASSESSMENT_FIRST = 0.5
#: Group shares reported in the FairCLIP paper (Luo et al., CVPR 2024).
SHARES = {
    "race": {"Asian": .082, "Black": .149, "White": .769},
    "gender": {"Female": .563, "Male": .437},
    "ethnicity": {"Non-Hispanic": .906, "Hispanic": .040, "Unknown": .054},
    "language": {"English": .925, "Spanish": .017, "Other": .008,
                 "Unknown": .050},
    "maritalstatus": {"Married/Partnered": .574, "Single": .264,
                      "Divorced": .066, "Widowed": .061,
                      "Legally Separated": .010, "Unknown": .025},
}


@dataclass(frozen=True)
class Bias:
    """A planted, documented disparity for one group.

    This is a purely synthetic device to give fairness methods a gap to
    assess; it makes no claim about real populations or real images. The
    defaults are those that gave a clear, stable gap for a tiny CLIP
    (shared/research/feasibility.md §1, §6).

    Parameters
    ----------
    attribute, group : str
        Who receives the knobs, e.g. ``"race"`` and ``"Black"``.
    contrast : float
        Multiplier on optic disc and cup brightness (1 = none).
    darkening : float
        Multiplier on the whole image, pigment-like (1 = none).
    noise : float
        Image noise sigma (intensities in [0, 1]); others get 0.035.
    uninformative_notes : float
        Probability a note omits diagnosis and CDR; others 0.05.
    label_noise : float
        Probability an informative note states the wrong diagnosis
        (the ``glaucoma`` label is unchanged); others 0.03.
    """

    attribute: str = "race"
    group: str = "Black"
    contrast: float = 0.6
    darkening: float = 0.8
    noise: float = 0.06
    uninformative_notes: float = 0.45
    label_noise: float = 0.15

    def __post_init__(self):
        name_to_code(self.attribute, self.group)  # checks both
        for name, low, high in (("contrast", 0, 2), ("darkening", 0, 2),
                                ("noise", 0, 0.5),
                                ("uninformative_notes", 0, 1),
                                ("label_noise", 0, 1)):
            if not low <= getattr(self, name) <= high:
                raise ValueError(f"Bias.{name} must lie in [{low}, {high}],"
                                 f" got {getattr(self, name)!r}.")

    @classmethod
    def none(cls, attribute: str = "race", group: str = "Black") -> Bias:
        """No planted disparity: the group gets the base rates."""
        return cls(attribute, group, 1.0, 1.0, BASE_NOISE,
                   BASE_UNINFORMATIVE, BASE_LABEL_NOISE)

    @classmethod
    def scaled(cls, level: float, attribute: str = "race",
               group: str = "Black") -> Bias:
        """The default disparity at strength ``level``: every knob moved
        ``level`` times as far from the base rates as the default moves it
        (0 = :meth:`none`, 1 = the default, 2 = twice as far), so a grid
        over levels plants gaps of known, ordered size. ``level`` lies in
        [0, :data:`MAX_BIAS_LEVEL`] (2.375: at the top, the group's notes
        never state the diagnosis).

        Examples
        --------
        >>> Bias.scaled(0) == Bias.none() and Bias.scaled(1) == Bias()
        True
        >>> round(Bias.scaled(2).uninformative_notes, 2)
        0.85
        """
        if not 0 <= level <= MAX_BIAS_LEVEL:
            raise ValueError(f"Bias level must lie in [0, {MAX_BIAS_LEVEL}]"
                             f" (0 none, 1 the default, 2 twice as strong); "
                             f"got {level!r}.")
        base, full = cls.none(attribute, group), cls(attribute, group)
        knobs = {k: round(getattr(base, k) + level * (getattr(full, k)
                                                      - getattr(base, k)), 6)
                 for k in ("contrast", "darkening", "noise",
                           "uninformative_notes", "label_noise")}
        return cls(attribute, group, **knobs)

    @property
    def code(self) -> int:
        """Integer code of :attr:`group` in the attribute schema."""
        return name_to_code(self.attribute, self.group)


def describe_bias(bias: Bias) -> str:
    """One paragraph describing ``bias`` for data cards and notebooks.

    Examples
    --------
    >>> describe_bias(Bias.none())[:24]
    'No planted disparity: ev'

    Used in: data cards, 01_explore_data.
    """
    same = ("Glaucoma prevalence and cup-to-disc ratios are drawn the same "
            "way in every group")
    if bias == Bias.none(bias.attribute, bias.group):
        return (f"No planted disparity: every group gets the same image "
                f"contrast and noise (sigma {BASE_NOISE}) and the same note "
                f"quality (uninformative {BASE_UNINFORMATIVE:.0%}, wrong "
                f"diagnosis {BASE_LABEL_NOISE:.0%}). {same}.")
    return (f"Planted disparity for {bias.attribute} = {bias.group} (a "
            f"synthetic device, not a claim about real populations): optic "
            f"disc and cup contrast x{bias.contrast:g}, whole image "
            f"x{bias.darkening:g}, image noise sigma {bias.noise:g} instead "
            f"of {BASE_NOISE:g}; notes omit the diagnosis with probability "
            f"{bias.uninformative_notes:.0%} (others "
            f"{BASE_UNINFORMATIVE:.0%}) and state the wrong one with "
            f"probability {bias.label_noise:.0%} (others "
            f"{BASE_LABEL_NOISE:.0%}). {same}, so any gap a model shows "
            f"comes from these knobs.")


def make_synthetic(root: str | os.PathLike, *, n: int = 2000, seed: int = 0,
                   bias: Bias = Bias(),
                   assessment_first: float = ASSESSMENT_FIRST,
                   overwrite: bool = False,
                   workers: int | None = None) -> Path:
    """Write a synthetic Harvard-FairVLMed dataset of ``n`` samples.

    Files are generated in a hidden sibling folder that is renamed to
    ``root`` at the end, so an interrupted run never leaves a dataset that
    looks complete. The same ``seed`` gives byte-identical files.

    Parameters
    ----------
    root : path
        Dataset folder to create; relative paths resolve against the
        repository root.
    n : int
        Number of samples (10 to 99999), split 70/10/20 into
        Training/Validation/Test and numbered ``data_00001.npz`` on.
    seed : int
        Seed of every random draw.
    bias : Bias
        Planted disparity; ``Bias.none()`` for none.
    assessment_first : float
        Share of informative notes that state the diagnosis in their first
        sentence (1.0: all, the layout of generator version 4); the others
        state it in an assessment near the end, as SOAP-order clinic notes
        do, so summarizing them beats cutting them at 180 characters.
    overwrite : bool
        Replace an existing synthetic dataset at ``root``. Without it an
        existing ``root`` raises ``FileExistsError``; folders that are
        neither empty nor synthetic datasets are never replaced.
    workers : int, optional
        Processes rendering images (default: up to 4, one per usable
        CPU); the output does not depend on it.

    Returns
    -------
    Path
        ``root``, resolved.

    Used in: ensure_synthetic; notebooks that want a custom ``Bias``.
    """
    root = resolve(root)
    if not 10 <= n <= 99999:
        raise ValueError(f"n must lie in [10, 99999], got {n}.")
    if not 0 <= assessment_first <= 1:
        raise ValueError(f"assessment_first must lie in [0, 1], got "
                         f"{assessment_first!r}.")
    _check_target(root, overwrite)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(root, "tmp")
    params = _params(n, seed, bias, assessment_first)
    try:
        table = _draw_table(n, seed, bias, assessment_first)
        _draw_notes(table, seed)
        _write_all(tmp, table, seed, bias, workers or _default_workers())
        (tmp / "synthetic.json").write_text(json.dumps(params, indent=2))
        _replace(tmp, root, params)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def ensure_synthetic(preset: str = "demo", *, seed: int = 0,
                     bias: float = 1.0) -> Path:
    """Path of the cached synthetic dataset of ``preset``, made on first use.

    The dataset lives in ``fairnb.paths.data_dir() /
    "synthetic-<preset>-seed<seed>"`` (``FAIRNB_DATA_DIR`` moves it) with
    the default :class:`Bias`; another ``bias`` level
    (:meth:`Bias.scaled`: 0 none, 1 the default, 2 twice as strong) lives
    in ``...-bias<level>``, with the same samples but for the knobs. A
    finished dataset with the same generator version and parameters is
    reused; otherwise it is (re)generated.

    Examples
    --------
    >>> ensure_synthetic("smok")
    Traceback (most recent call last):
    ...
    ValueError: Unknown preset 'smok'. Valid choices: smoke, demo, \
paper, workshop. Did you mean 'smoke'?

    Used in: 01_explore_data, 02_summarize_notes, 03_fairclip.
    """
    check_choice("preset", preset, [*PRESET_SIZES, *DATA_PRESETS])
    preset = DATA_PRESETS.get(preset, preset)
    planted = Bias.scaled(bias)
    root = cached_root("synthetic", preset, seed=seed, bias=bias)
    params = _params(PRESET_SIZES[preset], seed, planted)
    if not _is_complete(root, params):
        make_synthetic(root, n=PRESET_SIZES[preset], seed=seed,
                       bias=planted, overwrite=True)
    return root


# Folders ---------------------------------------------------------------------
def cached_root(name: str, preset: str, *, seed: int, bias: float) -> Path:
    """``data_dir() / "<name>-<preset>-seed<seed>"``, with ``-bias<level>``
    for a planted-disparity level other than the default 1.

    Examples
    --------
    >>> cached_root("synthetic", "demo", seed=0, bias=2).name
    'synthetic-demo-seed0-bias2'
    """
    suffix = "" if float(bias) == 1.0 else f"-bias{float(bias):g}"
    return data_dir() / f"{name}-{preset}-seed{seed}{suffix}"


def _params(n: int, seed: int, bias: Bias,
            assessment_first: float = ASSESSMENT_FIRST) -> dict:
    return {"generator": __name__, "version": VERSION, "n": n,
            "seed": seed, "bias": asdict(bias),
            "assessment_first": assessment_first}


# Tables and files ------------------------------------------------------------
def _draw_table(n: int, seed: int, bias: Bias,
                assessment_first: float = ASSESSMENT_FIRST) -> pd.DataFrame:
    """Demographics, labels and per-sample knobs, without images or notes."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    t = pd.DataFrame({"index": np.arange(n)})
    t["filename"] = [f"data_{i + 1:05d}.npz" for i in range(n)]
    sizes = [round(f * n) for _, _, f in _SPLITS[:-1]]
    sizes.append(n - sum(sizes))
    t["folder"] = np.repeat([s[0] for s in _SPLITS], sizes)
    t["split"] = np.repeat([s[1] for s in _SPLITS], sizes)
    t["age"] = np.clip(rng.normal(60.9, 16.2, n), 18, 95).round(2)
    for a, shares in SHARES.items():
        codes = [name_to_code(a, g) for g in shares]
        p = np.array(list(shares.values()))
        t[a] = rng.choice(codes, size=n, p=p / p.sum()).astype(np.int64)
    t["glaucoma"] = (rng.random(n) < 0.5).astype(np.int64)
    t["cdr"] = np.clip(rng.normal(np.where(t.glaucoma, .68, .42), .09),
                       .15, .92).round(3)
    # Worse visual fields with glaucoma and with larger cups.
    sick = -0.5 - rng.gamma(2.0, 2.5, n) - 10 * (t.cdr - 0.68)
    t["md"] = np.clip(np.where(t.glaucoma, sick, rng.normal(-0.6, 1.6, n)),
                      -32, 3).round(2)
    group = (t[bias.attribute] == bias.code).to_numpy()
    # Uniforms are drawn for everyone, so changing the bias changes no
    # other draw.
    u_info, u_flip, u_order = rng.random(n), rng.random(n), rng.random(n)
    t["bias_group"] = group
    t["note_informative"] = u_info >= np.where(
        group, bias.uninformative_notes, BASE_UNINFORMATIVE)
    t["note_flipped"] = t.note_informative & (u_flip < np.where(
        group, bias.label_noise, BASE_LABEL_NOISE))
    t["note_assessment_first"] = t.note_informative & (
        u_order < assessment_first)
    return t


def _draw_notes(table: pd.DataFrame, seed: int) -> None:
    notes = [write_note(np.random.default_rng(np.random.SeedSequence(
        seed, spawn_key=(row["index"] + 1, 1))), row)
        for row in table.to_dict("records")]
    table["note"], table["note_extra"] = zip(*notes)


def _write_all(tmp: Path, table: pd.DataFrame, seed: int, bias: Bias,
               workers: int) -> None:
    for folder, _, _ in _SPLITS:
        (tmp / folder).mkdir()
    rows = table.to_dict("records")
    if workers <= 1 or len(rows) < 200:
        _write_samples(str(tmp), rows, seed, bias)
    else:
        chunks = [rows[i::workers * 4] for i in range(workers * 4)]
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_write_samples, [str(tmp)] * len(chunks), chunks,
                          [seed] * len(chunks), [bias] * len(chunks)))
    meta = ["filename", "split", "age", *ATTRIBUTES, "glaucoma", "md",
            "note"]
    truth = ["filename", "cdr", "bias_group", "note_informative",
             "note_flipped", "note_assessment_first"]
    table[truth].to_csv(tmp / "synthetic_truth.csv", index=False)
    table[meta].to_csv(tmp / "data_summary.csv", index=False)


def _write_samples(root: str, rows: list[dict], seed: int, bias: Bias
                   ) -> None:
    """Render and save the npz files of ``rows`` (one worker's share)."""
    for row in rows:
        rng = np.random.default_rng(
            np.random.SeedSequence(seed, spawn_key=(row["index"] + 1, 0)))
        knobs = ({"contrast": bias.contrast, "darkening": bias.darkening,
                  "noise": bias.noise} if row["bias_group"] else {})
        arrays = {"slo_fundus": render_image(rng, row["cdr"], **knobs),
                  "md": np.array(row["md"], np.float32),
                  "tds": total_deviation(rng, row["md"], row["glaucoma"]),
                  "age": np.array(row["age"], np.float32)}
        arrays.update({a: np.array(row[a], np.int64)
                       for a in (*ATTRIBUTES, "glaucoma")})
        arrays["note"] = np.array(row["note"])
        arrays["note_extra"] = np.array(row["note_extra"])
        _save_npz(Path(root, row["folder"], row["filename"]), arrays)
