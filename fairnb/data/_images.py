"""Drawing SLO-like fundus images for the synthetic stand-in.

Used by :mod:`fairnb.data.synthetic`.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

SHAPE = (664, 512)
BASE_NOISE = 0.035  # image noise sigma outside the bias group

def soft_disk(d: np.ndarray, edge: float) -> np.ndarray:
    """1 inside ``d < 1``, 0 outside, with a logistic edge."""
    return 0.5 - 0.5 * np.tanh((d - 1.0) / (2 * edge))


def render_image(rng: np.random.Generator, cdr: float, *,
                  contrast: float = 1.0, darkening: float = 1.0,
                  noise: float = BASE_NOISE) -> np.ndarray:
    """One 664x512 uint8 SLO-like fundus image with the given CDR.

    Drawn at quarter resolution and upsampled (9 ms instead of 180 ms at
    full resolution); models see 64-224 px anyway. Noise lives on 8x8-pixel
    blocks, one pixel at the 64-px model input, so the noise knob survives
    the downsampling a model applies. ``rng`` draws the same numbers
    whatever the knobs.
    """
    (h, w), s = SHAPE, 4
    y, x = np.mgrid[0:h // s, 0:w // s].astype(np.float32) * s + s / 2
    cy, cx = h / 2 + rng.normal(0, 8), w / 2 + rng.normal(0, 8)
    r = np.hypot(x - cx, y - cy) / (w * rng.uniform(0.46, 0.5))
    img = 0.02 + 0.42 * np.clip(1 - 0.45 * r**2, 0, 1) * soft_disk(r, .02)
    dx = cx + rng.choice([-1, 1]) * w * rng.uniform(0.0, 0.06)
    dy = cy + rng.normal(0, 0.02 * h)
    rd, aspect = w * rng.uniform(0.13, 0.18), rng.uniform(0.85, 1.15)
    rr = np.hypot(x - dx, (y - dy) / aspect) / rd
    img += contrast * (0.16 * soft_disk(rr, .06)
                       + 0.22 * soft_disk(rr / cdr, .05))
    # Vessels: curves theta = phi + bend * log(1 + rr) leaving the disc.
    theta, near = np.arctan2(y - dy, x - dx) + np.pi, np.inf
    log_r, arc = np.log1p(rr), rr * (rd / w)
    k = rng.integers(4, 7)
    for phi, bend, width in zip(rng.uniform(0, 2 * np.pi, k),
                                rng.normal(0, 0.6, k),
                                rng.uniform(0.010, 0.016, k)):
        off = np.abs((theta - phi - bend * log_r) % (2 * np.pi) - np.pi)
        near = np.minimum(near, (off * arc / width) ** 2)
    img *= (1 - 0.45 * np.exp(-near) * (rr > 0.3)) * darkening
    img += np.repeat(np.repeat(rng.normal(0, noise, (h // 8, w // 8)),
                               2, 0), 2, 1)
    small = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.BILINEAR))


def total_deviation(rng: np.random.Generator, md: float, glaucoma: int
                     ) -> np.ndarray:
    """52 total-deviation values averaging ``md``; glaucoma adds a
    hemifield defect."""
    tds = rng.normal(0, 1.2, 52)
    if glaucoma:
        tds += np.where(np.arange(52) < 26, 1, 0)[::rng.choice([-1, 1])] \
            * 0.6 * md
    return (tds - tds.mean() + md).astype(np.float32)
