r"""Adversarial training: CLIP whose embeddings are made hard to read the
protected attribute from.

An adversary head predicts the attribute's group from the image (and/or
text) embedding; it sits behind a gradient-reversal layer (Ganin and
Lempitsky, ICML 2015), so one backward pass trains the head to predict
the group and the encoders to defeat it (Beutel et al. 2017; Zhang,
Lemoine, Mitchell, AIES 2018):

.. math::
    L = L_{CLIP} + \alpha\, \mathrm{CE}\big(h(R_\gamma(z)), a\big), \qquad
    R_\gamma(z) = z,\ \ \partial R_\gamma / \partial z = -\gamma I

Any number of groups (MEDFAIR's LAFTR and CFair accept two); samples
Unknown (-1) for the attribute are left out of the adversary's loss.
``hidden`` = 0 makes the head linear. The FairCLIP paper's Fig. 3c
compares FairCLIP with an adversarial baseline of this kind.

References
----------
Ganin & Lempitsky, "Unsupervised Domain Adaptation by Backpropagation",
ICML 2015. Beutel, Chen, Zhao, Chi, "Data Decisions and Theoretical
Implications when Adversarially Learning Fair Representations", FAT/ML
2017. Zhang, Lemoine, Mitchell, "Mitigating Unwanted Biases with
Adversarial Learning", AIES 2018.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..attributes import ATTRIBUTES, check_attribute, check_choice, n_groups
from .base import ParamGroup
from .clip import CLIP, Forward
from .registry import register_method

ADVERSARY_INPUTS = ("image", "text", "both")


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.scale * grad, None


def reverse_gradient(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Identity forward; the gradient times ``-scale`` backward (the
    gradient-reversal layer).

    Examples
    --------
    >>> x = torch.ones(2, requires_grad=True)
    >>> reverse_gradient(x, 0.5).sum().backward()
    >>> x.grad.tolist()
    [-0.5, -0.5]
    """
    return _Reverse.apply(x, float(scale))


def embedding_width(model: torch.nn.Module) -> int:
    """The width of an open_clip model's joint embedding (CLIP's
    ``visual.output_dim``, else the text projection's output)."""
    width = getattr(getattr(model, "visual", None), "output_dim", None)
    if width:
        return int(width)
    for owner in (model, getattr(model, "text", None)):
        proj = getattr(owner, "text_projection", None)
        if isinstance(proj, torch.nn.Parameter):
            return int(proj.shape[1])
        if isinstance(proj, torch.nn.Linear):
            return int(proj.out_features)
    raise ValueError(
        f"Cannot tell the embedding width of {type(model).__name__} (no "
        "visual.output_dim or text_projection); the adversary head needs "
        "it.")


@register_method("adversarial")
class Adversarial(CLIP):
    """CLIP + an adversary behind gradient reversal (module doc).

    Parameters
    ----------
    attribute : str
        The attribute the adversary predicts.
    adv_weight : float
        :math:`\\alpha`, the weight of the adversary's loss.
    reversal : float
        :math:`\\gamma`, the scale of the reversed gradient (0: the
        adversary learns, the encoders ignore it).
    hidden : int
        Width of the head's hidden layer (0: a linear head).
    adversary_input : {"image", "text", "both"}
        Which embedding the adversary reads.
    trainable : {"all", "towers"}
        As :class:`~fairnb.methods.CLIP`; the head always trains.
    """

    def __init__(self, *, attribute: str = "race", adv_weight: float = 1.0,
                 reversal: float = 1.0, hidden: int = 64,
                 adversary_input: str = "image", trainable: str = "all"):
        super().__init__(trainable=trainable)
        check_choice("adversary_input", adversary_input, ADVERSARY_INPUTS)
        if adv_weight < 0 or reversal < 0 or hidden < 0:
            raise ValueError(f"adv_weight, reversal and hidden must be >= 0; "
                             f"got {adv_weight}, {reversal}, {hidden}.")
        self.attribute = check_attribute(attribute)
        self.adv_weight, self.reversal = float(adv_weight), float(reversal)
        self.hidden, self.adversary_input = int(hidden), adversary_input
        self.head: torch.nn.Module | None = None

    def setup(self, context) -> None:
        super().setup(context)
        dim = embedding_width(context.model)
        width = 2 * dim if self.adversary_input == "both" else dim
        k = n_groups(self.attribute)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(context.seed)
            self.head = torch.nn.Linear(width, k) if not self.hidden else \
                torch.nn.Sequential(torch.nn.Linear(width, self.hidden),
                                    torch.nn.ReLU(),
                                    torch.nn.Linear(self.hidden, k))

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"adversary": self.head} if self.head is not None else {}

    def trainable(self) -> list[ParamGroup]:
        groups = super().trainable()
        if self.trainable_parts == "all":
            return groups  # the base includes every module's parameters
        return groups + [ParamGroup("adversary", [
            (f"adversary.{n}", p) for n, p in self.head.named_parameters()])]

    def adversary_logits(self, fwd: Forward) -> torch.Tensor:
        """The head's group logits on the reversed embeddings."""
        z = {"image": fwd.image_features, "text": fwd.text_features}.get(
            self.adversary_input)
        if z is None:
            z = torch.cat([fwd.image_features, fwd.text_features], dim=1)
        dtype = next(self.head.parameters()).dtype
        return self.head(reverse_gradient(z, self.reversal).to(dtype))

    def loss(self, fwd: Forward, batch) -> tuple[torch.Tensor, dict]:
        loss, logs = super().loss(fwd, batch)
        codes = batch.attributes[:, ATTRIBUTES.index(self.attribute)].to(
            fwd.image_features.device)
        known = codes >= 0
        if not self.adv_weight or not bool(known.any()):
            return loss, logs
        logits = self.adversary_logits(fwd)[known]
        adv = F.cross_entropy(logits, codes[known])
        logs["adversary_loss"] = float(adv.detach())
        logs["adversary_acc"] = float((logits.argmax(1) == codes[known])
                                      .float().mean())
        return loss + self.adv_weight * adv, logs

    def describe(self) -> str:
        return (r"L = L_{CLIP} + \alpha\,\mathrm{CE}(h(R_\gamma(z)), a)")
