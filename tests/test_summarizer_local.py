"""LocalModelSummarizer on tiny random T5 and GPT-2 models saved offline.

The models and their word-level tokenizers are built here and written with
``save_pretrained``, so the real loading and generation path runs without
any download.
"""
import sys

import pytest

from fairnb.summarizers.local import LocalModelSummarizer

WORDS = ("patient eye exam glaucoma suspect no signs of optic nerve cupping "
         "IOP mmHg right left OD OS visual field defect normal elevated "
         "pressure cup disc ratio follow up months drops timolol "
         "latanoprost history diabetes hypertension cataract surgery "
         "stable progression RNFL thinning OCT gonioscopy open angle "
         "Summarize the key details , including presence from clinical "
         "note within characters . Note : Summary user assistant").split()
NOTES = [
    "Patient with elevated IOP 28 mmHg OD, cup disc ratio 0.8, "
    "glaucoma suspect, follow up 3 months.",
    "No signs of glaucoma. Normal optic nerve.",
    "History of diabetes; visual field defect OS, RNFL thinning on OCT, "
    "started latanoprost drops.",
]
CHAT_TEMPLATE = ("{% for m in messages %}user : {{ m['content'] }}\n"
                 "{% endfor %}{% if add_generation_prompt %}assistant :"
                 "{% endif %}")
FAST = {"max_new_tokens": 8}


def _corpus(rng, n=300):
    return [" ".join(rng.choice(WORDS, size=12)) for _ in range(n)]


def _tokenizer(transformers):
    import numpy as np
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(
        special_tokens=["<pad>", "</s>", "<unk>", "<s>"])
    corpus = _corpus(np.random.default_rng(0)) + [" ".join(WORDS)]
    tok.train_from_iterator(corpus, trainer)
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>",
        unk_token="<unk>", bos_token="<s>")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Folders ``t5``, ``gpt2`` and ``gpt2_chat`` (with a chat template)."""
    transformers = pytest.importorskip("transformers")
    import torch

    tok = _tokenizer(transformers)
    ids = {"pad_token_id": 0, "eos_token_id": 1, "bos_token_id": 3,
           "vocab_size": len(tok)}
    torch.manual_seed(0)
    t5 = transformers.T5ForConditionalGeneration(transformers.T5Config(
        d_model=32, d_kv=16, d_ff=64, num_layers=2, num_heads=2,
        decoder_start_token_id=0, initializer_factor=3.0, **ids))
    # n_positions is small so that a long note must be cut to fit
    gpt2 = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        n_embd=32, n_layer=2, n_head=2, n_positions=96,
        initializer_range=0.2, **ids))
    root = tmp_path_factory.mktemp("hf_models")
    for name, model in [("t5", t5), ("gpt2", gpt2), ("gpt2_chat", gpt2)]:
        tok.chat_template = CHAT_TEMPLATE if name == "gpt2_chat" else None
        model.save_pretrained(root / name)
        tok.save_pretrained(root / name)
    return root


@pytest.fixture(scope="module")
def loaded(folders):
    return {name: LocalModelSummarizer(folders / name, batch_size=3,
                                       device="cpu", **FAST)
            for name in ("t5", "gpt2", "gpt2_chat")}


@pytest.mark.parametrize("name", ["t5", "gpt2", "gpt2_chat"])
def test_one_string_per_note_deterministic(loaded, name):
    summarize = loaded[name]
    first = summarize(NOTES)
    assert isinstance(first, list) and len(first) == len(NOTES)
    assert all(isinstance(s, str) for s in first)
    assert summarize(NOTES) == first
    assert summarize(NOTES[::-1]) == first[::-1]


def test_model_kind_comes_from_the_config(loaded):
    assert loaded["t5"].is_seq2seq
    assert not loaded["gpt2"].is_seq2seq
    assert loaded["t5"].name == "transformers"


@pytest.mark.parametrize("name", ["t5", "gpt2", "gpt2_chat"])
def test_batch_size_does_not_change_greedy_output(folders, loaded, name):
    # Notes of different lengths, so batches of 3 are padded (on the left
    # for the causal model); the attention mask must hide the padding.
    one = LocalModelSummarizer(folders / name, batch_size=1, device="cpu",
                               **FAST)
    assert one(NOTES) == loaded[name](NOTES)
    assert len(set(one(NOTES))) == len(NOTES), "output ignores the note"


def test_causal_output_holds_only_new_tokens(loaded):
    for summary in loaded["gpt2"](NOTES):
        assert "Summarize the key details" not in summary
        assert "Note :" not in summary


def test_chat_template_is_used_when_the_tokenizer_has_one(loaded):
    chat = loaded["gpt2_chat"]._prompts(NOTES[:1])[0]
    plain = loaded["gpt2"]._prompts(NOTES[:1])[0]
    assert chat.startswith("user : Summarize the key details")
    assert chat.endswith("assistant :")
    assert plain.endswith("\nSummary:") and "Note: Patient" in plain
    assert "within 180 characters" in chat and "180 characters" in plain


def test_empty_notes_skip_the_model(loaded):
    out = loaded["gpt2"](["", NOTES[0], "  \n\t", None, float("nan")])
    assert out[0] == out[2] == out[3] == out[4] == ""
    assert out[1] == loaded["gpt2"]([NOTES[0]])[0]
    assert loaded["t5"]([]) == []
    with pytest.raises(TypeError, match="list of notes"):
        loaded["t5"](NOTES[0])


@pytest.mark.parametrize("name", ["t5", "gpt2"])
def test_long_notes_are_cut_to_fit_the_model(loaded, name):
    long_note = " ".join(["glaucoma suspect IOP 30 mmHg"] * 400)
    out = loaded[name]([long_note, NOTES[1]])
    assert len(out) == 2
    assert loaded[name]._clip_note(long_note) != long_note


def test_outputs_come_back_raw_for_the_post_check(folders):
    from fairnb.summarize import fit_summary

    summarize = LocalModelSummarizer(folders / "gpt2", max_chars=20,
                                     max_new_tokens=30, device="cpu")
    assert "within 20 characters" in summarize.prompt
    out = summarize(NOTES)
    assert any(len(s) > 20 for s in out)  # a random model overshoots
    fitted = [fit_summary(s, max_chars=20) for s in out]
    assert all(len(s) <= 20 for s, _ in fitted)
    assert any(fixed for _, fixed in fitted)


def test_missing_folder_says_what_it_needs(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        LocalModelSummarizer(tmp_path / "flan-t5-base")
    msg = str(err.value)
    assert "flan-t5-base" in msg and "not found" in msg
    assert "config.json" in msg and "weights" in msg
    assert "Downloads are disabled" in msg


def test_folder_without_config_or_weights(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="No config.json in"):
        LocalModelSummarizer(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="No weight files in"):
        LocalModelSummarizer(tmp_path)


def test_dtype_sets_the_weight_precision(folders, loaded):
    import torch

    assert loaded["t5"].model.dtype == torch.float32  # "auto" on the CPU
    half = LocalModelSummarizer(folders / "t5", dtype="bfloat16",
                                device="cpu", **FAST)
    assert half.model.dtype == torch.bfloat16
    assert len(half(NOTES)) == len(NOTES)


def test_unknown_dtype_names_the_choices(folders):
    with pytest.raises(ValueError, match="bfloat16"):
        LocalModelSummarizer(folders / "t5", dtype="bf16")


def test_missing_transformers_gives_the_install_command(tmp_path,
                                                        monkeypatch):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match="pip install 'transformers"):
        LocalModelSummarizer(tmp_path)
