r"""MultiFair: a two-modality classifier trained with dual-level gradient
modulation (Zubair et al., arXiv 2510.07328; IEEE TMI 2026), and the
baselines it is compared with: plain fusion and each modality alone.

Not a CLIP fine-tuning method: the open_clip towers are *encoders* of a
supervised classifier. Each modality m (``slo``: the fundus through the
image tower; ``note``: the text through the text tower; ``oct``: B-scans
through a copy of the image tower, a learned slice position and a small
transformer over the slices) is projected to ``dim`` (Linear, LayerNorm,
dropout); a transformer encoder fuses the modality tokens and its first
token feeds the head (Linear, LayerNorm, GELU, dropout, Linear -> 2).
Auxiliary heads C_m read the *detached* z_m (their own optimizer, as
released).

Each step (``../shared/METHODS.md`` §3.3, reconstructed from the released
code):

* modality level: the auxiliary heads' batch AUC A_m moves by
  :math:`\Delta_m`; :math:`B_m = (\sum_k|\Delta_k| - |\Delta_m|) /
  (\sum_k|\Delta_k| + 10^{-8})` gives the modality that moved less the
  larger share;
* group level: a surrogate AUC per group (:func:`surrogate_auc`) of
  C_m's scores, an EMA :math:`\bar A_{m,g}` (0.9), the factor
  :math:`r_{m,g} = 1 + \kappa(\mu_m - \bar A_{m,g})/\tau` and its batch
  mean :math:`R_m = \sum_g \pi_g r_{m,g}`; the group terms act when the
  fused model's batch AUCs of the groups differ by more than
  :math:`\tau` ("priority");
* the loss :math:`L = CE + \lambda_{gm} L_{gm} + 1[\text{priority}]\,
  \mu_f F`; between backward and the optimizer step every gradient of
  encoder m is multiplied by :math:`B_m \rho R_m` (:math:`R_m` = 1
  without priority), clamped at 0 so that a factor never flips a
  gradient's sign (the released code can flip it when the best-served
  group is also a large batch majority). Projections, fusion and heads are
  not scaled.

Two mechanisms are inactive in the released code and are off by default
here: ``direction="off"`` (the released :math:`L_{gm}` never finds the
fused-head gradient, so it is 0) and ``fair_loss="constant"`` (F is a
detached number: it changes the logged loss, not the gradient).
``direction="differentiable"`` computes :math:`L_{gm} = \frac1M[\sum_m
|B_m| - \sum_m B_m \cos(g^{fus}, g_m^{cls})]` with the fused head's last
weight gradient in closed form, :math:`g = (\mathrm{softmax}(o) -
\mathrm{onehot}(y))^\top h / B` (equal to autograd's, but itself
differentiable, with no double backward); ``fair_loss="differentiable"``
takes F from the surrogate AUCs of the *fused* scores, with gradient.

When no modality's auxiliary AUC moved in a step (a batch with one
class, or a flat modality), :math:`B_m` is 0 for every modality that did
not move either way: as released, such a step leaves those encoders
unchanged (a modality that never moves takes the whole share, the other
gets about none).

Generalised beyond the released code: any attribute and number of groups
(Unknown is left out of the group terms), the trigger is the largest
minus the smallest group AUC. Differences from the released code, kept
on purpose: z_m is the main forward's, detached (the released code runs
a second no-grad forward); the auxiliary heads step with the main
optimizer step, on the gradient of their own cross-entropy, and their
gradient counts in the run's global gradient-norm clip. Under fairnb's
engine the schedule is warm-up and cosine decay (released: a constant rate
with ReduceLROnPlateau, which does not fire in 10 epochs) and images are
not augmented (released: flips and ColorJitter).

References
----------
Zubair et al., "MultiFair: Multimodal Balanced Fairness-Aware Medical
Classification with Dual-Level Gradient Modulation", arXiv 2510.07328.
Guo et al., "Classifier-guided Gradient Modulation for Enhanced
Multimodal Learning" (CGGM), NeurIPS 2024.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..attributes import (
    ATTRIBUTES,
    check_attribute,
    check_choice,
    group_names,
    group_slug,
    n_groups,
)
from ..choices import (
    DIRECTIONS,
    FAIR_LOSSES,
    MODULATIONS,
    MULTIFAIR_RELEASED,
    MULTIMODAL_BASELINES,
)
from .base import Method, ParamGroup, StepOutput
from .registry import register_method

MODALITY_PAIRS = {"slo+note": ("slo", "note"), "slo+oct": ("slo", "oct")}
MODALITIES = ("slo", "note", "oct")
#: the released code's values per modality pair (METHODS.md §3.4)
RELEASED = MULTIFAIR_RELEASED


def surrogate_auc(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
    r"""MultiFair's differentiable surrogate AUC of scores ``p`` (in [0,
    1]) for labels ``y``: :math:`1 - \mathrm{mean}_{i \in +, j \in -}
    \log(1 + e^{-(p_i - p_j)})`; None without both classes. Monotone in
    the ranking, not calibrated: it lies in about [-0.31, 0.69].

    Examples
    --------
    >>> y = torch.tensor([0, 0, 1, 1])
    >>> good = surrogate_auc(torch.tensor([.1, .2, .8, .9]), y)
    >>> bad = surrogate_auc(torch.tensor([.8, .9, .1, .2]), y)
    >>> bool(good > bad)
    True
    """
    pos, neg = p[y == 1], p[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return None
    return 1 - F.softplus(-(pos[:, None] - neg[None, :])).mean()


def head_weight_gradient(logits: torch.Tensor, hidden: torch.Tensor,
                         y: torch.Tensor) -> torch.Tensor:
    r"""The gradient of the mean cross-entropy with respect to the weight
    of the last linear layer ``logits = hidden W^T + b``, in closed form:
    :math:`(\mathrm{softmax}(o) - \mathrm{onehot}(y))^\top h / B`;
    differentiable in ``logits`` and ``hidden``."""
    err = torch.softmax(logits.float(), 1) - F.one_hot(
        y, logits.shape[1]).float()
    return err.T @ hidden.float() / len(y)


def batch_auc(p: np.ndarray, y: np.ndarray) -> float | None:
    """sklearn's AUC of a batch, None with one class."""
    if len(np.unique(y)) < 2:
        return None
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(y, p))


def text_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The open_clip text tower's parameters: everything but the image
    tower (``visual.``) and the temperature/bias of the contrastive
    loss."""
    return [(n, p) for n, p in model.named_parameters()
            if not n.startswith("visual.") and n not in ("logit_scale",
                                                         "logit_bias")]


class OCTEncoder(nn.Module):
    """B-scans -> one embedding: a slice encoder (a copy of the image
    tower) per slice, a learned slice position, a transformer over the
    slices, its first token (METHODS.md §3.2, FairVision variant)."""

    def __init__(self, visual: nn.Module, *, n_slices: int, width: int,
                 heads: int = 4, layers: int = 2, dropout: float = 0.1):
        super().__init__()
        self.slice_encoder = copy.deepcopy(visual)
        self.n_slices = n_slices
        self.position = nn.Parameter(torch.randn(n_slices, width) * 0.02)
        heads = heads if width % heads == 0 else 1
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout,
                                           activation="gelu",
                                           batch_first=True)
        self.aggregate = nn.TransformerEncoder(layer, layers,
                                               enable_nested_tensor=False)

    def forward(self, slices: torch.Tensor) -> torch.Tensor:
        """``slices``: normalised (B, K, 3, S, S) -> (B, width)."""
        b, k = slices.shape[:2]
        if k != self.n_slices:
            raise ValueError(f"The OCT encoder was built for {self.n_slices}"
                             f" B-scans per sample; the batch has {k}. Load "
                             f"the split with n_slices={self.n_slices}.")
        z = self.slice_encoder(slices.flatten(0, 1)).float().view(b, k, -1)
        return self.aggregate(z + self.position)[:, 0]


class MultimodalNet(nn.Module):
    """Projections, fusion transformer, head and auxiliary heads."""

    def __init__(self, widths: dict[str, int], *, dim: int, heads: int,
                 layers: int, fuse: bool, dropout: float = 0.1):
        super().__init__()
        self.project = nn.ModuleDict({m: nn.Sequential(
            nn.Linear(w, dim), nn.LayerNorm(dim), nn.Dropout(dropout))
            for m, w in widths.items()})
        self.fusion = None
        if fuse and dim % heads:
            raise ValueError(f"The fusion width dim={dim} is not divisible "
                             f"by heads={heads}; choose heads dividing it "
                             "(e.g. 8 for 256, 4 for 128).")
        if fuse:
            layer = nn.TransformerEncoderLayer(
                dim, heads, 4 * dim, dropout,
                activation="gelu", batch_first=True)
            self.fusion = nn.TransformerEncoder(layer, layers,
                                                enable_nested_tensor=False)
        self.head = nn.Sequential(nn.Linear(dim, dim), nn.LayerNorm(dim),
                                  nn.GELU(), nn.Dropout(dropout))
        self.out = nn.Linear(dim, 2)
        self.aux = nn.ModuleDict({m: nn.Sequential(
            nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(dropout))
            for m in widths})
        self.aux_out = nn.ModuleDict({m: nn.Linear(dim, 2) for m in widths})

    def fused(self, z: dict[str, torch.Tensor]) -> torch.Tensor:
        tokens = torch.stack([z[m] for m in self.project], 1)
        return (self.fusion(tokens) if self.fusion is not None
                else tokens)[:, 0]

    def fusion_parameters(self):
        yield from self.project.named_parameters(prefix="project")
        if self.fusion is not None:
            yield from self.fusion.named_parameters(prefix="fusion")
        yield from self.head.named_parameters(prefix="head")
        yield from self.out.named_parameters(prefix="out")

    def aux_parameters(self):
        yield from self.aux.named_parameters(prefix="aux")
        yield from self.aux_out.named_parameters(prefix="aux_out")


@register_method("multifair")
class MultiFair(Method):
    """MultiFair (module doc). Options are the released code's names where
    it has them; None takes the released value of the modality pair
    (:data:`RELEASED`: ``dim``, ``heads``, ``layers``, ``tau``,
    ``kappa``).

    Parameters
    ----------
    attribute : str
        The attribute of the group-level terms.
    modalities : {"slo+note", "slo+oct"}
    modulation : {"dual", "modality", "group", "off"}
        Which levels scale the encoder gradients ("off": plain fusion).
    rho, lambda_gm, mu_f, ema : float
        :math:`\\rho` (1.2), :math:`\\lambda_{gm}` (0.15), :math:`\\mu_f`
        (0.5) and the EMA decay of the group surrogate AUCs (0.9).
    tau, kappa : float, optional
        The trigger threshold and the group modulation strength.
    direction : {"off", "differentiable"}
    fair_loss : {"constant", "differentiable"}
    max_factor : float, optional
        An upper clamp of :math:`B_m \\rho R_m` (None: none, as released;
        the lower clamp at 0 always holds).
    dim, heads, layers : int, optional
        Fusion width, heads and layers.
    oct_slices : int
        B-scans per OCT volume (10, as released).
    cls_lr_scale, cls_weight_decay : float
        The auxiliary heads' optimizer: learning rate relative to the
        run's (1/3: the released 1e-5 against 3e-5) and weight decay
        (3e-3).
    dropout : float
        Dropout of the projections, fusion, heads and OCT aggregator
        (0.1, as released).
    """

    MODULATIONS = MODULATIONS

    def __init__(self, *, attribute: str = "gender",
                 modalities: str = "slo+note", modulation: str = "dual",
                 rho: float = 1.2, lambda_gm: float = 0.15,
                 mu_f: float = 0.5, tau: float | None = None,
                 kappa: float | None = None, ema: float = 0.9,
                 direction: str = "off", fair_loss: str = "constant",
                 max_factor: float | None = None, dim: int | None = None,
                 heads: int | None = None, layers: int | None = None,
                 oct_slices: int = 10, cls_lr_scale: float = 1 / 3,
                 cls_weight_decay: float = 3e-3, dropout: float = 0.1):
        self.attribute = check_attribute(attribute)
        check_choice("modalities", modalities, tuple(MODALITY_PAIRS))
        check_choice("modulation", modulation, self.MODULATIONS)
        check_choice("direction", direction, DIRECTIONS)
        check_choice("fair_loss", fair_loss, FAIR_LOSSES)
        released = RELEASED[modalities]
        self.modalities = modalities
        self.used = self._used(modalities)
        self.modulation, self.direction = modulation, direction
        self.fair_loss = fair_loss
        self.rho, self.lambda_gm, self.mu_f = float(rho), float(lambda_gm), \
            float(mu_f)
        self.tau = float(released["tau"] if tau is None else tau)
        self.kappa = float(released["kappa"] if kappa is None else kappa)
        self.dim = int(dim or released["dim"])
        self.heads = int(heads or released["heads"])
        self.layers = int(layers or released["layers"])
        self.ema, self.max_factor = float(ema), max_factor
        self.oct_slices = int(oct_slices)
        self.cls_lr_scale = float(cls_lr_scale)
        self.cls_weight_decay = float(cls_weight_decay)
        self.dropout = float(dropout)
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}.")
        for name, value in (("rho", self.rho), ("lambda_gm", self.lambda_gm),
                            ("mu_f", self.mu_f), ("kappa", self.kappa),
                            ("cls_lr_scale", self.cls_lr_scale),
                            ("cls_weight_decay", self.cls_weight_decay)):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}.")
        if self.tau <= 0 or not 0 <= self.ema < 1 or self.oct_slices < 1:
            raise ValueError(f"Need tau > 0, 0 <= ema < 1 and oct_slices >= "
                             f"1; got {self.tau}, {self.ema}, "
                             f"{self.oct_slices}.")
        if max_factor is not None and max_factor <= 0:
            raise ValueError(f"max_factor must be > 0 or None, got "
                             f"{max_factor}.")
        self.net: MultimodalNet | None = None
        self.oct: OCTEncoder | None = None
        self._encoders = None
        self.reset_state()

    @staticmethod
    def _used(modalities: str) -> tuple[str, ...]:
        return MODALITY_PAIRS[modalities]

    @property
    def n_slices(self) -> int:
        """B-scans per sample the data must hold (0: no OCT)."""
        return self.oct_slices if "oct" in self.used else 0

    # state ---------------------------------------------------------------
    def reset_state(self) -> None:
        k = n_groups(self.attribute)
        self.prev_auc = {m: 0.5 for m in self.used}
        self.group_ema = {m: [0.5] * k for m in self.used}
        self._epoch: dict[str, list[float]] = {}
        self.factors = {m: 1.0 for m in self.used}

    def state_dict(self) -> dict:
        return {"prev_auc": dict(self.prev_auc),
                "group_ema": {m: list(v) for m, v in self.group_ema.items()},
                "epoch": {k: list(v) for k, v in self._epoch.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.prev_auc = dict(state["prev_auc"])
        self.group_ema = {m: list(v) for m, v in state["group_ema"].items()}
        self._epoch = {k: list(v) for k, v in state.get("epoch", {}).items()}

    # parts ---------------------------------------------------------------
    def setup(self, context) -> None:
        super().setup(context)
        self.reset_state()
        self._encoders = None
        model = context.model
        widths = {}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(context.seed)
            device = next(model.visual.parameters()).device
            probe = torch.zeros(1, 3, context.bundle.image_size,
                                context.bundle.image_size, device=device)
            with torch.no_grad():
                visual_width = int(model.visual.eval()(probe).shape[-1])
            for m in self.used:
                if m == "slo":
                    widths[m] = visual_width
                elif m == "note":
                    from .adversarial import embedding_width
                    widths[m] = embedding_width(model)
                else:
                    self.oct = OCTEncoder(model.visual,
                                          n_slices=self.oct_slices,
                                          width=visual_width,
                                          dropout=self.dropout)
                    widths[m] = visual_width
            self.net = MultimodalNet(widths, dim=self.dim, heads=self.heads,
                                     layers=self.layers,
                                     fuse=len(self.used) > 1,
                                     dropout=self.dropout)

    def modules(self) -> dict[str, nn.Module]:
        out = {} if self.net is None else {"multifair": self.net}
        if self.oct is not None:
            out["oct_encoder"] = self.oct
        return out

    def encoder_parameters(self) -> dict[str, list[tuple[str, nn.Parameter]]]:
        """Modality -> the parameters of its encoder (the tensors the
        gradient modulation scales, listed explicitly; built once per
        setup, since ``before_step`` reads them every step)."""
        if self._encoders is None:
            self._encoders = self._list_encoders()
        return self._encoders

    def _list_encoders(self) -> dict[str, list[tuple[str, nn.Parameter]]]:
        model = self.context.model
        out = {}
        for m in self.used:
            if m == "slo":
                out[m] = [(f"visual.{n}", p) for n, p in
                          model.visual.named_parameters()]
            elif m == "note":
                out[m] = text_parameters(model)
            else:
                out[m] = [(f"oct_encoder.{n}", p) for n, p in
                          self.oct.named_parameters()]
        return out

    def trainable(self) -> list[ParamGroup]:
        groups = [ParamGroup(f"encoder_{m}", params) for m, params in
                  self.encoder_parameters().items()]
        groups.append(ParamGroup("fusion", [
            (f"multifair.{n}", p) for n, p in self.net.fusion_parameters()]))
        groups.append(ParamGroup(
            "aux", [(f"multifair.{n}", p) for n, p in
                    self.net.aux_parameters()],
            lr_scale=self.cls_lr_scale, weight_decay=self.cls_weight_decay,
            optimizer="aux"))
        return groups

    # forward -------------------------------------------------------------
    def embed(self, batch) -> dict[str, torch.Tensor]:
        """Projected embeddings z_m (B, dim) of the batch."""
        ctx, model, z = self.context, self.context.model, {}
        for m in self.used:
            if m == "slo":
                raw = model.encode_image(ctx.images(batch))
            elif m == "note":
                raw = model.encode_text(batch.tokens.to(ctx.device))
            else:
                if batch.volumes is None:
                    raise ValueError(
                        "modalities='slo+oct' needs OCT volumes in the "
                        "batch: load the split with n_slices="
                        f"{self.oct_slices} from a FairVision folder.")
                from ..data.torch import to_model_input
                b, k, s = batch.volumes.shape[:3]
                slices = to_model_input(
                    batch.volumes.reshape(b * k, 1, s, -1),
                    mean=ctx.bundle.mean, std=ctx.bundle.std,
                    device=ctx.device)
                raw = self.oct(slices.view(b, k, *slices.shape[1:]))
            z[m] = self.net.project[m](raw.float())
        return z

    def forward(self, batch):
        """(z, hidden, logits) of the fused classifier."""
        z = self.embed(batch)
        return (z, *self.classify(z))

    def classify(self, z: dict[str, torch.Tensor]):
        """(hidden, logits) of the fused head on embeddings z_m."""
        hidden = self.net.head(self.net.fused(z))
        return hidden, self.net.out(hidden)

    # training ------------------------------------------------------------
    def _codes(self, batch) -> torch.Tensor:
        return batch.attributes[:, ATTRIBUTES.index(self.attribute)]

    distributed = True

    def training_step(self, batch, step: int) -> StepOutput:
        """One step (module doc) on the global ``batch``: on several
        processes each embeds its slice and the embeddings are gathered
        with autograd (:mod:`fairnb.distributed`), so the fusion, the
        heads, the batch AUCs and the factors are the global batch's,
        the same in every process."""
        world, n = self.context.world, len(batch.index)
        with self.context.autocast():
            z = self.embed(world.local(batch))
            z = {m: world.gather(v, n) for m, v in z.items()}
            hidden, logits = self.classify(z)
        y = batch.labels.to(logits.device)
        ce = F.cross_entropy(logits.float(), y)
        loss, logs = ce, {"ce": float(ce.detach())}
        aux_logits, aux_hidden = {}, {}
        for m in self.used:
            aux_hidden[m] = self.net.aux[m](z[m].detach())
            aux_logits[m] = self.net.aux_out[m](aux_hidden[m]).float()
            aux_ce = F.cross_entropy(aux_logits[m], y)
            loss = loss + aux_ce
            logs[f"aux_ce_{m}"] = float(aux_ce.detach())
        self.factors = {m: 1.0 for m in self.used}
        if self.modulation == "off":  # the baselines: no modulation state
            return self._logged(StepOutput(loss=loss, logs=logs))
        codes = self._codes(batch).cpu().numpy()
        y_np = y.cpu().numpy()
        coef = self._modality_coefficients(aux_logits, y_np, logs)
        group = self._group_factors(aux_logits, y, codes, logs)
        fused_p = torch.softmax(logits.float(), 1)[:, 1]
        priority = self._priority(fused_p.detach().cpu().numpy(), y_np,
                                  codes)
        logs["priority"] = float(priority)
        if self.direction == "differentiable" and len(self.used) > 1:
            g_fus = head_weight_gradient(logits, hidden, y).flatten()
            cos = [F.cosine_similarity(g_fus, head_weight_gradient(
                aux_logits[m], aux_hidden[m], y).detach().flatten(), dim=0)
                for m in self.used]
            l_gm = (sum(abs(coef[m]) for m in self.used) - sum(
                coef[m] * c for m, c in zip(self.used, cos))) / len(self.used)
            loss = loss + self.lambda_gm * l_gm
            logs["l_gm"] = float(l_gm.detach())
        else:
            logs["l_gm"] = 0.0  # the released code's value (module doc)
        fair = self._fair_term(fused_p, y, codes, group["gap"])
        logs["fair_gap"] = float(fair.detach()) if torch.is_tensor(fair) \
            else float(fair)
        if priority and self.modulation in ("dual", "group"):
            loss = loss + self.mu_f * fair
        for m in self.used:
            f = 1.0
            if self.modulation in ("dual", "modality") and len(self.used) > 1:
                f *= coef[m] * self.rho
            if self.modulation in ("dual", "group") and priority:
                f *= group["R"][m]
            f = max(f, 0.0)
            if self.max_factor is not None:
                f = min(f, self.max_factor)
            self.factors[m] = f
            logs[f"factor_{m}"] = f
        return self._logged(StepOutput(loss=loss, logs=logs))

    def _logged(self, out: StepOutput) -> StepOutput:
        for key, value in out.logs.items():
            self._epoch.setdefault(key, []).append(value)
        return out

    def _modality_coefficients(self, aux_logits, y_np, logs) -> dict:
        delta = {}
        for m in self.used:
            p = torch.softmax(aux_logits[m].detach(), 1)[:, 1].cpu().numpy()
            auc = batch_auc(p, y_np)
            auc = self.prev_auc[m] if auc is None else auc
            delta[m] = auc - self.prev_auc[m]
            self.prev_auc[m] = auc
            logs[f"aux_auc_{m}"] = auc
        total = sum(abs(d) for d in delta.values())
        coef = {m: (total - abs(delta[m])) / (total + 1e-8)
                for m in self.used}
        for m in self.used:
            logs[f"B_{m}"] = coef[m]
        return coef

    def _group_factors(self, aux_logits, y, codes, logs) -> dict:
        k = n_groups(self.attribute)
        known = codes >= 0
        shares = np.array([(codes == g).sum() for g in range(k)], float)
        shares = shares / max(1, known.sum())
        R, gaps = {}, []
        for m in self.used:
            p = torch.softmax(aux_logits[m].detach(), 1)[:, 1]
            for g in range(k):
                rows = torch.as_tensor(codes == g, device=p.device)
                s = surrogate_auc(p[rows], y[rows]) if int(rows.sum()) >= 2 \
                    else None
                value = 0.5 if s is None else float(s)
                self.group_ema[m][g] = (self.ema * self.group_ema[m][g]
                                        + (1 - self.ema) * value)
            ema = np.array(self.group_ema[m])
            mu = ema.mean()
            gaps.extend(np.abs(ema - mu))
            r = 1 + self.kappa * (mu - ema) / self.tau
            R[m] = float((shares * r).sum()) if known.any() else 1.0
            logs[f"R_{m}"] = R[m]
        return {"R": R, "gap": float(np.mean(gaps))}

    def _priority(self, p, y, codes) -> bool:
        aucs = []
        for g in range(n_groups(self.attribute)):
            rows = codes == g
            if rows.sum() >= 2:
                auc = batch_auc(p[rows], y[rows])
                if auc is not None:
                    aucs.append(auc)
        return len(aucs) >= 2 and max(aucs) - min(aucs) > self.tau

    def _fair_term(self, fused_p, y, codes, constant: float):
        if self.fair_loss == "constant":
            return constant  # a detached number, as released
        values = []
        for g in range(n_groups(self.attribute)):
            rows = torch.as_tensor(codes == g, device=fused_p.device)
            if int(rows.sum()) >= 2:
                s = surrogate_auc(fused_p[rows], y[rows])
                if s is not None:
                    values.append(s)
        if len(values) < 2:
            return fused_p.sum() * 0.0
        stacked = torch.stack(values)
        return (stacked - stacked.mean()).abs().mean()

    def before_step(self, step: int) -> None:
        """Scale each encoder's gradients by its factor (module doc)."""
        for m, params in self.encoder_parameters().items():
            f = self.factors.get(m, 1.0)
            if f == 1.0:
                continue
            for _, p in params:
                if p.grad is not None:
                    p.grad.mul_(f)

    def on_epoch_start(self, epoch: int, n_epochs: int) -> None:
        self._epoch = {}

    def epoch_logs(self) -> dict[str, float]:
        out = {}
        for key in ("B", "factor", "R", "aux_auc"):
            for m in self.used:
                values = self._epoch.get(f"{key}_{m}")
                if values:
                    out[f"{key}_{m}"] = float(np.mean(values))
        if self._epoch.get("priority"):
            out["priority_rate"] = float(np.mean(self._epoch["priority"]))
        names = group_names(self.attribute) if self.modulation != "off" \
            else []
        for m in self.used if names else ():
            ema = np.array(self.group_ema[m])
            r = 1 + self.kappa * (ema.mean() - ema) / self.tau
            for name, a, rg in zip(names, ema, r):
                out[f"surrogate_{m}_{group_slug(name)}"] = float(a)
                out[f"r_{m}_{group_slug(name)}"] = float(rg)
        return out

    # scoring -------------------------------------------------------------
    @torch.no_grad()
    def score(self, data, *, device="cpu", batch_size: int = 256):
        """The fused head's p(glaucoma) on a split; ``similarity`` is the
        cosine between the first two modality embeddings (0 with one).
        Runs where the engine put the modules (``device`` is accepted for
        the common signature)."""
        from ..evaluate import Predictions
        scores, sims = [], []
        for start in range(0, len(data), batch_size):
            batch = data.batch(np.arange(start, min(start + batch_size,
                                                    len(data))))
            with self.context.autocast():
                z, _, logits = self.forward(batch)
            scores.append(torch.softmax(logits.float(), 1)[:, 1].cpu())
            zs = list(z.values())
            sims.append(F.cosine_similarity(zs[0].float(), zs[1].float())
                        .cpu() if len(zs) > 1 else torch.zeros(len(batch
                                                                  .index)))
        return Predictions.from_split(data, y_score=torch.cat(scores).numpy(),
                                      similarity=torch.cat(sims).numpy())

    def describe(self) -> str:
        if self.modulation == "off":
            return r"L = \mathrm{CE}(f(z_1, z_2), y)\ \text{(plain fusion)}"
        return (r"L = \mathrm{CE} + \lambda_{gm} L_{gm} + 1[\mathrm{priority}]"
                r"\,\mu_f F,\quad \nabla_{\theta_m} \leftarrow \max(0, B_m "
                r"\rho R_m)\,\nabla_{\theta_m}")


def _unmodulated(name: str, options: dict) -> dict:
    """``options`` with ``modulation="off"``; another value is an error (a
    baseline without modulation, compared with ``multifair``)."""
    if options.get("modulation", "off") != "off":
        raise ValueError(
            f"{name} is the classifier without gradient modulation; got "
            f"modulation={options['modulation']!r}. Use method='multifair' "
            "to modulate.")
    return {**options, "modulation": "off"}


@register_method("fusion")
class Fusion(MultiFair):
    """The same two-modality classifier without any modulation (MultiFair's
    "plain fusion" baseline): ``modulation="off"``."""

    def __init__(self, **options):
        super().__init__(**_unmodulated("fusion", options))


class Unimodal(MultiFair):
    """One modality alone: its encoder, projection and the head (no fusion,
    no modulation)."""

    MODALITY = "slo"

    def __init__(self, *, modalities: str = "slo+note", **options):
        pair = MODALITY_PAIRS.get(modalities, ())
        if pair and self.MODALITY not in pair:
            fix = "slo+note" if self.MODALITY == "note" else "slo+oct"
            raise ValueError(
                f"{self.MODALITY}_only reads the {self.MODALITY} modality, "
                f"which modalities={modalities!r} does not have; use "
                f"modalities={fix!r}.")
        super().__init__(modalities=modalities,
                         **_unmodulated(self.MODALITY + "_only", options))

    def _used(self, modalities: str) -> tuple[str, ...]:
        return (self.MODALITY,)


@register_method("slo_only")
class SLOOnly(Unimodal):
    """The fundus alone (a baseline of 07)."""

    MODALITY = "slo"


@register_method("note_only")
class NoteOnly(Unimodal):
    """The note alone (a baseline of 07 with ``slo+note``)."""

    MODALITY = "note"


@register_method("oct_only")
class OCTOnly(Unimodal):
    """The OCT B-scans alone (a baseline of 07 with ``slo+oct``)."""

    MODALITY = "oct"

    def __init__(self, *, modalities: str = "slo+oct", **options):
        super().__init__(modalities=modalities, **options)


#: the baselines 07 trains beside MultiFair, per modality pair
BASELINES = MULTIMODAL_BASELINES
