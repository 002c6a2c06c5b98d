"""The offline, deterministic default summarizer: pick the clinical
sentences of a note, diagnosis first, within 180 characters and 77 CLIP
tokens.

A note is split into sentences, and long sentences into clauses. Each piece
is scored for clinical content (the diagnosis or its negation, cup-to-disc
ratio, IOP, visual field, RNFL, medications, plan); standard ophthalmic
abbreviations shorten it ("intraocular pressure" -> "IOP"); diagnosis
names stay spelled out, since the word "glaucoma" is what zero-shot prompts
match. The diagnosis statement leads, alone (a second one would repeat
it); the best-scoring other pieces follow in note order while they fit.
Words are never cut: a piece that does not fit is left out, and only a
diagnosis statement longer than the whole budget is shortened, at a word
boundary.

Used in: 02_summarize_notes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..notes import CLIP_CONTEXT, count_tokens

# Negated or negative diagnosis first: "non-glaucoma", "no glaucoma",
# "negative for glaucoma", "without glaucoma", "glaucoma ruled out".
NEGATIVE = re.compile(
    r"\b(non-?glaucoma(?:tous)?|no (?:evidence of |signs? of )?glaucoma|"
    r"negative for glaucoma|without glaucoma|glaucoma (?:was |is )?ruled "
    r"out|not glaucoma|physiologic cupping)\b", re.I)
POSITIVE = re.compile(
    r"\b(glaucoma|glaucomatous|POAG|PACG|NTG|angle[- ]closure|"
    r"pseudoexfoliation|pigment dispersion)\b", re.I)
FAMILY = re.compile(r"\bfamily history|\bFHx\b|\bmother|\bfather|\bsibling",
                    re.I)
ASSESSMENT = re.compile(
    r"\b(assessment|impression|diagnos[ie]s|dx|a/p)\b|\bwith (known )?"
    r"(mild|moderate|severe|advanced)?\s*\w*\s*glaucoma", re.I)

#: (weight, pattern) of clinical content other than the diagnosis.
CONTENT = (
    (3.0, re.compile(r"\b(C/D|cup[- ]to[- ]disc|CDR|rim|notch|cupping|"
                     r"disc hemorrhage|optic nerve)", re.I)),
    (3.0, re.compile(r"\b(IOP|intraocular pressure|mmHg|tonometry)\b",
                     re.I)),
    (2.5, re.compile(r"\b(visual field|VF|HVF|Humphrey|MD|mean deviation|"
                     r"arcuate|nasal step|paracentral|scotoma)\b", re.I)),
    (2.5, re.compile(r"\b(RNFL|OCT|nerve fiber layer|GCC|GCL)\b", re.I)),
    (2.0, re.compile(r"\b(latanoprost|bimatoprost|travoprost|timolol|"
                     r"brimonidine|dorzolamide|brinzolamide|netarsudil|"
                     r"drops?|SLT|trabeculectomy|tube shunt|MIGS|"
                     r"iridotomy)\b", re.I)),
    (1.5, re.compile(r"\b(follow[- ]up|return in|plan|target|monitor|"
                     r"progress\w*|stable)\b", re.I)),
    (1.0, re.compile(r"\b(CCT|pachymetry|gonioscopy|angles?)\b", re.I)),
    (0.5, re.compile(r"\b(OD|OS|OU)\b")),
)

#: Standard ophthalmic abbreviations (long form -> short form).
ABBREVIATIONS = (
    (r"\bintraocular pressures?\b", "IOP"),
    (r"\b(?:vertical )?cup[- ]to[- ]disc(?: ratios?)?\b", "C/D"),
    (r"\bC/D ratio\b", "C/D"),
    (r"\bvisual fields?\b", "VF"),
    (r"\bmean deviation\b", "MD"),
    (r"\bretinal nerve fiber layer\b", "RNFL"),
    (r"\baverage RNFL thickness\b", "RNFL"),
    (r"\bcentral corneal thickness\b", "CCT"),
    (r"\bright eye worse than left\b", "OD>OS"),
    (r"\bleft eye worse than right\b", "OS>OD"),
    (r"\bin both eyes\b", "OU"),
    (r"\bboth eyes\b", "OU"),
    (r"\bright eye\b", "OD"),
    (r"\bleft eye\b", "OS"),
    (r"\bfollow up\b", "f/u"),
    (r"\byears? old\b", "y/o"),
    (r"\bmicrons\b", "um"),
    (r"\bby applanation\b|\bby Goldmann tonometry\b", ""),
    (r"\bPatient is (?:an?|the) ", ""),
)
_WORD = re.compile(r"glaucoma", re.I)
_ABBREV = [(re.compile(p, re.I), r) for p, r in ABBREVIATIONS]
# sentence ends: ". " not after a title, an initial or inside a number
_SENTENCE = re.compile(
    r"(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bMrs\.)(?<!\bvs\.)"
    r"(?<!\bProf\.)(?<!\b[A-Z]\.)(?<=[.!?])\s+|\s*\n+\s*")
_CLAUSE = re.compile(r";\s+|,\s+(?=(?:and |with |but )?[A-Za-z])")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (decimals, titles and initials kept whole).

    Examples
    --------
    >>> split_sentences("IOP 18 mmHg OD. C/D 0.7 OU. Seen by Dr. Smith.")
    ['IOP 18 mmHg OD.', 'C/D 0.7 OU.', 'Seen by Dr. Smith.']
    """
    parts = _SENTENCE.split(str(text).strip())
    return [" ".join(p.split()) for p in parts if p and p.strip()]


def abbreviate(text: str) -> str:
    """Shorten standard ophthalmic phrases (:data:`ABBREVIATIONS`)."""
    for pattern, short in _ABBREV:
        text = pattern.sub(short, text)
    text = re.sub(r"\s+([,.;])", r"\1", text)
    return " ".join(text.split())


def stated_diagnosis(text: str) -> int | None:
    """1 if ``text`` states glaucoma, 0 if it states its absence, None if
    neither (family history alone states nothing).

    Examples
    --------
    >>> stated_diagnosis("Assessment: non-glaucoma exam, both eyes.")
    0
    >>> stated_diagnosis("72 y/o male with moderate POAG OU.")
    1
    >>> stated_diagnosis("Family history of glaucoma in mother.") is None
    True
    """
    text = str(text)
    if NEGATIVE.search(text):
        return 0
    for m in POSITIVE.finditer(text):
        before = text[max(0, m.start() - 40):m.start()]
        if not FAMILY.search(before):
            return 1
    return None


@dataclass(frozen=True)
class Piece:
    """A sentence or clause of a note with its score."""

    index: int
    text: str
    score: float
    diagnosis: bool


def _pieces(note: str, *, max_chars: int) -> list[Piece]:
    pieces, i = [], 0
    for sentence in split_sentences(note):
        short = abbreviate(sentence)
        parts = [short] if len(short) <= max_chars // 2 else [
            c for c in _CLAUSE.split(short) if c]
        for part in parts:
            part = part.strip(" ,;")
            if not part:
                continue
            dx = stated_diagnosis(part) is not None
            score = sum(w for w, p in CONTENT if p.search(part))
            if dx:
                score += 10.0 + 2.0 * bool(ASSESSMENT.search(part))
            # per character, so a dense short piece beats a long one
            pieces.append(Piece(i, part, score / (20 + len(part)), dx))
            i += 1
    return pieces


def _fits(text: str, max_chars: int, max_tokens: int) -> bool:
    return (len(text) <= max_chars
            and int(count_tokens([text])[0]) <= max_tokens)


def cut_words(text: str, *, max_chars: int,
              max_tokens: int = CLIP_CONTEXT) -> str:
    """``text`` shortened at word boundaries to fit both limits (a single
    word longer than ``max_chars`` is the one case cut inside a word)."""
    words = " ".join(str(text).split()).split(" ")
    out = ""
    for word in words:
        trial = f"{out} {word}".strip()
        if not _fits(trial, max_chars, max_tokens):
            break
        out = trial
    if not out and words and words[0]:
        out = words[0][:max_chars]
    return out.rstrip(" ,;:")


def summarize_note(note: str, *, max_chars: int = 180,
                   max_tokens: int = CLIP_CONTEXT) -> str:
    """Extractive summary of one note within ``max_chars`` characters and
    ``max_tokens`` CLIP tokens (start and end tokens included)."""
    pieces = [p for p in _pieces(note, max_chars=max_chars) if p.text]
    if not pieces:
        return ""
    dx = [p for p in pieces if p.diagnosis]
    # the diagnosis statement: one naming glaucoma in words (what zero-shot
    # prompts say) over an acronym, then an assessment, then the first
    lead = max(dx, key=lambda p: (_WORD.search(p.text) is not None, p.score,
                                  -p.index)) if dx else None
    chosen = []
    if lead is not None:
        text = lead.text if _fits(lead.text, max_chars, max_tokens) else \
            cut_words(lead.text, max_chars=max_chars, max_tokens=max_tokens)
        chosen.append(Piece(lead.index, text, lead.score, True))
    rest = sorted((p for p in pieces if p is not lead),
                  key=lambda p: (-p.score, p.index))
    for piece in rest:
        # one diagnosis statement: a second one repeats it (or, in a
        # contradictory note, would blur it)
        if (piece.diagnosis and lead is not None) or _redundant(
                piece.text, chosen):
            continue
        trial = chosen + [piece]
        if _fits(_join(trial), max_chars, max_tokens):
            chosen = trial
    if not chosen:  # nothing fits whole: the best piece, cut at words
        return cut_words(rest[0].text, max_chars=max_chars,
                         max_tokens=max_tokens)
    return _join(chosen)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9/.]+", text.lower()))


def _redundant(text: str, chosen: list[Piece]) -> bool:
    """Whether 80 % of ``text``'s words are already in ``chosen``."""
    words = _words(text)
    have = set().union(*(_words(p.text) for p in chosen)) if chosen else set()
    return bool(words) and len(words & have) >= 0.8 * len(words)


def _join(pieces: list[Piece]) -> str:
    head, tail = pieces[:1], sorted(pieces[1:], key=lambda p: p.index)
    texts = [p.text.rstrip(".") for p in head + tail]
    return ". ".join(texts) + "." if texts else ""


class ExtractiveSummarizer:
    """Offline, deterministic summarizer (:func:`summarize_note`).

    Examples
    --------
    >>> s = ExtractiveSummarizer(max_chars=60)
    >>> s(["Reports mild blur. Assessment: moderate POAG OU. IOP 22 mmHg "
    ...    "OD, 19 mmHg OS by applanation."])
    ['Assessment: moderate POAG OU. IOP 22 mmHg OD, 19 mmHg OS.']
    """

    name = "extractive"

    def __init__(self, *, max_chars: int = 180,
                 max_tokens: int = CLIP_CONTEXT):
        self.max_chars, self.max_tokens = max_chars, max_tokens

    def __call__(self, notes: list[str]) -> list[str]:
        return [summarize_note(n, max_chars=self.max_chars,
                               max_tokens=self.max_tokens) for n in notes]
