"""Tensors for training: a preprocessed image cache and splits held in
memory (the group-aware sampler lives in :mod:`fairnb.data.sampler`).

Decoding an npz and resizing it with PIL costs about 4 ms an image, every
epoch. Here each split is preprocessed once, at model resolution, into a
uint8 tensor cached on disk; a batch is then plain tensor indexing.

Used in: 03_fairclip, 05_linear_probe.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, fields, replace
from itertools import repeat
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from ..attributes import ATTRIBUTES, check_attribute
from ..checkpoints import save_checkpoint
from ..notes import truncate_note
from ..paths import data_dir
from .sampler import (
    GroupBatchSampler,
    MultiGroupBatchSampler,
    PlainBatchSampler,
    make_sampler,
)

__all__ = ["Batch", "GroupBatchSampler", "MultiGroupBatchSampler",
           "PlainBatchSampler", "SplitData", "cache_images", "make_sampler",
           "load_split", "preprocess_image", "to_model_input"]

CACHE_VERSION = 1
_CHUNK = 64  # images per worker task
_WORKER_DATASET = None  # set in each worker process by _init_worker


def preprocess_image(image: np.ndarray, *, image_size: int) -> np.ndarray:
    """Resize the shorter side to ``image_size`` (bicubic), centre-crop.

    The geometry of ``open_clip.image_transform(image_size,
    is_train=False)``, keeping the grayscale image as one channel.

    Parameters
    ----------
    image : numpy.ndarray of uint8, shape (H, W)
    image_size : int

    Returns
    -------
    numpy.ndarray of uint8, shape (image_size, image_size)
    """
    image = np.asarray(image)
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"Expected a 2-D uint8 image, got {image.dtype} "
                         f"{image.shape}; FairVLMed.load_image gives one.")
    h, w = image.shape
    # Sizes and offsets rounded exactly as torchvision's Resize/CenterCrop.
    long = int(image_size * max(h, w) / min(h, w))
    new_w, new_h = (image_size, long) if w <= h else (long, image_size)
    pil = Image.fromarray(image)
    if (new_w, new_h) != (w, h):
        pil = pil.resize((new_w, new_h), Image.BICUBIC)
    top = int(round((new_h - image_size) / 2.0))
    left = int(round((new_w - image_size) / 2.0))
    return np.asarray(pil)[top:top + image_size, left:left + image_size]


def _init_worker(ds) -> None:
    global _WORKER_DATASET
    _WORKER_DATASET = ds


def _preprocess_ids(ids, image_size, ds=None) -> np.ndarray:
    ds = ds if ds is not None else _WORKER_DATASET
    return np.stack([preprocess_image(ds.load_image(i), image_size=image_size)
                     for i in ids])


def _default_workers() -> int:
    # The CPUs this process may use, which containers often limit.
    cpus = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1)
    return min(4, cpus)


def _cache_key(ds, split: str, image_size: int) -> str:
    files = [(p.name, s.st_size, s.st_mtime_ns)
             for p in ds.files(split) for s in [p.stat()]]
    blob = json.dumps([CACHE_VERSION, str(ds.root), split, image_size, files])
    return hashlib.sha256(blob.encode()).hexdigest()


def _build(ds, ids, split: str, image_size: int, workers: int):
    out = np.empty((len(ids), 1, image_size, image_size), np.uint8)
    chunks = [ids[i:i + _CHUNK] for i in range(0, len(ids), _CHUNK)]
    with ExitStack() as stack:
        bar = stack.enter_context(tqdm(total=len(ids), unit="img",
                                       desc=f"caching {split} images"))
        if workers > 1 and len(chunks) > 1:
            pool = stack.enter_context(ProcessPoolExecutor(
                workers, initializer=_init_worker, initargs=(ds,)))
            done = pool.map(_preprocess_ids, chunks, repeat(image_size))
        else:
            done = (_preprocess_ids(c, image_size, ds) for c in chunks)
        for k, images in enumerate(done):
            out[k * _CHUNK:k * _CHUNK + len(images), 0] = images
            bar.update(len(images))
    return torch.from_numpy(out)


def cache_images(ds, split: str, *, image_size: int, cache_dir=None,
                 workers: int | None = None
                 ) -> tuple[list[str], torch.Tensor]:
    """Images of a split preprocessed once, cached as a uint8 tensor.

    One file per dataset, split and size in ``cache_dir`` (default
    ``fairnb.paths.data_dir() / "cache"``), keyed by the dataset folder,
    split, size and every npz file's name, size and mtime: any change
    rebuilds it in place.

    Parameters
    ----------
    ds : fairnb.data.FairVLMed
    split : {"train", "val", "test"}
    image_size : int
        Model resolution (:func:`preprocess_image`).
    cache_dir : path, optional
    workers : int, optional
        Processes decoding on a rebuild; default one per CPU, at most 4
        (two build 1.9x faster than one on 2 cores).

    Returns
    -------
    ids : list of str
        In ``ds.metadata(split)`` order.
    images : torch.Tensor of uint8, shape (N, 1, image_size, image_size)
    """
    if int(image_size) != image_size or image_size < 1:
        raise ValueError(f"image_size must be a positive int, got "
                         f"{image_size!r}.")
    ids = ds.metadata(split)["id"].tolist()
    images = _cached(ds, split, f"{image_size}px", ids,
                     _cache_key(ds, split, image_size),
                     lambda: _build(ds, ids, split, image_size,
                                    workers or _default_workers()),
                     cache_dir)
    return ids, images


def _cached(ds, split: str, what: str, ids: list[str], key: str, build,
            cache_dir) -> torch.Tensor:
    """The tensor cached for ``ds``'s ``split`` under ``what`` (a file
    per dataset folder, split and ``what``), rebuilt by ``build()`` when
    the file is missing, damaged or of another ``key`` or ``ids``."""
    tag = hashlib.sha256(str(ds.root).encode()).hexdigest()[:8]
    folder = Path(cache_dir) if cache_dir else data_dir() / "cache"
    path = folder / f"{ds.root.name}-{split}-{what}-{tag}.pt"
    if path.is_file():
        try:
            saved = torch.load(path, weights_only=True)
            if saved["key"] == key and saved["ids"] == ids:
                return saved["tensor" if "tensor" in saved else "images"]
        except Exception as exc:  # a damaged cache is rebuilt, not fatal
            warnings.warn(f"Rebuilding unreadable cache {path}: {exc}",
                          stacklevel=3)
    tensor = build()
    save_checkpoint(path, {"key": key, "ids": ids, "tensor": tensor})
    return tensor


@dataclass
class Batch:
    """Tensors of one batch; ``attributes`` columns follow ``ATTRIBUTES``."""

    index: torch.Tensor       # int64 (B,)
    images: torch.Tensor      # uint8 (B, 1, S, S)
    tokens: torch.Tensor      # int64 (B, T)
    labels: torch.Tensor      # int64 (B,)
    attributes: torch.Tensor  # int64 (B, len(ATTRIBUTES)), -1 = Unknown
    volumes: torch.Tensor | None = None  # uint8 (B, K, S, S): OCT B-scans

    def to(self, device) -> Batch:
        """A copy with every tensor on ``device``."""
        return Batch(*(None if getattr(self, f.name) is None else
                       getattr(self, f.name).to(device)
                       for f in fields(self)))


@dataclass(repr=False)
class SplitData:
    """One split in memory, rows in ``ds.metadata(split)`` order."""

    ids: list[str]
    texts: list[str]
    images: torch.Tensor      # uint8 (N, 1, S, S)
    tokens: torch.Tensor      # int64 (N, T)
    labels: torch.Tensor      # int64 (N,)
    attributes: torch.Tensor  # int64 (N, len(ATTRIBUTES))
    split: str
    volumes: torch.Tensor | None = None  # uint8 (N, K, S, S): OCT B-scans
    condition: str = "source"  # acquisition condition (fairnb.data.shift)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        shift = "" if self.condition == "source" else \
            f"condition={self.condition!r}, "
        return (f"SplitData(split={self.split!r}, n={len(self)}, {shift}"
                f"image_size={self.images.shape[-1]}, "
                f"context_length={self.tokens.shape[-1]})")

    def batch(self, index) -> Batch:
        """The rows at ``index`` (integer positions)."""
        index = torch.as_tensor(np.asarray(index), dtype=torch.long)
        # index_select: ~100x faster than fancy indexing on CPU here.
        return Batch(index, *(None if t is None else t.index_select(0, index)
                              for t in (self.images, self.tokens, self.labels,
                                        self.attributes, self.volumes)))

    def subset(self, index) -> SplitData:
        """The rows at ``index`` (integer positions) as a split of their
        own (scoring a slice per process, :mod:`fairnb.distributed`)."""
        index = np.asarray(index, dtype=np.int64)
        rows = torch.as_tensor(index)
        return replace(self, ids=[self.ids[i] for i in index],
                       texts=[self.texts[i] for i in index],
                       **{k: None if getattr(self, k) is None else
                          getattr(self, k).index_select(0, rows)
                          for k in ("images", "tokens", "labels",
                                    "attributes", "volumes")})

    def groups(self, attribute: str) -> np.ndarray:
        """Codes of ``attribute`` (int64, -1 = Unknown), one per row."""
        column = ATTRIBUTES.index(check_attribute(attribute))
        return self.attributes[:, column].numpy().copy()


def slice_positions(n_volume: int, n_slices: int) -> np.ndarray:
    """Indices of ``n_slices`` B-scans spread evenly over a volume of
    ``n_volume`` (both ends included, as MultiFair's released code samples
    them).

    Examples
    --------
    >>> slice_positions(200, 5).tolist()
    [0, 49, 99, 149, 199]
    """
    if n_slices < 1:
        raise ValueError(f"n_slices must be >= 1, got {n_slices}.")
    return np.linspace(0, n_volume - 1, n_slices).astype(int)


def preprocess_volume(volume: np.ndarray, *, image_size: int,
                      n_slices: int) -> np.ndarray:
    """``n_slices`` evenly spaced B-scans of a uint8 volume ``(S, H, W)``,
    each resized to ``image_size`` squared (bilinear, no crop: a B-scan's
    edges hold retina too) -> ``(n_slices, image_size, image_size)``."""
    volume = np.asarray(volume)
    if volume.ndim != 3 or volume.dtype != np.uint8:
        raise ValueError(f"Expected a uint8 volume (slices, H, W), got "
                         f"{volume.dtype} {volume.shape}.")
    picks = slice_positions(len(volume), n_slices)
    return np.stack([np.asarray(Image.fromarray(volume[k]).resize(
        (image_size, image_size), Image.BILINEAR)) for k in picks])


def cache_volumes(ds, split: str, *, image_size: int, n_slices: int,
                  cache_dir=None) -> torch.Tensor:
    """OCT volumes of a split (``ds.load_volume``), preprocessed once by
    :func:`preprocess_volume` and cached like :func:`cache_images`:
    uint8 ``(N, n_slices, image_size, image_size)`` in
    ``ds.metadata(split)`` order."""
    ids = ds.metadata(split)["id"].tolist()
    return _cached(
        ds, split, f"oct{n_slices}x{image_size}px", ids,
        _cache_key(ds, split, image_size) + f"-oct{n_slices}",
        lambda: torch.from_numpy(np.stack([preprocess_volume(
            ds.load_volume(i), image_size=image_size, n_slices=n_slices)
            for i in tqdm(ids, desc=f"caching {split} volumes",
                          unit="vol")])), cache_dir)


def default_texts(meta, *, max_chars: int | None = 180) -> list[str]:
    """The text of each row of ``ds.metadata(split)``: the summary where
    there is one, else the note, cut to ``max_chars`` by
    :func:`fairnb.notes.truncate_note` (None: whole)."""
    texts = [s if isinstance(s, str) and s else n
             for s, n in zip(meta["summary"], meta["note"])]
    if max_chars is not None:
        texts = [truncate_note(t, max_chars=max_chars) for t in texts]
    return texts


def load_split(ds, split: str, *, image_size: int, tokenizer,
               texts: list[str] | None = None, max_chars: int | None = 180,
               cache_dir=None, workers: int | None = None,
               n_slices: int = 0, condition: str = "source") -> SplitData:
    """Cached images, tokenised texts, labels and attributes of a split.

    Parameters
    ----------
    ds : fairnb.data.FairVLMed
    split : {"train", "val", "test"}
    image_size : int
    tokenizer : callable
        An open_clip tokenizer: list of str -> int64 tensor (n, T).
    texts : list of str, optional
        One per row. Default: the summary where there is one, else the
        note, cut to ``max_chars`` by :func:`fairnb.notes.truncate_note`
        (the official code cuts summaries too; METHODS.md §0.2).
    max_chars : int or None
        None keeps default texts whole (the tokenizer cuts at T tokens).
    cache_dir, workers
        See :func:`cache_images`.
    n_slices : int
        With a dataset that has OCT volumes (``ds.load_volume``,
        :class:`fairnb.data.fairvision.FairVision`), this many B-scans
        per sample (:func:`cache_volumes`) in ``volumes``; 0: none.
    condition : str
        The acquisition condition of the images
        (:func:`fairnb.data.shift.apply_condition`; ``"source"``: as
        stored), applied after the cache.
    """
    from .shift import apply_condition, check_condition
    check_condition(condition)
    if n_slices and not hasattr(ds, "load_volume"):
        raise ValueError(
            f"n_slices={n_slices} asks for OCT B-scans, but {ds!r} has no "
            "volumes; read a Harvard-FairVision folder "
            "(fairnb.data.fairvision.read_fairvision) or pass n_slices=0.")
    meta = ds.metadata(split)
    if texts is None:
        texts = default_texts(meta, max_chars=max_chars)
    elif len(texts) != len(meta):
        raise ValueError(f"texts has {len(texts)} entries; the {split} "
                         f"split has {len(meta)} samples. Pass one each.")
    ids, images = cache_images(ds, split, image_size=image_size,
                               cache_dir=cache_dir, workers=workers)
    images = apply_condition(images, condition, ids=ids)
    return SplitData(
        ids=ids, texts=list(texts), images=images,
        tokens=torch.as_tensor(tokenizer(list(texts)), dtype=torch.long),
        labels=torch.tensor(meta["label"].to_numpy(np.int64)),
        attributes=torch.tensor(meta[list(ATTRIBUTES)].to_numpy(np.int64)),
        split=split, volumes=cache_volumes(
            ds, split, image_size=image_size, n_slices=n_slices,
            cache_dir=cache_dir) if n_slices else None, condition=condition)


def to_model_input(images: torch.Tensor, *, mean, std, device=None,
                   dtype=torch.float32) -> torch.Tensor:
    r"""uint8 images (B, 1, S, S) to normalised model input (B, 3, S, S).

    .. math:: x_c = (u / 255 - \mu_c) / \sigma_c, \quad c = 1, 2, 3

    ``mean``, ``std``: the model's (3 floats each). The uint8 tensor moves
    to ``device`` (default: where it is) before conversion to ``dtype``.
    """
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError(f"Expected uint8 images (B, 1, S, S), got "
                         f"{images.dtype} {tuple(images.shape)}.")
    images = images.to(device) if device is not None else images
    std = torch.as_tensor(std, dtype=torch.float64).view(1, -1, 1, 1)
    mean = torch.as_tensor(mean, dtype=torch.float64).view(1, -1, 1, 1)
    scale = (1 / (255 * std)).to(images.device, dtype)
    return torch.addcmul((-mean / std).to(images.device, dtype),
                         images.to(dtype), scale)

