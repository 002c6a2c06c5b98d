"""The FairCLIP paper's summarisation prompt, shared by every backend.

Used in: 02_summarize_notes.
"""
from __future__ import annotations

from numbers import Integral

#: The prompt the FairCLIP authors gave GPT-4 (Luo et al., CVPR 2024).
PAPER_PROMPT = ("Summarize the key details, including the presence of "
                "glaucoma, from the clinical note within 180 characters.")


def make_prompt(*, max_chars: int = 180) -> str:
    """The paper's prompt asking for at most ``max_chars`` characters.

    Examples
    --------
    >>> make_prompt() == PAPER_PROMPT
    True
    >>> make_prompt(max_chars=77).endswith("within 77 characters.")
    True
    """
    if (isinstance(max_chars, bool) or not isinstance(max_chars, Integral)
            or max_chars < 1):
        raise ValueError(f"max_chars must be a positive integer, got "
                         f"{max_chars!r}.")
    return ("Summarize the key details, including the presence of "
            f"glaucoma, from the clinical note within {int(max_chars)} "
            "characters.")
