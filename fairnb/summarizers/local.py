"""Note summaries from a local Hugging Face model, strictly offline.

``LocalModelSummarizer`` runs a model folder the user downloaded (a
Flan-T5, or a causal medical LLM such as Med42 or PMC-LLaMA) with the
FairCLIP paper's prompt. Files load with ``local_files_only=True``, so
nothing is fetched from a hub: the folder must hold ``config.json``, the
tokenizer files and the weights. Decoding is greedy (or beam search)
under a fixed seed, so the same notes give the same summaries.

Used in: 02_summarize_notes.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..attributes import check_choice
from ..devices import autocast_dtype, resolve_device
from .prompt import make_prompt

DTYPES = ("auto", "float32", "bfloat16", "float16")
WEIGHT_FILES = ("*.safetensors", "*.bin", "*.pt", "*.pth")
# Flan-T5 was trained on 512 input tokens; its relative positions set no
# hard limit, so this is the budget when neither file names one.
DEFAULT_MAX_INPUT = 512
_REQUIRED = ("config.json, the tokenizer files (tokenizer.json or "
             "tokenizer_config.json with its vocabulary) and the weights "
             "(*.safetensors or pytorch_model*.bin)")


def _transformers():
    try:
        import transformers
    except ImportError as err:
        raise ImportError(
            "LocalModelSummarizer needs the transformers package: "
            "pip install 'transformers>=4.56'") from err
    return transformers


def check_model_folder(model_path) -> Path:
    """Return ``model_path`` as a Path, or say what the folder lacks.

    Raises
    ------
    FileNotFoundError
        When the folder, its ``config.json`` or its weights are missing.
    """
    path = Path(model_path).expanduser()
    where = (f"The model folder must contain {_REQUIRED}. Downloads are "
             "disabled (local_files_only=True): save the model on a "
             "connected machine with save_pretrained() or "
             "`hf download <repo> --local-dir <folder>` and copy it here.")
    if not path.is_dir():
        raise FileNotFoundError(f"Model folder {str(path)!r} not found. "
                                + where)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"No config.json in {str(path)!r}. " + where)
    if not any(next(path.glob(p), None) for p in WEIGHT_FILES):
        raise FileNotFoundError(f"No weight files in {str(path)!r}. "
                                + where)
    return path


def _weights_dtype(dtype: str, device: torch.device) -> torch.dtype:
    # "auto" takes bf16 on GPUs that have it and fp32 elsewhere: fp16 makes
    # T5 overflow, so it is used only when asked for.
    if dtype != "auto":
        return getattr(torch, dtype)
    if autocast_dtype(device) == torch.bfloat16:
        return torch.bfloat16
    return torch.float32


def _max_input_tokens(tokenizer, config) -> int:
    limits = [n for n in (tokenizer.model_max_length,
                          getattr(config, "max_position_embeddings", None))
              if isinstance(n, int) and 0 < n < 1_000_000]
    return min(limits) if limits else DEFAULT_MAX_INPUT


def _text(note) -> str:
    # pandas reads an empty CSV cell as NaN, which str() would make "nan"
    if note is None or (isinstance(note, float) and note != note):
        return ""
    return str(note)


class LocalModelSummarizer:
    """Summarize clinical notes with a local seq2seq or causal LM.

    Parameters
    ----------
    model_path : str or Path
        Folder written by ``save_pretrained`` (model and tokenizer).
    max_chars : int
        Length asked for in the prompt. Outputs are returned as generated
        (stripped): :func:`fairnb.summarize.summarize_notes` post-checks
        every summary and counts the ones it had to cut.
    max_new_tokens : int
        Generation budget per note.
    batch_size : int
        Notes per ``generate`` call.
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``; None picks CUDA when present.
    dtype : {"auto", "float32", "bfloat16", "float16"}
        Weight precision; ``"auto"`` is bfloat16 on a GPU that supports it,
        float32 otherwise.
    num_beams : int
        1 is greedy decoding.
    seed : int
        Set with ``torch.manual_seed`` before each call.

    Raises
    ------
    FileNotFoundError
        When ``model_path`` is not a complete model folder.
    ImportError
        When transformers is not installed.

    Examples
    --------
    >>> summarize = LocalModelSummarizer("models/flan-t5")  # doctest: +SKIP
    >>> summarize(["Pt with elevated IOP 28 mmHg OD ..."])  # doctest: +SKIP
    ['elevated IOP, glaucoma suspected']

    References
    ----------
    Luo et al., "FairCLIP: Harnessing Fairness in Vision-Language
    Learning", CVPR 2024 (notes summarised to 180 characters).
    """

    name = "transformers"

    def __init__(self, model_path, *, max_chars: int = 180,
                 max_new_tokens: int = 64, batch_size: int = 8,
                 device: str | None = None, dtype: str = "auto",
                 num_beams: int = 1, seed: int = 0):
        self.model_path = check_model_folder(model_path)
        check_choice("dtype", dtype, DTYPES)
        tf = _transformers()
        self.max_chars = int(max_chars)
        self.max_new_tokens = int(max_new_tokens)
        self.batch_size = max(1, int(batch_size))
        self.num_beams = int(num_beams)
        self.seed = int(seed)
        self.device = resolve_device(device or "auto")
        self.prompt = make_prompt(max_chars=self.max_chars)
        kw = {"local_files_only": True}
        config = tf.AutoConfig.from_pretrained(self.model_path, **kw)
        self.is_seq2seq = bool(getattr(config, "is_encoder_decoder", False))
        self.tokenizer = tf.AutoTokenizer.from_pretrained(self.model_path,
                                                          **kw)
        auto = (tf.AutoModelForSeq2SeqLM if self.is_seq2seq
                else tf.AutoModelForCausalLM)
        self.model = auto.from_pretrained(
            self.model_path, config=config,
            dtype=_weights_dtype(dtype, self.device), **kw)
        self.model.to(self.device).eval()
        # A causal model's positions hold the prompt and the answer.
        answer = 0 if self.is_seq2seq else self.max_new_tokens
        self.max_input_tokens = max(
            1, _max_input_tokens(self.tokenizer, config) - answer)
        self._prepare_tokenizer()

    def __repr__(self) -> str:
        kind = "seq2seq" if self.is_seq2seq else "causal"
        return (f"LocalModelSummarizer({str(self.model_path)!r}, {kind}, "
                f"device={self.device}, max_chars={self.max_chars})")

    def _prepare_tokenizer(self) -> None:
        tok = self.tokenizer
        if tok.pad_token is None:  # GPT-2 and Llama ship without one
            tok.pad_token = tok.eos_token or tok.unk_token
        # A causal model continues the last token of each row, so the
        # padding must go on the left, and an over-long prompt must lose
        # its start rather than the cue to answer at its end.
        side = "right" if self.is_seq2seq else "left"
        tok.padding_side = tok.truncation_side = side

    def __call__(self, notes: list[str]) -> list[str]:
        """Summaries of ``notes``, one per note, in order.

        Empty or whitespace-only notes, None and NaN give ``""`` without a
        model call.
        """
        if isinstance(notes, str):
            raise TypeError("Pass a list of notes, not a single string.")
        notes = [_text(n) for n in notes]
        out = [""] * len(notes)
        todo = [i for i, n in enumerate(notes) if n.strip()]
        torch.manual_seed(self.seed)
        for start in range(0, len(todo), self.batch_size):
            idx = todo[start:start + self.batch_size]
            texts = self._generate([notes[i] for i in idx])
            for i, text in zip(idx, texts):
                out[i] = text.strip()
        return out

    def _prompts(self, notes: list[str]) -> list[str]:
        """The texts fed to the tokenizer, one per note."""
        if self.is_seq2seq:
            return [f"{self.prompt}\n\n{n.strip()}" for n in notes]
        return [self._causal_prompt(self._clip_note(n)) for n in notes]

    def _causal_prompt(self, note: str) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            message = {"role": "user", "content": f"{self.prompt}\n\n{note}"}
            return self.tokenizer.apply_chat_template(
                [message], tokenize=False, add_generation_prompt=True)
        return f"{self.prompt}\n\nNote: {note}\nSummary:"

    def _clip_note(self, note: str) -> str:
        # Cut the note, not the prompt around it, so that an over-long note
        # still ends with the instruction to answer.
        frame = self.tokenizer(self._causal_prompt(""))["input_ids"]
        room = max(1, self.max_input_tokens - len(frame))
        ids = self.tokenizer(note.strip(), add_special_tokens=False)
        if len(ids["input_ids"]) <= room:
            return note.strip()
        return self.tokenizer.decode(ids["input_ids"][:room],
                                     skip_special_tokens=True)

    @torch.inference_mode()
    def _generate(self, notes: list[str]) -> list[str]:
        tok = self.tokenizer
        chat = (not self.is_seq2seq
                and bool(getattr(tok, "chat_template", None)))
        batch = tok(self._prompts(notes), return_tensors="pt", padding=True,
                    truncation=True, max_length=self.max_input_tokens,
                    # a chat template writes its own BOS token
                    add_special_tokens=not chat,
                    # generic fast tokenizers add these; no LM reads them
                    return_token_type_ids=False).to(self.device)
        ids = self.model.generate(
            **batch, max_new_tokens=self.max_new_tokens, do_sample=False,
            num_beams=self.num_beams, pad_token_id=tok.pad_token_id)
        if not self.is_seq2seq:
            ids = ids[:, batch["input_ids"].shape[1]:]
        return [t.strip() for t in
                tok.batch_decode(ids, skip_special_tokens=True)]
