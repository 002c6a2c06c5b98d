"""Clinical-note text helpers: lengths in words and CLIP tokens, truncation.

CLIP reads at most 77 tokens (start and end tokens included), while
Harvard-FairVLMed notes run to 332 words; these helpers measure how much a
model would lose and cut notes the way the official code does.

Used in: 01_explore_data, 03_fairclip.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

CLIP_CONTEXT = 77


def count_words(texts: Iterable[str]) -> np.ndarray:
    """Number of whitespace-separated words of each text."""
    return np.array([len(str(t).split()) for t in texts], dtype=np.int64)


def count_tokens(texts: Iterable[str]) -> np.ndarray:
    """CLIP BPE tokens of each text, start and end tokens included.

    A value above 77 means the standard CLIP text encoder would truncate.
    Counted without torch (``fairnb.tokens``), the same ids as open_clip.

    Examples
    --------
    >>> int(count_tokens(["A photo of glaucoma"])[0])
    7
    """
    from .tokens import encode
    return np.array([len(ids) + 2 for ids in encode([str(t) for t in texts])],
                    dtype=np.int64)


def truncate_note(text: str, *, max_chars: int = 180) -> str:
    """Cut ``text`` to at most ``max_chars``, back to the last space.

    This is the official FairCLIP protocol for notes fed to CLIP
    (shared/METHODS.md §0.2); a single over-long word is cut hard.

    Examples
    --------
    >>> truncate_note("no glaucoma seen today", max_chars=14)
    'no glaucoma'
    """
    text = " ".join(str(text).split())
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars + 1].rsplit(" ", 1)[0]
    return cut if 0 < len(cut) <= max_chars else text[:max_chars]
