"""CLIP models through open_clip: small CPU configs, pretrained tags, files.

A thin layer over ``open_clip.create_model_and_transforms`` and
``open_clip.get_tokenizer``:

- ``fairnb-tiny`` (shipped as JSON in ``fairnb/model_configs`` and
  registered with ``open_clip.add_model_config``): a ModifiedResNet image
  tower (layers 1-1-1-1, width 16, 64 px) and a 4-layer, 128-wide text
  transformer. It learns the synthetic task in a few CPU minutes; a tiny
  ViT tower does not (shared/research/feasibility.md §5).
- ``fairnb-tiny-vit``: a 4-layer, 128-wide ViT image tower (8 px patches)
  with the same text tower, for what needs a ViT on a CPU (deep visual
  prompts, 08).
- any open_clip name with a ``pretrained`` tag, e.g. ``ViT-B-16`` +
  ``openai`` (loaded as the QuickGELU variant the OpenAI weights need);
- a local checkpoint file: open_clip formats, official FairCLIP
  checkpoints (weights under ``model_state_dict``) and fairnb checkpoints
  (weights under ``model``). Files load with ``weights_only=True``.

Used in: 03_fairclip.
"""
from __future__ import annotations

import os
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import open_clip
import torch

CONFIG_DIR = Path(__file__).with_name("model_configs")
open_clip.add_model_config(CONFIG_DIR)
LOCAL_MODELS = tuple(sorted(p.stem for p in CONFIG_DIR.glob("*.json")))
HUB_HOST = ("huggingface.co", 443)


@dataclass
class ModelBundle:
    """A model with what it takes to feed it."""

    model: torch.nn.Module
    tokenizer: object
    name: str
    pretrained: str
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    quick_gelu: bool = False

    @property
    def context_length(self) -> int:
        return int(self.model.context_length)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def available_models() -> list[str]:
    """Names open_clip knows, fairnb's small configs first."""
    return list(LOCAL_MODELS) + [m for m in open_clip.list_models()
                                 if m not in LOCAL_MODELS]


def _check_name(name: str) -> None:
    if name.startswith(("hf-hub:", "local-dir:")):
        return
    if name not in open_clip.list_models():
        from .attributes import closest
        hint = closest(name, open_clip.list_models())
        raise ValueError(
            f"Unknown model {name!r}. Use one of fairnb's CPU configs "
            f"({', '.join(LOCAL_MODELS)}) or an open_clip name such as "
            "ViT-B-16 (open_clip.list_models() lists them all)."
            + (f" Did you mean {hint!r}?" if hint else ""))


def _is_file(pretrained: str | None) -> bool:
    return bool(pretrained) and Path(str(pretrained)).expanduser().is_file()


def create_model(name: str = "fairnb-tiny", *, pretrained: str | None = None,
                 device: str | torch.device = "cpu",
                 cache_dir: str | None = None,
                 seed: int | None = None) -> ModelBundle:
    """Create a CLIP model, its tokenizer and its input geometry.

    Parameters
    ----------
    name : str
        ``fairnb-tiny`` or any open_clip model name.
    pretrained : str, optional
        None or "" for random initialisation, an open_clip tag (e.g.
        ``"openai"``) or a checkpoint file.
    device : str or torch.device
    cache_dir : str, optional
        Where downloaded weights are cached (open_clip's default if None).
    seed : int, optional
        Seed of the random initialisation (the same seed gives the same
        weights; the global RNG is left as it was). None draws from the
        global RNG.

    Raises
    ------
    RuntimeError
        When a tagged checkpoint is neither cached nor downloadable; the
        message says how to fetch it on a connected machine or pass a file.
    """
    _check_name(name)
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return create_model(name, pretrained=pretrained, device=device,
                                cache_dir=cache_dir)
    pretrained = str(pretrained) if pretrained else None
    kw = {}
    if pretrained and not _is_file(pretrained):
        cfg = open_clip.get_pretrained_cfg(name, pretrained)
        if not cfg:
            tags = open_clip.list_pretrained_tags_by_model(name)
            raise ValueError(
                f"{pretrained!r} is neither a pretrained tag of {name} "
                f"(tags: {', '.join(tags) or 'none'}) nor an existing "
                "checkpoint file.")
        kw["force_quick_gelu"] = bool(cfg.get("quick_gelu"))
    if _is_file(pretrained):
        state, meta = read_checkpoint(pretrained)
        quick = checkpoint_quick_gelu(name, meta)
        if quick is not None:
            kw["force_quick_gelu"] = quick
        model, _, preprocess = open_clip.create_model_and_transforms(
            name, pretrained=None, **kw)
        _load_state(model, state, pretrained, name)
    elif pretrained:
        model, preprocess = _create_tagged(name, pretrained, cache_dir, kw)
    else:
        model, _, preprocess = open_clip.create_model_and_transforms(name)
    return _bundle(model.to(device), name, pretrained or "")


def _bundle(model, name: str, pretrained: str) -> ModelBundle:
    pp = open_clip.get_model_preprocess_cfg(model)
    size = pp.get("size", model.visual.image_size)
    size = size[0] if isinstance(size, (tuple, list)) else size
    return ModelBundle(model=model, tokenizer=open_clip.get_tokenizer(name),
                       name=name, pretrained=pretrained,
                       image_size=int(size), mean=tuple(pp["mean"]),
                       std=tuple(pp["std"]),
                       quick_gelu=uses_quick_gelu(model))


def uses_quick_gelu(model: torch.nn.Module) -> bool:
    """True if any activation of ``model`` is open_clip's QuickGELU (the
    activation OpenAI's CLIP weights were trained with)."""
    from open_clip.transformer import QuickGELU
    return any(isinstance(m, QuickGELU) for m in model.modules())


def is_openai_architecture(name: str) -> bool:
    """True if open_clip has OpenAI weights for ``name`` (ViT-B-16, ...)."""
    return "openai" in open_clip.list_pretrained_tags_by_model(name)


def checkpoint_quick_gelu(name: str, meta: dict) -> bool | None:
    """Whether a checkpoint file's model uses QuickGELU: as recorded
    (fairnb checkpoints), assumed for official FairCLIP checkpoints
    (``model_state_dict``) of an OpenAI architecture, None when unknown
    (the architecture's default; name ``<model>-quickgelu`` to force it).
    """
    if meta.get("quick_gelu") is not None:
        return bool(meta["quick_gelu"])
    if meta.get("format") == "model_state_dict" and \
            is_openai_architecture(name.removesuffix("-quickgelu")):
        return True
    return None


@contextmanager
def _hub_offline():
    from huggingface_hub import constants
    with mock.patch.object(constants, "HF_HUB_OFFLINE", True):
        yield


def hub_reachable(*, timeout: float = 3.0) -> bool:
    """True if the weights hub answers within ``timeout`` seconds.

    Runs in a daemon thread so that a slow DNS cannot hold the caller
    (huggingface_hub retries for ~46 s without network).
    """
    result = []

    def probe():
        try:
            socket.create_connection(HUB_HOST, timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def _create_tagged(name, pretrained, cache_dir, kw):
    try:  # the local cache first: instant when the weights are there
        with _hub_offline():
            model, _, pre = open_clip.create_model_and_transforms(
                name, pretrained=pretrained, cache_dir=cache_dir, **kw)
        return model, pre
    except Exception as exc:  # noqa: BLE001 - open_clip raises several
        offline = os.environ.get("HF_HUB_OFFLINE", "") in ("1", "true")
        if offline or not hub_reachable():
            raise RuntimeError(
                f"Weights {name}/{pretrained} are not cached and cannot be "
                "downloaded here. On a connected machine run: python -c "
                f"\"import open_clip; open_clip.create_model_and_transforms("
                f"'{name}', pretrained='{pretrained}'"
                + (f", cache_dir='{cache_dir}'" if cache_dir else "")
                + ")\" and copy the cache (~/.cache/huggingface) here, or "
                "save the weights to a file and pass pretrained=<file>."
            ) from exc
    model, _, pre = open_clip.create_model_and_transforms(
        name, pretrained=pretrained, cache_dir=cache_dir, **kw)
    return model, pre


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, dict]:
    """``(state_dict, meta)`` of a checkpoint file (``weights_only``).

    Accepts a raw state dict, ``{"model": ...}`` (fairnb),
    ``{"model_state_dict": ...}`` (official FairCLIP), ``{"state_dict":
    ...}`` (open_clip training), with or without a ``module.`` prefix, and
    ``.safetensors`` files. ``meta`` holds the file's other plain entries
    and ``format``, the key the weights were under (``raw`` if none).
    """
    path = Path(path).expanduser()
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # pickle, zip, safetensors header errors
        # torch's own text advises weights_only=False: not repeated here
        raise ValueError(
            f"{path} is not a checkpoint fairnb can read safely "
            f"({type(exc).__name__}). fairnb loads tensors only "
            "(weights_only=True) and never runs code from a file; pass a "
            "torch state-dict file (.pt/.pth/.bin) or a .safetensors file."
        ) from None
    if not isinstance(state, dict) or not state:
        raise ValueError(f"{path} holds {type(state).__name__}, not a "
                         "state dict of weights; pass a checkpoint file.")
    meta = {"format": "raw"}
    if isinstance(state, dict) and isinstance(state.get("weights"), dict):
        state = {**state, "model": state["weights"].get("model")}  # last.pt
    for key in ("model", "model_state_dict", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            meta = {k: v for k, v in state.items() if isinstance(
                v, (str, int, float, bool, type(None)))}
            meta["format"], state = key, state[key]
            break
    state = {k.removeprefix("module."): v for k, v in state.items()}
    return state, meta


def load_checkpoint(model: torch.nn.Module, path: str | os.PathLike, *,
                    model_name: str = "") -> None:
    """Load weights from ``path`` into ``model`` (:func:`read_checkpoint`)."""
    state, _ = read_checkpoint(path)
    _load_state(model, state, path, model_name)


def _load_state(model, state: dict, path, model_name: str) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise RuntimeError(
            f"{path} does not fit model {model_name or type(model).__name__}"
            ". Pass the model name the checkpoint was trained with (e.g. "
            "ViT-B-16 for the official FairCLIP checkpoints)."
            f"\n{str(exc)[:600]}") from exc
