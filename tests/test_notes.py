"""fairnb.tokens / notes: CLIP token counts without torch."""
import subprocess
import sys

import pytest

from fairnb.notes import count_tokens
from fairnb.tokens import encode

TRICKY = [
    "A photo of glaucoma", "Pt's C/D 0.7 OU; IOP 21mmHg — f/u in 3 mo.",
    "naïve café résumé", "emoji 😀👍 ok", "&amp;lt; html &quot;x&quot;",
    "I'll we've they're DON'T", "  multiple   spaces\n\ttabs ",
    "数字123 日本語テキスト", "x" * 300, "", "Ｆｕｌｌwidth", "ﬁ ligature",
    "İstanbul ǅ", "’curly’ apostrophes’s", "a-b_c~d`e", "mojibake: cafÃ©",
    "\x1cfile\x1dsep\u2028line\u00a0nbsp\u3000ideo", "OD 20/40, OS 20/25+2",
    "a note with <end_of_text> inside", "<START_OF_TEXT>x<start_of_text>",
]


@pytest.fixture(scope="module")
def open_clip_tokenizer():
    from open_clip.tokenizer import SimpleTokenizer
    return SimpleTokenizer()


def test_ids_equal_open_clips_on_tricky_text(open_clip_tokenizer):
    for text, ids in zip(TRICKY, encode(TRICKY)):
        assert ids == open_clip_tokenizer.encode(text), text


def test_ids_equal_open_clips_on_every_synthetic_note(open_clip_tokenizer):
    import fairnb as fnb
    ds = fnb.open_dataset(preset="smoke", summaries="none")
    notes = ds.metadata()["note"].tolist()
    assert len(notes) >= 100
    assert encode(notes) == [open_clip_tokenizer.encode(t) for t in notes]
    # what open_clip's tokenize() would fill of the 77-token context
    assert count_tokens(notes).tolist() == [
        len(open_clip_tokenizer.encode(t)) + 2 for t in notes]


def test_counting_tokens_imports_no_torch():
    code = ("import sys; from fairnb.notes import count_tokens; "
            "print(int(count_tokens(['glaucoma suspect'])[0]), "
            "'torch' in sys.modules, 'open_clip' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["5", "False", "False"]  # open_clip: 5
