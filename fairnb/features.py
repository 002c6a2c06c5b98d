"""Frozen features of a split for probing: from any fairnb or open_clip
CLIP model, or from a local BLIP-2 folder (Hugging Face transformers).

- CLIP: ``image`` = the L2-normalised image embedding; ``multimodal`` =
  image and note embeddings side by side (the paper's image+text probe).
- BLIP-2, from a folder saved with ``save_pretrained`` (with its image
  processor, and for a retrieval checkpoint its tokenizer): ``image`` =
  the vision tower's pooled output. ``multimodal`` depends on the
  checkpoint. A ``Blip2ForImageTextRetrieval`` folder (e.g. a local copy
  of Salesforce/blip2-itm-vit-g, the Q-Former of LAVIS' feature
  extractor) gives the paper's image+text features: the Q-Former reads
  the query tokens and the note together, cross-attending to the image,
  and its query outputs (LAVIS' ``multimodal_embeds``, averaged over the
  queries) stand beside the vision pooled output. A ``Blip2Model`` folder
  (the OPT / Flan-T5 checkpoints) has no Q-Former text input, so its
  ``multimodal`` features are the image-conditioned query outputs, the
  bridge to its language model, and the note does not enter them
  (:attr:`Blip2Backbone.text_conditioned` says which).

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


@dataclass(frozen=True)
class Blip2Backbone:
    """A loaded BLIP-2 folder: the model (``Blip2Model`` or
    ``Blip2ForImageTextRetrieval``), its image processor and, for a
    retrieval model, its tokenizer."""

    model: object
    processor: object
    tokenizer: object = None

    @property
    def text_conditioned(self) -> bool:
        """True when ``multimodal`` features read the note (a retrieval
        checkpoint's Q-Former takes text); False for ``Blip2Model``."""
        return self.tokenizer is not None


def load_blip2(folder: str | Path) -> Blip2Backbone:
    """A local BLIP-2 folder as a :class:`Blip2Backbone`: the class its
    ``config.json`` names (``Blip2ForImageTextRetrieval`` with its
    tokenizer, else ``Blip2Model``); downloads are never attempted."""
    import json

    import transformers
    from transformers import AutoImageProcessor

    folder = Path(folder).expanduser()
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"{folder} is not a saved BLIP-2 model (no config.json). Pass a "
            "folder written by save_pretrained (Blip2Model or "
            "Blip2ForImageTextRetrieval, with its image processor), e.g. a "
            "local copy of Salesforce/blip2-itm-vit-g.")
    names = json.loads((folder / "config.json").read_text()).get(
        "architectures") or []
    retrieval = "Blip2ForImageTextRetrieval" in names
    cls = transformers.Blip2ForImageTextRetrieval if retrieval else \
        transformers.Blip2Model
    model = cls.from_pretrained(str(folder), local_files_only=True)
    processor = AutoImageProcessor.from_pretrained(str(folder),
                                                   local_files_only=True)
    tokenizer = None
    if retrieval:
        missing = FileNotFoundError(
            f"{folder} holds a Blip2ForImageTextRetrieval model but no "
            "tokenizer its Q-Former can read the notes with; save one there "
            "(the checkpoint's BERT tokenizer, save_pretrained).")
        if not any((folder / f).is_file() for f in (
                "tokenizer.json", "tokenizer_config.json", "vocab.txt")):
            raise missing  # transformers would make an empty one
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                str(folder), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise missing from exc
    return Blip2Backbone(model.eval(), processor, tokenizer)


def _qformer_text(backbone: Blip2Backbone, texts: list[str], device):
    """Token ids and mask of ``texts`` as a retrieval model's ITM forward
    takes them: where its config has an ``image_token_index`` (newer
    checkpoints, whose processor prepends one image token per query),
    ``num_query_tokens`` of them and their mask go first, since the
    forward drops that many ids and takes the mask as covering them."""
    import torch
    model = backbone.model
    n_query = model.config.num_query_tokens
    tok = backbone.tokenizer(
        texts, padding=True, truncation=True,
        max_length=min(backbone.tokenizer.model_max_length,
                       model.config.qformer_config.max_position_embeddings),
        return_tensors="pt").to(device)
    ids, mask = tok["input_ids"], tok["attention_mask"]
    image_token = getattr(model.config, "image_token_index", None)
    if image_token is not None:
        ids = torch.cat([torch.full((len(ids), n_query), image_token,
                                    dtype=ids.dtype, device=device), ids], 1)
        mask = torch.cat([torch.ones((len(ids), n_query), dtype=mask.dtype,
                                     device=device), mask], 1)
    return ids, mask


def blip2_features(backbone: Blip2Backbone, dataset, split: str, *,
                   kind: str = "image", device: str = "auto",
                   batch_size: int = 32,
                   max_chars: int | None = 180) -> FeatureSet:
    """Features of ``split`` of ``dataset`` from a BLIP-2 backbone
    (:func:`load_blip2`): full-size images prepared by BLIP-2's own image
    processor (grey fundus copied to RGB); for ``multimodal`` with a
    retrieval checkpoint, the texts 03 would read (summary, else note, cut
    at ``max_chars``), tokenised by its tokenizer (see the module)."""
    import torch
    from PIL import Image

    from .attributes import check_choice
    from .data.torch import default_texts
    from .devices import resolve_device
    check_choice("features", kind, FEATURE_KINDS)
    dev = resolve_device(device)
    model = backbone.model.to(dev)
    out = []
    meta = dataset.metadata(split)
    ids = meta["id"].tolist()
    texts = default_texts(meta, max_chars=max_chars)
    n_query = model.config.num_query_tokens
    with torch.no_grad():
        for start in range(0, len(ids), batch_size):
            chunk = slice(start, start + batch_size)
            images = [Image.fromarray(dataset.load_image(i)).convert("RGB")
                      for i in ids[chunk]]
            px = backbone.processor(images=images, return_tensors="pt")[
                "pixel_values"].to(dev)
            if kind == "multimodal" and backbone.text_conditioned:
                ids_, mask = _qformer_text(backbone, texts[chunk], dev)
                joint = model(pixel_values=px, input_ids=ids_,
                              attention_mask=mask,
                              use_image_text_matching_head=True)
                q = joint.text_model_output.last_hidden_state[:, :n_query]
                parts = [joint.vision_model_output.pooler_output,
                         q.mean(dim=1)]
                out.append(torch.cat(parts, dim=1).float().cpu().numpy())
                continue
            vision = model.vision_model(pixel_values=px)
            parts = [vision.pooler_output]
            if kind == "multimodal":
                q = model.get_qformer_features(pixel_values=px)
                q = getattr(q, "last_hidden_state", q)
                parts.append(q.mean(dim=1))
            out.append(torch.cat(parts, dim=1).float().cpu().numpy())
    from .attributes import ATTRIBUTES
    return FeatureSet(np.concatenate(out).astype(np.float32),
                      meta["label"].to_numpy(np.int64),
                      {a: meta[a].to_numpy(np.int64) for a in ATTRIBUTES},
                      np.asarray(ids),
                      {"family": "blip2", "kind": kind,
                       "text_conditioned": kind == "multimodal"
                       and backbone.text_conditioned})


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


def probed_run(family: str, *, run: str = "", model: str = ""):
    """The 03 run folder whose weights a probe reads (``run``, the latest 03
    run when empty), or None when the probe reads ``model`` or a BLIP-2
    folder instead."""
    from .runs import resolve_run
    if family == "blip2" or model:
        return None
    return resolve_run(run, "03_fairclip")


def split_features(family: str, *, dataset, kind: str = "image",
                   run: str = "", model: str = "", pretrained: str = "",
                   seed: int = 0, device: str = "auto",
                   conditions: dict[str, str] | None = None):
    """``(features, clip, source)``: the :class:`FeatureSet` of each
    split (``train``, ``val``, ``test``) from a CLIP backbone
    (:func:`clip_backbone`) or a BLIP-2 folder (``pretrained``); ``clip``
    is ``(bundle, splits)`` for zero-shot scoring (None for BLIP-2).
    ``conditions``: the acquisition condition per split
    (:func:`fairnb.sources.run_conditions` of a probed run; CLIP only)."""
    from .attributes import check_choice
    from .data.torch import load_split
    check_choice("backbone_family", family, BACKBONE_FAMILIES)
    splits = ("train", "val", "test")
    if family == "blip2" and set((conditions or {}).values()) - {"source"}:
        raise ValueError(
            f"Acquisition conditions {conditions} are applied to the CLIP "
            "image cache; the BLIP-2 path reads the stored images. Probe a "
            "run trained on the stored images, or a CLIP backbone.")
    if family == "blip2":
        backbone = load_blip2(pretrained)
        note = "" if kind == "image" else (
            ", Q-Former reads the notes" if backbone.text_conditioned else
            ", Q-Former reads the image only (Blip2Model)")
        return ({s: blip2_features(backbone, dataset, s, kind=kind,
                                   device=device) for s in splits},
                None, f"BLIP-2 {pretrained} "
                      f"({type(backbone.model).__name__}{note})")
    bundle, source = clip_backbone(run=run, model=model,
                                   pretrained=pretrained, seed=seed)
    data = {s: load_split(dataset, s, image_size=bundle.image_size,
                          tokenizer=bundle.tokenizer,
                          condition=(conditions or {}).get(s, "source"))
            for s in splits}
    feats = {s: clip_features(bundle, d, kind=kind, device=device)
             for s, d in data.items()}
    return feats, (bundle, data), source


__all__ = ["BACKBONE_FAMILIES", "Blip2Backbone", "FEATURE_KINDS",
           "FeatureSet",
           "blip2_features", "clip_backbone", "clip_features", "load_blip2",
           "probed_run", "split_features"]
