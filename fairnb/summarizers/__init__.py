"""Summarisers that shorten clinical notes to the paper's 180 characters.

Used in: 02_summarize_notes.
"""
from .prompt import PAPER_PROMPT, make_prompt

__all__ = ["PAPER_PROMPT", "make_prompt"]
