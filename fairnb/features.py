"""Frozen features of a split for probing: from any fairnb or open_clip
CLIP model, or from a local BLIP-2 folder (Hugging Face transformers).

- CLIP: ``image`` = the L2-normalised image embedding; ``multimodal`` =
  image and note embeddings side by side (the paper's image+text probe).
- BLIP-2 (``Blip2Model`` from a folder saved with ``save_pretrained``,
  with its image processor): ``image`` = the vision tower's pooled output;
  ``multimodal`` = the Q-Former's query outputs (averaged over the query
  tokens) beside the vision pooled output. The Q-Former of
  ``Blip2Model`` reads the image only, so these are image-conditioned
  query features, BLIP-2's bridge to its language model; the note does
  not enter them.

Used in: 05_linear_probe.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FEATURE_KINDS = ("image", "multimodal")
BACKBONE_FAMILIES = ("clip", "blip2")


@dataclass(frozen=True)
class FeatureSet:
    """Features of one split: ``X`` (n, d) float32, labels, attribute
    codes (-1 Unknown) and sample ids."""

    X: np.ndarray
    y_true: np.ndarray
    attributes: dict[str, np.ndarray]
    ids: np.ndarray
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.y_true)


def _split_labels(data):
    from .attributes import ATTRIBUTES
    attrs = data.attributes.numpy()
    return (data.labels.numpy().astype(np.int64),
            {a: attrs[:, i].astype(np.int64)
             for i, a in enumerate(ATTRIBUTES)},
            np.asarray(data.ids))


def clip_features(bundle, data, *, kind: str = "image",
                  device: str = "auto") -> FeatureSet:
    """Features of a split (``fairnb.load_split``) from a CLIP bundle."""
    from .attributes import check_choice
    from .evaluate import embed
    check_choice("features", kind, FEATURE_KINDS)
    img, txt = embed(bundle, data, device=device)
    X = img if kind == "image" else np.concatenate([img, txt], axis=1)
    y, attrs, ids = _split_labels(data)
    return FeatureSet(np.asarray(X, np.float32), y, attrs, ids,
                      {"family": "clip", "kind": kind,
                       "model": bundle.name})


def load_blip2(folder: str | Path):
    """``(model, image_processor)`` of a local BLIP-2 folder; downloads
    are never attempted."""
    from transformers import AutoImageProcessor, Blip2Model

    folder = Path(folder).expanduser()
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"{folder} is not a saved BLIP-2 model (no config.json). Pass a "
            "folder written by Blip2Model.save_pretrained (with its image "
            "processor), e.g. a local copy of Salesforce/blip2-opt-2.7b.")
    model = Blip2Model.from_pretrained(str(folder), local_files_only=True)
    processor = AutoImageProcessor.from_pretrained(str(folder),
                                                   local_files_only=True)
    return model.eval(), processor


def blip2_features(model, processor, dataset, split: str, *,
                   kind: str = "image", device: str = "auto",
                   batch_size: int = 32) -> FeatureSet:
    """Features of ``split`` of ``dataset`` from a BLIP-2 model: full-size
    images prepared by BLIP-2's own image processor (grey fundus copied to
    RGB)."""
    import torch
    from PIL import Image

    from .attributes import check_choice
    from .devices import resolve_device
    check_choice("features", kind, FEATURE_KINDS)
    dev = resolve_device(device)
    model = model.to(dev)
    out = []
    meta = dataset.metadata(split)
    ids = meta["id"].tolist()
    with torch.no_grad():
        for start in range(0, len(ids), batch_size):
            images = [Image.fromarray(dataset.load_image(i)).convert("RGB")
                      for i in ids[start:start + batch_size]]
            px = processor(images=images, return_tensors="pt")[
                "pixel_values"].to(dev)
            vision = model.get_image_features(pixel_values=px)
            pooled = getattr(vision, "pooler_output", vision)
            parts = [pooled]
            if kind == "multimodal":
                q = model.get_qformer_features(pixel_values=px)
                q = getattr(q, "last_hidden_state", q)
                parts.append(q.mean(dim=1))
            out.append(torch.cat(parts, dim=1).float().cpu().numpy())
    from .attributes import ATTRIBUTES
    return FeatureSet(np.concatenate(out).astype(np.float32),
                      meta["label"].to_numpy(np.int64),
                      {a: meta[a].to_numpy(np.int64) for a in ATTRIBUTES},
                      np.asarray(ids), {"family": "blip2", "kind": kind})


def clip_backbone(*, run: str = "", model: str = "", pretrained: str = "",
                  seed: int = 0):
    """``(bundle, source)``: ``model`` (+ ``pretrained``: a tag or a
    file) when ``model`` is set, else the weights a 03 run selected
    (``checkpoints/best.pt`` of ``run``, the latest 03 run when empty)
    with the model its ``params.json`` names."""
    import json

    from .models import create_model
    from .runs import resolve_run
    if model:
        return (create_model(model, pretrained=pretrained or None,
                             seed=seed),
                f"{model} ({pretrained or 'random init'})")
    folder = resolve_run(run, "03_fairclip")
    best = folder / "checkpoints" / "best.pt"
    if not best.is_file():
        raise FileNotFoundError(
            f"{folder.name} kept no checkpoints/best.pt (its keep was "
            f"{json.loads((folder / 'params.json').read_text()).get('keep')!r}"
            "). Re-run 03 with -p keep best, or probe a model directly "
            "with -p model <name> -p pretrained <tag or file>.")
    name = json.loads((folder / "params.json").read_text())["model"]
    return create_model(name, pretrained=str(best)), f"{folder.name} " \
        f"({name}, selected epoch)"


def split_features(family: str, *, dataset, kind: str = "image",
                   run: str = "", model: str = "", pretrained: str = "",
                   seed: int = 0, device: str = "auto"):
    """``(features, clip, source)``: the :class:`FeatureSet` of each
    split (``train``, ``val``, ``test``) from a CLIP backbone
    (:func:`clip_backbone`) or a BLIP-2 folder (``pretrained``); ``clip``
    is ``(bundle, splits)`` for zero-shot scoring (None for BLIP-2)."""
    from .attributes import check_choice
    from .data.torch import load_split
    check_choice("backbone_family", family, BACKBONE_FAMILIES)
    splits = ("train", "val", "test")
    if family == "blip2":
        net, processor = load_blip2(pretrained)
        return ({s: blip2_features(net, processor, dataset, s, kind=kind,
                                   device=device) for s in splits},
                None, f"BLIP-2 {pretrained}")
    bundle, source = clip_backbone(run=run, model=model,
                                   pretrained=pretrained, seed=seed)
    data = {s: load_split(dataset, s, image_size=bundle.image_size,
                          tokenizer=bundle.tokenizer) for s in splits}
    feats = {s: clip_features(bundle, d, kind=kind, device=device)
             for s, d in data.items()}
    return feats, (bundle, data), source


__all__ = ["BACKBONE_FAMILIES", "FEATURE_KINDS", "FeatureSet",
           "blip2_features", "clip_backbone", "clip_features", "load_blip2",
           "split_features"]
