"""Loss functions: CLIP contrastive and distances between 1-D distributions.

Pure functions of tensors; the methods in :mod:`fairnb.methods` combine
them. All are differentiable in both arguments.

Used in: 03_fairclip.
"""
from __future__ import annotations

import ot
import torch
import torch.nn.functional as F

#: ``blur`` below this fraction of the data's diameter takes the exact
#: blur -> 0 limit: log-domain Sinkhorn needs ~1e4+ iterations there and,
#: unconverged, is silently biased low (shared/research/ecosystem.md §2.2).
EXACT_BELOW = 0.03
from .choices import BACKENDS, DISTANCES  # noqa: E402,F401


def clip_loss(image_features: torch.Tensor, text_features: torch.Tensor,
              logit_scale: torch.Tensor | float) -> torch.Tensor:
    r"""Symmetric InfoNCE loss of CLIP.

    .. math::
        L = \tfrac12\big[\mathrm{CE}(sIT^\top, \mathrm{id})
            + \mathrm{CE}(sTI^\top, \mathrm{id})\big]

    Parameters
    ----------
    image_features, text_features : Tensor, shape (B, D)
        L2-normalised embeddings of matched pairs (row i with row i).
    logit_scale : Tensor or float
        The temperature ``s = exp(model.logit_scale)``.

    References
    ----------
    Radford et al., "Learning Transferable Visual Models From Natural
    Language Supervision", ICML 2021.
    """
    logits = logit_scale * image_features @ text_features.T
    labels = torch.arange(len(logits), device=logits.device)
    return 0.5 * (F.cross_entropy(logits, labels)
                  + F.cross_entropy(logits.T, labels))


def sinkhorn_distance(x: torch.Tensor, y: torch.Tensor, *,
                      blur: float = 1e-4, max_iter: int = 1000,
                      tol: float = 1e-6) -> torch.Tensor:
    r"""Sinkhorn divergence (self-terms subtracted) between two 1-D empirical
    distributions, with geomloss semantics (``p=2``).

    .. math::
        S_\varepsilon(\alpha, \beta) = \mathrm{OT}_\varepsilon(\alpha,\beta)
        - \tfrac12 \mathrm{OT}_\varepsilon(\alpha,\alpha)
        - \tfrac12 \mathrm{OT}_\varepsilon(\beta,\beta),
        \quad c(x, y) = \tfrac12 |x - y|^2,\ \varepsilon = \mathrm{blur}^2

    computed with POT's log-domain solver as
    ``0.5 * ot.solve_sample(x, y, reg=2 * blur**2, debias=True)``. For
    ``blur`` below ``EXACT_BELOW`` times the data's diameter the exact
    limit :math:`S_0 = \tfrac12 W_2^2` is returned
    (``0.5 * ot.wasserstein_1d(x, y, p=2)``, sorted samples), which is what
    geomloss returns at FairCLIP's blur of 1e-4 or 1e-6.

    Parameters
    ----------
    x : Tensor, shape (n,)
    y : Tensor, shape (m,)
        Samples with uniform weights; ``n`` and ``m`` may differ.
    blur : float
        Entropic blur (geomloss' ``blur``, in the units of the samples).

    Returns
    -------
    Tensor, shape ()
        Zero for identical inputs, positive otherwise, symmetric.

    Examples
    --------
    >>> x = torch.tensor([0.0, 1.0])
    >>> float(sinkhorn_distance(x, x + 1.0, blur=1e-6))
    0.5

    References
    ----------
    Feydy et al., "Interpolating between Optimal Transport and MMD using
    Sinkhorn Divergences", AISTATS 2019. Luo et al., "FairCLIP", CVPR 2024.
    """
    x, y = x.reshape(-1, 1), y.reshape(-1, 1)
    with torch.no_grad():
        both = torch.cat([x, y])
        diameter = float(both.max() - both.min())
    if blur <= EXACT_BELOW * max(diameter, 1e-12):
        return 0.5 * ot.wasserstein_1d(x, y, p=2).sum()
    result = ot.solve_sample(x, y, reg=2 * blur ** 2, debias=True,
                             max_iter=max_iter, tol=tol)
    return 0.5 * result.value


def wasserstein1_distance(x: torch.Tensor, y: torch.Tensor
                          ) -> torch.Tensor:
    r"""Exact 1-D Wasserstein-1 distance
    :math:`W_1 = \int_0^1 |F_x^{-1}(q) - F_y^{-1}(q)|\,dq`
    (``ot.wasserstein_1d(x, y, p=1)``).

    Examples
    --------
    >>> float(wasserstein1_distance(torch.zeros(3), torch.ones(5)))
    1.0
    """
    return ot.wasserstein_1d(x.reshape(-1, 1), y.reshape(-1, 1), p=1).sum()


def geomloss_sinkhorn(x: torch.Tensor, y: torch.Tensor, *,
                      blur: float = 1e-4) -> torch.Tensor:
    """The released FairCLIP code's Sinkhorn call, through geomloss:
    ``SamplesLoss("sinkhorn", p=2, blur=blur)`` on (n, 1) and (m, 1)
    clouds with its defaults (scaling 0.5, self-terms subtracted).

    Its value matches :func:`sinkhorn_distance` where its epsilon
    annealing converges (blur a few percent of the data's range, or the
    official similarity's scale); on cosines at FairCLIP's blur it stays
    10-20 % off the exact limit, and in the official regime its float32
    backward is not the gradient of its value (10-250x off against finite
    differences; shared/research/peercheck-official-fairclip.md §3). An
    option for reproducing the released numbers only; needs the
    ``geomloss`` extra.
    """
    try:
        from geomloss import SamplesLoss
    except ImportError:
        raise ImportError(
            "backend='geomloss' needs geomloss: pip install -e "
            "'.[geomloss]' (or pip install geomloss); backend='pot' needs "
            "nothing extra.") from None
    loss = SamplesLoss("sinkhorn", p=2, blur=blur)
    return loss(x.reshape(-1, 1), y.reshape(-1, 1))


def distribution_distance(x: torch.Tensor, y: torch.Tensor, *,
                          distance: str = "sinkhorn", blur: float = 1e-4,
                          backend: str = "pot") -> torch.Tensor:
    """Dispatch to :func:`sinkhorn_distance` (``backend="pot"``),
    :func:`geomloss_sinkhorn` (``"geomloss"``) or
    :func:`wasserstein1_distance` by name."""
    if distance == "sinkhorn" and backend == "geomloss":
        return geomloss_sinkhorn(x, y, blur=blur)
    if distance == "sinkhorn":
        return sinkhorn_distance(x, y, blur=blur)
    if distance == "wasserstein1":
        return wasserstein1_distance(x, y)
    raise ValueError(f"Unknown distance {distance!r}. Valid choices: "
                     f"{', '.join(DISTANCES)}.")


def clip_loss_per_sample(image_features: torch.Tensor,
                         text_features: torch.Tensor,
                         logit_scale: torch.Tensor | float) -> torch.Tensor:
    r"""CLIP's symmetric InfoNCE loss of each pair, shape (B,):
    :math:`\ell_i = \tfrac12[\mathrm{CE}_i(sIT^\top) +
    \mathrm{CE}_i(sTI^\top)]`, the image-to-text loss of row ``i`` and the
    text-to-image loss of column ``i``; their mean is :func:`clip_loss`.
    The per-pair losses DBPM keeps in memory and GroupDRO averages per
    group."""
    logits = logit_scale * image_features @ text_features.T
    labels = torch.arange(len(logits), device=logits.device)
    return 0.5 * (F.cross_entropy(logits, labels, reduction="none")
                  + F.cross_entropy(logits.T, labels, reduction="none"))
