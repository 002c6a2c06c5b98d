r"""Acquisition conditions: the same images as another device would record
them, for training on one condition and testing on another.

A condition is an :class:`AcquisitionProfile` applied to a split's
images at the model's resolution, after the cache (:func:`apply_condition`;
``load_split(..., condition=...)``), in this order, on intensities
:math:`x \in [0, 1]`:

1. blur: a Gaussian of standard deviation ``blur`` times the image side
   (resolution-free: 0.015 is ~1 px at 64 px, ~3.4 px at 224 px);
2. contrast about the image's own mean :math:`m`: :math:`m + k(x - m)`;
3. gamma: :math:`x^\gamma` (> 1 darkens the midtones);
4. additive Gaussian noise of standard deviation ``noise``, drawn from a
   generator seeded by the condition and the sample id, so a sample gets
   the same noise in every run, batch and order;
5. clipping to [0, 1] and rounding back to uint8.

The conditions (:data:`PROFILES`; ``source`` is the data as stored):

========== ======== ======== ===== =====  ==================================
condition  contrast gamma    blur  noise  meant as
========== ======== ======== ===== =====  ==================================
source     1        1        0     0      the training device
low_contrast 0.6    1        0     0      a flatter sensor or exposure
blur       1        1        0.015 0      defocus, a softer lens
noise      1        1        0     0.06   a noisier sensor, lower light
device_b   0.75     1.25     0.01  0.03   an older device: all of these,
                                          milder
========== ======== ======== ===== =====  ==================================

The synthetic stand-in's planted disparity (:class:`fairnb.data.Bias`)
already lowers one group's disc contrast and raises its noise, so a
shift may cost that group more than the others: the shift and the gap
can interact, as they may on real devices (measured in 08: blur and
``device_b`` do, on one seed). On a real dataset the same profiles are a
*simulated* shift of its images (a run's ``data.json`` records the
conditions); a second real device is the real test.

Used in: 03_fairclip, 06_compare_methods, 08_dualfairvl.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..attributes import check_choice
from ..choices import CONDITIONS

__all__ = ["AcquisitionProfile", "PROFILES", "apply_condition",
           "check_condition", "describe_conditions"]


@dataclass(frozen=True)
class AcquisitionProfile:
    """How a device records an image (module doc); the identity by
    default."""

    contrast: float = 1.0
    gamma: float = 1.0
    blur: float = 0.0
    noise: float = 0.0

    def __post_init__(self):
        for name, low, high in (("contrast", 0.05, 2), ("gamma", 0.2, 5),
                                ("blur", 0, 0.2), ("noise", 0, 0.5)):
            if not low <= getattr(self, name) <= high:
                raise ValueError(
                    f"AcquisitionProfile.{name} must lie in [{low}, {high}],"
                    f" got {getattr(self, name)!r}.")

    @property
    def is_identity(self) -> bool:
        return self == AcquisitionProfile()


#: The named conditions of :data:`fairnb.choices.CONDITIONS`.
PROFILES: dict[str, AcquisitionProfile] = {
    "source": AcquisitionProfile(),
    "low_contrast": AcquisitionProfile(contrast=0.6),
    "blur": AcquisitionProfile(blur=0.015),
    "noise": AcquisitionProfile(noise=0.06),
    "device_b": AcquisitionProfile(contrast=0.75, gamma=1.25, blur=0.01,
                                   noise=0.03),
}
assert tuple(PROFILES) == CONDITIONS


def check_condition(condition: str) -> str:
    """``condition`` if it is one of :data:`PROFILES` (error naming them)."""
    check_choice("condition", condition, CONDITIONS)
    return condition


def describe_conditions() -> list[dict]:
    """The conditions as rows (name and profile values), for data cards
    and notebooks."""
    return [{"condition": name, **asdict(p)} for name, p in PROFILES.items()]


def _noise_seed(condition: str, sample_id: str) -> int:
    digest = hashlib.sha256(f"{condition}/{sample_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def apply_condition(images: torch.Tensor, condition: str | AcquisitionProfile,
                    *, ids) -> torch.Tensor:
    """``images`` (uint8 ``(N, C, S, S)``, one per id in ``ids``) as
    recorded under ``condition`` (a name of :data:`PROFILES` or a
    profile); ``source`` returns them unchanged.

    Examples
    --------
    >>> x = torch.full((1, 1, 8, 8), 100, dtype=torch.uint8)
    >>> x[0, 0, :, :4] = 200
    >>> y = apply_condition(x, "low_contrast", ids=["a"])
    >>> int(y.max()), int(y.min())  # 150 +- 0.6 * 50
    (180, 120)
    """
    name = condition if isinstance(condition, str) else "custom"
    profile = PROFILES[check_condition(condition)] if isinstance(
        condition, str) else condition
    ids = [str(i) for i in ids]
    if images.dtype != torch.uint8 or images.ndim != 4 or len(ids) != len(
            images):
        raise ValueError(
            f"Expected uint8 images (N, C, S, S) and one id each; got "
            f"{images.dtype} {tuple(images.shape)} and {len(ids)} ids.")
    if profile.is_identity:
        return images
    x = images.float() / 255
    if profile.blur:
        from torchvision.transforms.functional import gaussian_blur
        sigma = profile.blur * images.shape[-1]
        size = 2 * int(np.ceil(3 * sigma)) + 1
        x = gaussian_blur(x, [size, size], [sigma, sigma])
    if profile.contrast != 1:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = mean + profile.contrast * (x - mean)
    if profile.gamma != 1:
        x = x.clamp(0, 1) ** profile.gamma
    if profile.noise:
        shape = tuple(images.shape[1:])
        noise = np.stack([np.random.default_rng(_noise_seed(name, i))
                          .normal(0, profile.noise, shape) for i in ids])
        x = x + torch.from_numpy(noise.astype(np.float32))
    return (x.clamp(0, 1) * 255 + 0.5).floor().to(torch.uint8)
