r"""Prompted forward passes of a frozen open_clip model: learned text
context (CoOp) and instance-aware visual prompt tokens (deep VPT).

- :func:`encode_with_context`: the text tower on prompts
  ``"X X ... X <name>."`` whose ``n_ctx`` placeholder embeddings are
  replaced by learned context vectors (Zhou et al., "Learning to Prompt
  for Vision-Language Models", IJCV 2022), for CLIP and for a
  CustomTextCLIP's own text transformer.
- :func:`visual_tokens` and :func:`encode_with_prompts`: the image tower
  without and with prompt tokens. A ViT gets ``depth`` sets of prompt
  tokens appended to its sequence, one set per block for the first
  ``depth`` blocks, each replacing the last (deep VPT: Jia et al., "Visual
  Prompt Tuning", ECCV 2022); their outputs are dropped before pooling.
  A ModifiedResNet's only attention layer is its attention pool, so its
  prompts (``depth`` 1) are extra keys and values there: the pooled
  feature attends to the image and to the prompts. Without prompts both
  equal the model's own ``encode_image`` (tested).

Nothing here trains: the model's weights are used as they are; gradients
flow to the context and the prompts only.

Used in: 08_dualfairvl.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["PLACEHOLDER", "VisualTokens", "encode_with_context",
           "encode_with_prompts", "max_prompt_depth", "placeholder_tokens",
           "token_width", "visual_kind", "visual_tokens"]

PLACEHOLDER = "X"


def visual_kind(visual: torch.nn.Module) -> str:
    """``"vit"`` or ``"resnet"`` (an open_clip VisionTransformer or
    ModifiedResNet); other towers are refused with a clear error."""
    name = type(visual).__name__
    if name == "VisionTransformer" and getattr(visual, "attn_pool",
                                               None) is None:
        return "vit"
    if name == "ModifiedResNet":
        return "resnet"
    raise ValueError(
        f"Visual prompts need an open_clip VisionTransformer (without an "
        f"attention-pool head) or ModifiedResNet image tower; this model "
        f"has {name}. Use e.g. model='ViT-B-16', 'fairnb-tiny-vit' or "
        "'fairnb-tiny'.")


def token_width(visual: torch.nn.Module) -> int:
    """Width of the image tower's tokens (and of its prompt tokens)."""
    if visual_kind(visual) == "vit":
        return int(visual.transformer.width)
    return int(visual.attnpool.k_proj.in_features)


def max_prompt_depth(visual: torch.nn.Module) -> int:
    """Blocks that can take prompts: a ViT's layers, a ResNet's 1."""
    if visual_kind(visual) == "vit":
        return len(visual.transformer.resblocks)
    return 1


@dataclass
class VisualTokens:
    """A prompt-free pass: the pooled, projected feature, the tokens
    (ViT: patch tokens after the final norm; ResNet: the last feature map
    as tokens) and what a prompted pass can start from."""

    pooled: torch.Tensor  # (B, D)
    tokens: torch.Tensor  # (B, N, token_width)
    start: torch.Tensor   # ViT: the images; ResNet: the feature map


def _vit_embeds(visual, x: torch.Tensor) -> torch.Tensor:
    x = visual.conv1(x)
    x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
    cls = visual.class_embedding.to(x.dtype).view(1, 1, -1).expand(
        x.shape[0], -1, -1)
    x = torch.cat([cls, x], dim=1) + visual.positional_embedding.to(x.dtype)
    return visual.ln_pre(visual.patch_dropout(x))


def _vit_pool(visual, x: torch.Tensor):
    if getattr(visual, "final_ln_after_pool", False):
        pooled, tokens = visual._global_pool(x)
        pooled = visual.ln_post(pooled)
    else:
        x = visual.ln_post(x)
        pooled, tokens = visual._global_pool(x)
    if visual.proj is not None:
        pooled = pooled @ visual.proj
    return pooled, tokens


def _vit_forward(visual, images, prompts):
    x = _vit_embeds(visual, images)
    n = x.shape[1]
    blocks = visual.transformer.resblocks
    first = getattr(visual.transformer, "batch_first", True)
    for i, block in enumerate(blocks):
        if prompts is not None and i < prompts.shape[1]:
            x = torch.cat([x[:, :n], prompts[:, i].to(x.dtype)], dim=1)
        x = block(x) if first else block(x.transpose(0, 1)).transpose(0, 1)
    return _vit_pool(visual, x[:, :n])


def _resnet_trunk(visual, images):
    x = visual.stem(images)
    for layer in (visual.layer1, visual.layer2, visual.layer3,
                  visual.layer4):
        x = layer(x)
    return x


def _resnet_pool(pool, fmap, prompts):
    """open_clip's AttentionPool2d, the query being the mean token only
    (its output row 0, all the tower returns), keys and values extended by
    ``prompts`` (B, n, C) when given."""
    x = fmap.reshape(fmap.shape[0], fmap.shape[1], -1).permute(2, 0, 1)
    x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)
    x = x + pool.positional_embedding[:, None, :].to(x.dtype)
    keys = x if prompts is None else torch.cat(
        [x, prompts.to(x.dtype).permute(1, 0, 2)], dim=0)
    out, _ = F.multi_head_attention_forward(
        query=x[:1], key=keys, value=keys, embed_dim_to_check=x.shape[-1],
        num_heads=pool.num_heads, q_proj_weight=pool.q_proj.weight,
        k_proj_weight=pool.k_proj.weight, v_proj_weight=pool.v_proj.weight,
        in_proj_weight=None, in_proj_bias=torch.cat(
            [pool.q_proj.bias, pool.k_proj.bias, pool.v_proj.bias]),
        bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0,
        out_proj_weight=pool.c_proj.weight, out_proj_bias=pool.c_proj.bias,
        use_separate_proj_weight=True, training=False, need_weights=False)
    return out[0]


def visual_tokens(visual: torch.nn.Module, images: torch.Tensor
                  ) -> VisualTokens:
    """The prompt-free pass of the image tower (equal to ``visual(images)``
    in ``pooled``)."""
    if visual_kind(visual) == "vit":
        pooled, tokens = _vit_forward(visual, images, None)
        return VisualTokens(pooled, tokens, images)
    fmap = _resnet_trunk(visual, images)
    tokens = fmap.flatten(2).transpose(1, 2)
    return VisualTokens(_resnet_pool(visual.attnpool, fmap, None), tokens,
                        fmap)


def encode_with_prompts(visual: torch.nn.Module, first: VisualTokens,
                        prompts: torch.Tensor) -> torch.Tensor:
    """The pooled, projected image feature with ``prompts`` (B, depth, n,
    token_width): a ViT's first ``depth`` blocks each see their set; a
    ResNet (depth 1) attends to them in its pool, reusing the feature map
    of ``first`` (the trunk runs once)."""
    depth = prompts.shape[1]
    if not 1 <= depth <= max_prompt_depth(visual):
        raise ValueError(f"Prompts for {depth} blocks; this image tower "
                         f"takes 1 to {max_prompt_depth(visual)}.")
    if visual_kind(visual) == "vit":
        return _vit_forward(visual, first.start, prompts)[0]
    return _resnet_pool(visual.attnpool, first.start, prompts[:, 0])


def placeholder_tokens(tokenizer, names: list[str], n_ctx: int
                       ) -> torch.Tensor:
    """Token ids of ``"X X ... X <name>."`` per name (``n_ctx``
    placeholders right after the start token, where the context goes)."""
    text = " ".join([PLACEHOLDER] * n_ctx)
    tokens = torch.as_tensor(tokenizer([f"{text} {n}." for n in names]),
                             dtype=torch.long)
    slots = tokens[:, 1:1 + n_ctx]
    if not bool((slots == slots[0, 0]).all()):
        raise ValueError(
            f"The tokenizer does not give {PLACEHOLDER!r} one token each, so "
            "the context slots cannot be found; use an open_clip BPE "
            "tokenizer.")
    return tokens


def _text_owner(model):
    owner = getattr(model, "text", model)
    needed = ("token_embedding", "positional_embedding", "transformer",
              "ln_final")
    if not all(hasattr(owner, n) for n in needed) or getattr(
            owner, "cls_emb", None) is not None:
        raise ValueError(
            f"Learned text context needs an open_clip text transformer "
            f"(token_embedding, positional_embedding, transformer, "
            f"ln_final; no class token); {type(owner).__name__} has another "
            "text tower. Use a CLIP model such as ViT-B-16 or fairnb-tiny.")
    return owner


def text_width(model: torch.nn.Module) -> int:
    """Width of the text tower's token embeddings (the context width)."""
    return int(_text_owner(model).token_embedding.weight.shape[1])


def encode_with_context(model: torch.nn.Module, tokens: torch.Tensor,
                        context: torch.Tensor) -> torch.Tensor:
    """Text features (K, D) of placeholder ``tokens`` (K, T;
    :func:`placeholder_tokens`) with the placeholders' embeddings replaced
    by ``context`` (n_ctx, width), shared by the K prompts."""
    from open_clip.transformer import text_global_pool
    owner = _text_owner(model)
    n_ctx = context.shape[0]
    x = owner.token_embedding(tokens)
    ctx = context.to(x.dtype).unsqueeze(0).expand(len(tokens), -1, -1)
    x = torch.cat([x[:, :1], ctx, x[:, 1 + n_ctx:]], dim=1)
    x = x + owner.positional_embedding.to(x.dtype)
    first = getattr(owner.transformer, "batch_first", True)
    mask = getattr(owner, "attn_mask", None)
    x = owner.transformer(x if first else x.transpose(0, 1), attn_mask=mask)
    x = x if first else x.transpose(0, 1)
    x = owner.ln_final(x)
    pool = getattr(owner, "text_pool_type", getattr(owner, "pool_type",
                                                    "argmax"))
    eos = getattr(owner, "text_eos_id", None)
    x = text_global_pool(x, tokens, pool, **(
        {"eos_token_id": eos} if "eos_token_id" in inspect.signature(
            text_global_pool).parameters else {}))
    x = x[0] if isinstance(x, tuple) else x  # older: (pooled, tokens)
    proj = owner.text_projection
    if proj is None:
        return x
    return proj(x) if isinstance(proj, torch.nn.Linear) else x @ proj
