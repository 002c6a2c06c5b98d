"""CLIP's BPE token count without torch.

open_clip's ``SimpleTokenizer`` imports torch at module level (its
``__call__`` returns a tensor), and 01 and 02 only need to *count* tokens.
This module builds the same byte-level BPE with Hugging Face ``tokenizers``
(Rust, no torch) from the vocabulary file that ships inside the installed
open_clip wheel, located without importing open_clip. Text cleaning is
open_clip's ``clean="lower"``: ftfy, HTML unescaped twice, whitespace
collapsed, lower case. ``tests/test_notes.py`` checks the ids token for
token against open_clip's own tokenizer.
"""
from __future__ import annotations

import gzip
import html
import importlib.util
from functools import lru_cache
from pathlib import Path

VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
SPECIAL_TOKENS = ("<start_of_text>", "<end_of_text>")
# open_clip.tokenizer.SimpleTokenizer's pre-tokenization pattern
PATTERN = (r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|"
           r"[^\s\p{L}\p{N}]+")


def vocab_path() -> Path:
    """The BPE merges file of the installed open_clip (not imported)."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "counting CLIP tokens needs the open_clip vocabulary; install "
            "open_clip_torch (a fairnb dependency)")
    path = Path(next(iter(spec.submodule_search_locations))) / VOCAB_FILE
    if not path.is_file():
        raise FileNotFoundError(f"open_clip's vocabulary {path} is missing; "
                                "reinstall open_clip_torch")
    return path


def _byte_alphabet() -> list[str]:
    # GPT-2 / CLIP reversible byte -> printable character table
    printable = [*range(ord("!"), ord("~") + 1),
                 *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    chars = {b: chr(b) for b in printable}
    extra = (b for b in range(256) if b not in chars)
    for n, b in enumerate(extra):
        chars[b] = chr(256 + n)
    return [chars[b] for b in range(256) if b in printable] + [
        chars[b] for b in range(256) if b not in printable]


@lru_cache(maxsize=1)
def clip_tokenizer():
    """A ``tokenizers.Tokenizer`` equal to open_clip's SimpleTokenizer."""
    from tokenizers import Regex, Tokenizer, pre_tokenizers
    from tokenizers.models import BPE

    lines = gzip.open(vocab_path()).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1:49152 - 256 - 2 + 1]]
    alphabet = _byte_alphabet()
    vocab = [*alphabet, *(c + "</w>" for c in alphabet),
             *("".join(m) for m in merges), *SPECIAL_TOKENS]
    tok = Tokenizer(BPE(vocab={v: i for i, v in enumerate(vocab)},
                        merges=merges, end_of_word_suffix="</w>",
                        continuing_subword_prefix=""))
    # "<start_of_text>" / "<end_of_text>" in a text are the special ids,
    # as open_clip's pattern matches them first
    tok.add_special_tokens(list(SPECIAL_TOKENS))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PATTERN), behavior="removed",
                             invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    return tok


def clean(text: str) -> str:
    """open_clip's ``clean="lower"``."""
    import ftfy
    text = html.unescape(html.unescape(ftfy.fix_text(str(text)))).strip()
    return " ".join(text.split()).lower()


def encode(texts: list[str]) -> list[list[int]]:
    """BPE ids of each text, without start and end tokens.

    Examples
    --------
    >>> encode(["glaucoma"])[0] == encode(["GLAUCOMA "])[0]
    True
    """
    tok = clip_tokenizer()
    return [e.ids for e in tok.encode_batch([clean(t) for t in texts],
                                            add_special_tokens=False)]
