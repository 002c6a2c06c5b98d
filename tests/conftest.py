"""Test-wide settings: offline hub, and generated data and runs kept out of
the checkout (each test session gets its own cache)."""
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def _isolated_dirs(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    if "FAIRNB_TEST_DATA_DIR" in os.environ:  # reuse a cache across runs
        mp.setenv("FAIRNB_DATA_DIR", os.environ["FAIRNB_TEST_DATA_DIR"])
    else:
        mp.setenv("FAIRNB_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    mp.setenv("FAIRNB_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))
    mp.delenv("FAIRNB_PRESET", raising=False)  # a session's default preset
    yield
    mp.undo()


@pytest.fixture(scope="session")
def smoke_splits():
    """The smoke dataset (notes cut, no summarizing) as fairnb-tiny splits:
    ``(bundle, {"train", "val", "test"})``."""
    import fairnb as fnb
    ds = fnb.open_dataset(preset="smoke", summaries="none")
    bundle = fnb.create_model("fairnb-tiny", seed=0)
    data = {s: fnb.load_split(ds, s, image_size=bundle.image_size,
                              tokenizer=bundle.tokenizer)
            for s in ("train", "val", "test")}
    return bundle, data


@pytest.fixture(scope="session")
def tiny_blip2(tmp_path_factory):
    """A randomly initialised BLIP-2, saved as a model folder."""
    import torch
    from transformers import (
        Blip2Config,
        Blip2Model,
        Blip2QFormerConfig,
        Blip2VisionConfig,
        BlipImageProcessor,
        OPTConfig,
    )
    folder = tmp_path_factory.mktemp("blip2")
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                 num_attention_heads=2)
    cfg = Blip2Config(
        # a wide init, so that a random tower tells images apart
        vision_config=Blip2VisionConfig(image_size=32, patch_size=8,
                                        initializer_range=1.0,
                                        **small).to_dict(),
        qformer_config=Blip2QFormerConfig(
            encoder_hidden_size=32, vocab_size=100,
            max_position_embeddings=64, **small).to_dict(),
        text_config=OPTConfig(hidden_size=32, ffn_dim=64,
                              num_hidden_layers=2, num_attention_heads=2,
                              vocab_size=100, max_position_embeddings=64,
                              word_embed_proj_dim=32).to_dict(),
        num_query_tokens=4)
    torch.manual_seed(0)
    Blip2Model(cfg).save_pretrained(folder)
    BlipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(
        folder)
    return folder


@pytest.fixture(scope="session")
def tiny_blip2_itm(tmp_path_factory):
    """A randomly initialised BLIP-2 retrieval model (its Q-Former reads
    text, as LAVIS' feature extractor) with a character-level BERT
    tokenizer, saved as a model folder."""
    import string

    import torch
    from transformers import (
        BertTokenizerFast,
        Blip2Config,
        Blip2ForImageTextRetrieval,
        Blip2QFormerConfig,
        Blip2VisionConfig,
        BlipImageProcessor,
    )
    folder = tmp_path_factory.mktemp("blip2_itm")
    chars = string.ascii_lowercase + string.digits + ".,:;-/()"
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars,
             *(f"##{c}" for c in chars)]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt"),
                      model_max_length=64).save_pretrained(folder)
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                 num_attention_heads=2)
    cfg = Blip2Config(
        vision_config=Blip2VisionConfig(image_size=32, patch_size=8,
                                        initializer_range=1.0,
                                        **small).to_dict(),
        qformer_config=Blip2QFormerConfig(
            encoder_hidden_size=32, vocab_size=len(vocab) + 4,
            max_position_embeddings=64, initializer_range=0.5,
            use_qformer_text_input=True, **small).to_dict(),
        num_query_tokens=4, image_text_hidden_size=16)
    torch.manual_seed(0)
    Blip2ForImageTextRetrieval(cfg).save_pretrained(folder)
    BlipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(
        folder)
    return folder


@pytest.fixture
def kill_after_first_checkpoint():
    """A function: start ``cmd`` (a list, in ``cwd``), wait until a run
    folder under ``folder`` holds ``checkpoints/last.pt``, then SIGKILL the
    process and all its children (kernel, torchrun workers), as a crash or
    a killed job would."""
    import signal
    import subprocess
    import time

    import psutil

    def kill(cmd, folder, *, cwd=None, timeout=300):
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not list(folder.glob("*/checkpoints/last.pt")):
            assert proc.poll() is None, "it ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint in time"
            time.sleep(0.05)
        parent = psutil.Process(proc.pid)
        for p in parent.children(recursive=True) + [parent]:
            p.send_signal(signal.SIGKILL)
        proc.wait()
    return kill
