r"""DualFairVL: attribute-disentangled dual-branch prompt learning on a
frozen CLIP — **a reconstruction from the abstract**.

Xia, Ma, He, Wang, Dou, Xia, "Toward Robust Medical Fairness: Debiased
Dual-Modal Alignment via Text-Guided Attribute-Disentangled Prompt
Learning for Vision-Language Models" (arXiv 2508.18886, 2025). The paper
has no public code and its body was not available to us: every design
choice below is ours, made from the abstract and written down in
``shared/METHODS.md`` §4 (which marks it INFERRED), and every one is an
option so that it can be aligned when the paper's details are known.
Numbers from this method are numbers of this reconstruction, not of the
paper.

The backbone (any open_clip CLIP with a ViT or ModifiedResNet image
tower) is frozen; only these parts train (:class:`DualFairVLNet`):

- **two text branches**: learned context :math:`U^y` before the class
  names ("non-glaucoma", "glaucoma") and :math:`U^s` before the group
  names of the attribute, through the frozen text tower (CoOp), giving
  :math:`t_c` and :math:`s_g`;
- **text anchors** by two linear maps (identity at start),
  :math:`a_c = W_y t_c`, :math:`b_g = W_s s_g`, kept approximately
  orthogonal: :math:`L_{orth} = \mathrm{mean}_{c,g} \cos^2(a_c, b_g)`;
- **cross-attention** per branch: the prompt-free pass's image tokens
  (projected) query the anchors, :math:`f_y`, :math:`f_s` the mean of the
  fused tokens (with a residual);
- a **hypernetwork** :math:`[f_y; f_s; v_0] \to` instance-aware visual
  prompts (an MLP, a low-rank basis), ``prompt_depth`` blocks x
  ``n_prompts`` tokens, inserted into the image tower
  (:mod:`fairnb.methods.prompts`); the prompted pass gives :math:`v_y`;
- a **sensitive visual branch** :math:`v_s = h([v_0; f_s])` that carries
  the group information, trained to find the group against the anchors
  :math:`b_g` (:math:`L_{sen}`), so that it need not be in :math:`v_y`.

Predictions: :math:`p(c \mid x) = \mathrm{softmax}_c(\tau \cos(v_y, a_c))`
with the backbone's temperature :math:`\tau`; selection on Validation
and Test use these scores. The loss

.. math::
    L = \mathrm{CE}(\tau\cos(v_y, a), y)
      + \lambda_s \mathrm{CE}(\tau\cos(v_s, b), g)
      + \lambda_o L_{orth} + \lambda_p L_{proto}

with the prototype term on EMA prototypes of the prompted feature
:math:`v_y`, :math:`P_c` per class and :math:`Q_g` per group (momentum
``proto_momentum``; METHODS.md §4.3):

- *pull*: :math:`1 - \cos(v_y, P_{y})` and :math:`1 - \cos(v_y, a_{y})`
  (alignment with the class prototype and its text anchor);
- *push*: :math:`\mathrm{mean}_g \cos^2(v_y - P_y, Q_g - \bar Q)`, the
  sample's offset from its class prototype carries no group direction;
- *separate*: the mean pairwise cosine of the batch's group means of
  :math:`v_s`, so the sensitive features of groups stay apart (METHODS.md
  asks to keep "the group prototypes" apart while pushing group
  information out of :math:`v_y`; we resolve that by separating the
  sensitive branch's features, not :math:`v_y`'s).

Whether the prompted feature carries less group information than the
backbone's is measured, not assumed: :meth:`DualFairVL.feature_sets`
gives :math:`v_0`, :math:`v_y` and :math:`v_s` for an attribute probe
(08).

Samples Unknown for the attribute are left out of the group terms. The
paper quotes 3.6 M trainable parameters on its backbone;
:meth:`DualFairVL.parameter_counts` gives ours (ViT-B-16 with the
defaults: 5.76 M; ``fairnb-tiny``: 0.51 M).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..attributes import ATTRIBUTES, check_attribute, group_names
from .base import Method, ParamGroup, StepOutput
from .prompts import (
    encode_with_context,
    encode_with_prompts,
    max_prompt_depth,
    placeholder_tokens,
    text_width,
    token_width,
    visual_tokens,
)
from .registry import register_method

CLASS_NAMES = ("non-glaucoma", "glaucoma")
LOSS_TERMS = ("cls_loss", "sen_loss", "orth_loss", "proto_loss")


def orthogonality(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r""":math:`\mathrm{mean}_{c,g} \cos^2(a_c, b_g)` of two anchor sets.

    Examples
    --------
    >>> float(orthogonality(torch.eye(3)[:1], torch.eye(3)[1:]))
    0.0
    """
    return (F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T).pow(2).mean()


class DualFairVLNet(nn.Module):
    """The trainable parts of DualFairVL (module doc); the EMA prototypes
    are buffers, so they are checkpointed and restored with the weights.
    """

    def __init__(self, *, text_width: int, embed_dim: int, token_width: int,
                 n_classes: int, n_groups: int, n_ctx: int, prompt_depth: int,
                 n_prompts: int, heads: int, hidden: int, rank: int):
        super().__init__()
        self.shape = (prompt_depth, n_prompts, token_width)
        self.ctx_target = nn.Parameter(torch.randn(n_ctx, text_width) * .02)
        self.ctx_sensitive = nn.Parameter(torch.randn(n_ctx, text_width)
                                          * .02)
        self.anchor_target = nn.Linear(embed_dim, embed_dim)
        self.anchor_sensitive = nn.Linear(embed_dim, embed_dim)
        for lin in (self.anchor_target, self.anchor_sensitive):
            nn.init.eye_(lin.weight)
            nn.init.zeros_(lin.bias)
        self.token_proj = nn.Linear(token_width, embed_dim)
        self.attn_target = nn.MultiheadAttention(embed_dim, heads,
                                                 batch_first=True)
        self.attn_sensitive = nn.MultiheadAttention(embed_dim, heads,
                                                    batch_first=True)
        self.hyper = nn.Sequential(nn.Linear(3 * embed_dim, hidden),
                                   nn.GELU(), nn.Linear(hidden, rank))
        self.basis = nn.Linear(rank, prompt_depth * n_prompts * token_width)
        nn.init.normal_(self.basis.weight, std=0.02)
        nn.init.zeros_(self.basis.bias)
        self.sensitive_head = nn.Linear(2 * embed_dim, embed_dim)
        self.register_buffer("proto_target", torch.zeros(n_classes,
                                                         embed_dim))
        self.register_buffer("proto_sensitive", torch.zeros(n_groups,
                                                            embed_dim))
        self.register_buffer("proto_seen_target", torch.zeros(
            n_classes, dtype=torch.bool))
        self.register_buffer("proto_seen_sensitive", torch.zeros(
            n_groups, dtype=torch.bool))

    def fuse(self, tokens: torch.Tensor, anchors: torch.Tensor,
             attn: nn.MultiheadAttention) -> torch.Tensor:
        """Image tokens (B, N, W) query ``anchors`` (K, D): the mean of
        the fused tokens (residual) -> (B, D)."""
        q = self.token_proj(tokens)
        kv = anchors.unsqueeze(0).expand(len(q), -1, -1)
        out, _ = attn(q, kv, kv, need_weights=False)
        return (q + out).mean(dim=1)

    def prompts(self, f_y, f_s, v0) -> torch.Tensor:
        """Instance-aware prompts (B, depth, n, width) from the fused
        cues and the prompt-free feature."""
        h = self.hyper(torch.cat([f_y, f_s, F.normalize(v0, dim=-1)], 1))
        return self.basis(h).view(len(h), *self.shape)


@register_method("dualfairvl")
class DualFairVL(Method):
    r"""DualFairVL as reconstructed from the abstract (module doc).

    Parameters
    ----------
    attribute : str
        The sensitive attribute (its groups name the sensitive branch).
    sen_weight, orth_weight, proto_weight : float
        :math:`\lambda_s`, :math:`\lambda_o`, :math:`\lambda_p`
        (METHODS.md's starting values 0.5, 0.1, 0.1).
    n_ctx : int
        Learned context tokens per text branch.
    prompt_depth : int
        Image-tower blocks that get prompts (a ViT's first blocks; a
        ModifiedResNet takes 1, its attention pool).
    n_prompts : int
        Prompt tokens per block.
    heads : int
        Cross-attention heads (must divide the embedding width).
    hidden, rank : int
        The hypernetwork's hidden width and its low-rank bottleneck.
    proto_momentum : float
        EMA momentum of the prototypes.
    """

    def __init__(self, *, attribute: str = "race", sen_weight: float = 0.5,
                 orth_weight: float = 0.1, proto_weight: float = 0.1,
                 n_ctx: int = 8, prompt_depth: int = 0, n_prompts: int = 4,
                 heads: int = 4, hidden: int = 256, rank: int = 64,
                 proto_momentum: float = 0.9):
        self.attribute = check_attribute(attribute)
        for name, value in (("sen_weight", sen_weight),
                            ("orth_weight", orth_weight),
                            ("proto_weight", proto_weight)):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}.")
        for name, value in (("n_ctx", n_ctx), ("n_prompts", n_prompts),
                            ("heads", heads), ("hidden", hidden),
                            ("rank", rank)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got "
                                 f"{value!r}.")
        if int(prompt_depth) != prompt_depth or prompt_depth < 0:
            raise ValueError(f"prompt_depth must be >= 0 (0: as deep as the "
                             f"tower allows, at most 9), got "
                             f"{prompt_depth!r}.")
        if not 0 <= proto_momentum < 1:
            raise ValueError(f"proto_momentum must lie in [0, 1), got "
                             f"{proto_momentum}.")
        self.sen_weight, self.orth_weight = float(sen_weight), float(
            orth_weight)
        self.proto_weight = float(proto_weight)
        self.n_ctx, self.n_prompts = int(n_ctx), int(n_prompts)
        self.prompt_depth, self.heads = int(prompt_depth), int(heads)
        self.hidden, self.rank = int(hidden), int(rank)
        self.momentum = float(proto_momentum)
        self.groups = group_names(self.attribute)
        self.net: DualFairVLNet | None = None

    # -- the engine's interface -------------------------------------------
    def setup(self, context) -> None:
        super().setup(context)
        model = context.model
        from .adversarial import embedding_width
        embed = embedding_width(model)
        if embed % self.heads:
            raise ValueError(f"heads={self.heads} must divide the embedding "
                             f"width {embed}.")
        deepest = max_prompt_depth(model.visual)
        depth = self.prompt_depth or min(deepest, 9)
        if depth > deepest:
            raise ValueError(
                f"prompt_depth={self.prompt_depth}, but this image tower "
                f"takes prompts in at most {deepest} block(s).")
        self.depth = depth
        tokenizer = context.bundle.tokenizer
        device = next(model.parameters()).device
        self.class_tokens = placeholder_tokens(
            tokenizer, list(CLASS_NAMES), self.n_ctx).to(device)
        self.group_tokens = placeholder_tokens(
            tokenizer, self.groups, self.n_ctx).to(device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(context.seed)
            self.net = DualFairVLNet(
                text_width=text_width(model), embed_dim=embed,
                token_width=token_width(model.visual),
                n_classes=len(CLASS_NAMES), n_groups=len(self.groups),
                n_ctx=self.n_ctx, prompt_depth=depth,
                n_prompts=self.n_prompts, heads=self.heads,
                hidden=self.hidden, rank=self.rank).to(device)
        self.column = ATTRIBUTES.index(self.attribute)

    def modules(self) -> dict[str, nn.Module]:
        return {"dualfairvl": self.net} if self.net is not None else {}

    def trainable(self) -> list[ParamGroup]:
        return [ParamGroup("dualfairvl", [
            (f"dualfairvl.{n}", p) for n, p in self.net.named_parameters()])]

    # -- forward -------------------------------------------------------------
    def anchors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Target anchors :math:`a_c` (C, D) and sensitive anchors
        :math:`b_g` (G, D)."""
        model, net = self.context.model, self.net
        t = encode_with_context(model, self.class_tokens, net.ctx_target)
        s = encode_with_context(model, self.group_tokens, net.ctx_sensitive)
        return net.anchor_target(t.float()), net.anchor_sensitive(s.float())

    def temperature(self) -> torch.Tensor:
        scale = getattr(self.context.model, "logit_scale", None)
        return scale.detach().exp().float() if isinstance(
            scale, torch.Tensor) else torch.tensor(100.0)

    def forward(self, batch) -> dict[str, torch.Tensor]:
        """Every quantity of one batch: anchors, the prompt-free feature,
        fused cues, prompts, :math:`v_y`, :math:`v_s` and both logits."""
        ctx, net = self.context, self.net
        visual = ctx.model.visual
        images = ctx.images(batch)
        with ctx.autocast():
            with torch.no_grad():  # conditioning only: the backbone is fixed
                first = visual_tokens(visual, images)
            a, b = self.anchors()
            v0 = first.pooled.float()
            f_y = net.fuse(first.tokens.float(), a, net.attn_target)
            f_s = net.fuse(first.tokens.float(), b, net.attn_sensitive)
            prompts = net.prompts(f_y, f_s, v0)
            v_y = encode_with_prompts(visual, first, prompts)
            v_s = net.sensitive_head(torch.cat([v0, f_s], 1))
        # autocast leaves half-precision outputs; the heads compare in fp32
        a, b, v_y, v_s = a.float(), b.float(), v_y.float(), v_s.float()
        tau = self.temperature()
        logits = tau * F.normalize(v_y, dim=-1) @ F.normalize(a, dim=-1).T
        sen_logits = tau * F.normalize(v_s, dim=-1) @ F.normalize(b, dim=-1).T
        return {"a": a, "b": b, "v0": v0, "f_y": f_y, "f_s": f_s,
                "prompts": prompts, "v_y": v_y, "v_s": v_s,
                "logits": logits, "sen_logits": sen_logits}

    # -- losses --------------------------------------------------------------
    def prototype_loss(self, out, labels, codes) -> dict[str, torch.Tensor]:
        """The pull, push and separate terms (module doc) on the current
        prototypes; zero where a prototype is not yet seen."""
        net = self.net
        v = F.normalize(out["v_y"], dim=-1)
        zero = v.sum() * 0
        terms = {"pull": zero, "push": zero, "separate": zero}
        seen = net.proto_seen_target[labels]
        if bool(seen.any()):
            p = net.proto_target[labels]
            anchor = F.normalize(out["a"], dim=-1)[labels]
            terms["pull"] = ((1 - F.cosine_similarity(v, p, dim=-1))
                             + (1 - (v * anchor).sum(-1)))[seen].mean()
            q_seen = net.proto_sensitive[net.proto_seen_sensitive]
            if len(q_seen) > 1:
                directions = q_seen - q_seen.mean(0, keepdim=True)
                offset = (v - p)[seen]
                cos = F.normalize(offset, dim=-1) @ F.normalize(
                    directions, dim=-1).T
                terms["push"] = cos.pow(2).mean()
        means = [F.normalize(out["v_s"][codes == g], dim=-1).mean(0)
                 for g in range(len(self.groups)) if bool((codes == g).any())]
        if len(means) > 1:
            m = F.normalize(torch.stack(means), dim=-1)
            sim = m @ m.T
            pairs = torch.triu(torch.ones_like(sim, dtype=torch.bool), 1)
            terms["separate"] = sim[pairs].mean()
        return terms

    @torch.no_grad()
    def update_prototypes(self, out, labels, codes) -> None:
        """EMA update of :math:`P_c` and :math:`Q_g` (both of
        :math:`v_y`) with the batch means (a first sighting takes the mean
        as it is; Unknown updates no group)."""
        net, m = self.net, self.momentum
        v_y = F.normalize(out["v_y"].detach(), dim=-1)
        for protos, seen, keys in (
                (net.proto_target, net.proto_seen_target, labels),
                (net.proto_sensitive, net.proto_seen_sensitive, codes)):
            for k in range(len(protos)):
                rows = keys == k
                if not bool(rows.any()):
                    continue
                mean = v_y[rows].mean(0)
                protos[k] = m * protos[k] + (1 - m) * mean if bool(
                    seen[k]) else mean
                seen[k] = True

    def losses(self, out, labels, codes) -> dict[str, torch.Tensor]:
        """Each term of the loss (module doc), unweighted."""
        known = codes >= 0
        zero = out["logits"].sum() * 0
        proto = self.prototype_loss(out, labels, codes)
        return {
            "cls_loss": F.cross_entropy(out["logits"], labels),
            "sen_loss": F.cross_entropy(out["sen_logits"][known],
                                        codes[known]) if bool(known.any())
            else zero,
            "orth_loss": orthogonality(out["a"], out["b"]),
            "proto_loss": proto["pull"] + proto["push"] + proto["separate"],
            **{f"proto_{k}": v for k, v in proto.items()}}

    distributed = True

    def training_step(self, batch, step: int) -> StepOutput:
        """The loss of the global ``batch``; on several processes each
        forwards its slice, the anchors are computed in every process and
        the per-sample outputs gathered with autograd
        (:mod:`fairnb.distributed`), so the prototypes and the group
        means see the whole batch."""
        device, world = self.context.device, self.context.world
        labels = batch.labels.to(device)
        codes = batch.attributes[:, self.column].to(device)
        out = self.forward(world.local(batch))
        n = len(batch.index)
        out = {k: v if k in ("a", "b") else world.gather(v, n)
               for k, v in out.items()}
        terms = self.losses(out, labels, codes)
        loss = (terms["cls_loss"] + self.sen_weight * terms["sen_loss"]
                + self.orth_weight * terms["orth_loss"]
                + self.proto_weight * terms["proto_loss"])
        self.update_prototypes(out, labels, codes)
        known = codes >= 0
        logs = {k: float(v.detach()) for k, v in terms.items()}
        if bool(known.any()):
            logs["sen_acc"] = float((out["sen_logits"][known].argmax(1)
                                     == codes[known]).float().mean())
        return StepOutput(loss, logs)

    def epoch_logs(self) -> dict[str, float]:
        with torch.no_grad():
            a, b = self.anchors()
        return {"anchor_orthogonality": float(orthogonality(a, b))}

    # -- evaluation -----------------------------------------------------------
    @torch.no_grad()
    def score(self, data, *, device="cpu", batch_size: int = 256):
        """p(glaucoma) against the target anchors; ``similarity`` is
        :math:`\\cos(v_y, a_{y})`, the image's cosine with its own class
        anchor. Runs where the engine put the modules."""
        from ..evaluate import Predictions
        scores, sims = [], []
        for start in range(0, len(data), batch_size):
            batch = data.batch(np.arange(start, min(start + batch_size,
                                                    len(data))))
            out = self.forward(batch)
            scores.append(torch.softmax(out["logits"], 1)[:, 1].cpu())
            a = F.normalize(out["a"], dim=-1)[batch.labels.to(
                out["a"].device)]
            sims.append((F.normalize(out["v_y"], dim=-1) * a).sum(-1).cpu())
        return Predictions.from_split(data, y_score=torch.cat(scores).numpy(),
                                      similarity=torch.cat(sims).numpy())

    @torch.no_grad()
    def feature_sets(self, data, *, batch_size: int = 256) -> dict:
        """:class:`fairnb.features.FeatureSet` of a split for the
        backbone's prompt-free feature ``v0``, the prompted ``v_y`` and the
        sensitive branch's ``v_s`` (for attribute probes)."""
        from ..features import FeatureSet
        feats = {"v0": [], "v_y": [], "v_s": []}
        for start in range(0, len(data), batch_size):
            out = self.forward(data.batch(np.arange(
                start, min(start + batch_size, len(data)))))
            for k in feats:
                feats[k].append(F.normalize(out[k].float(), dim=-1).cpu())
        attrs = {a: data.attributes[:, i].numpy()
                 for i, a in enumerate(ATTRIBUTES)}
        return {k: FeatureSet(X=torch.cat(v).numpy(),
                              y_true=data.labels.numpy(), attributes=attrs,
                              ids=np.asarray(data.ids))
                for k, v in feats.items()}

    # -- what the notebook reports ----------------------------------------
    @torch.no_grad()
    def anchor_cosines(self):
        """Cosines between target anchors (rows) and sensitive anchors
        (columns), as a DataFrame."""
        import pandas as pd
        a, b = self.anchors()
        cos = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T
        return pd.DataFrame(cos.cpu().numpy(), index=list(CLASS_NAMES),
                            columns=self.groups)

    def parameter_counts(self) -> dict[str, int]:
        """Trainable parameters per part, their total and the frozen
        backbone's count."""
        net = self.net
        parts = {
            "text context": [net.ctx_target, net.ctx_sensitive],
            "anchor projections": [*net.anchor_target.parameters(),
                                   *net.anchor_sensitive.parameters()],
            "cross-attention": [*net.token_proj.parameters(),
                                *net.attn_target.parameters(),
                                *net.attn_sensitive.parameters()],
            "hypernetwork": [*net.hyper.parameters(),
                             *net.basis.parameters()],
            "sensitive head": [*net.sensitive_head.parameters()]}
        out = {k: sum(p.numel() for p in v) for k, v in parts.items()}
        out["trainable"] = sum(out.values())
        out["frozen backbone"] = sum(p.numel() for p in
                                     self.context.model.parameters())
        return out

    def describe(self) -> str:
        return (r"L = \mathrm{CE}(\tau\cos(v_y, a), y) + \lambda_s\,"
                r"\mathrm{CE}(\tau\cos(v_s, b), g) + \lambda_o L_{orth} + "
                r"\lambda_p L_{proto}")
