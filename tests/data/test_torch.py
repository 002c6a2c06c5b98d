import math
import os

import numpy as np
import open_clip
import pandas as pd
import pytest
import torch
from PIL import Image

from fairnb.attributes import ATTRIBUTES
from fairnb.data import FairVLMed, make_synthetic, read_dataset
from fairnb.data.torch import (
    GroupBatchSampler,
    MultiGroupBatchSampler,
    PlainBatchSampler,
    cache_images,
    load_split,
    make_sampler,
    preprocess_image,
    to_model_input,
)
from fairnb.notes import truncate_note
from fairnb.paths import data_dir

MEAN, STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258,
                                                  0.27577711)
LOAD_IMAGE = FairVLMed.load_image


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_synthetic(tmp_path_factory.mktemp("ds") / "d", n=60, seed=1)


@pytest.fixture(scope="module")
def tokenizer():
    return open_clip.tokenizer.SimpleTokenizer(context_length=77)


def _count_decodes(monkeypatch):
    calls = []

    def counting(self, id):
        calls.append(id)
        return LOAD_IMAGE(self, id)
    monkeypatch.setattr(FairVLMed, "load_image", counting)
    return calls


@pytest.mark.parametrize("size", [64, 224])
def test_preprocess_matches_open_clip_eval_transform(size):
    image = np.random.default_rng(0).integers(0, 256, (664, 512), np.uint8)
    ref = open_clip.image_transform(size, is_train=False)(
        Image.fromarray(image))
    unnormalised = (ref[0] * STD[0] + MEAN[0]) * 255
    ours = preprocess_image(image, image_size=size)
    assert ours.shape == (size, size) and ours.dtype == np.uint8
    np.testing.assert_allclose(ours, unnormalised.numpy(), atol=1e-3)


def test_preprocess_rejects_colour_images():
    with pytest.raises(ValueError, match="2-D uint8"):
        preprocess_image(np.zeros((8, 8, 3), np.uint8), image_size=4)


def test_cache_round_trip_reuse_and_rebuild(root, tmp_path, monkeypatch):
    ds = read_dataset(root)
    calls = _count_decodes(monkeypatch)
    ids, images = cache_images(ds, "val", image_size=32, cache_dir=tmp_path,
                               workers=1)
    assert ids == ds.metadata("val")["id"].tolist() and calls == ids
    assert images.shape == (len(ids), 1, 32, 32)
    assert images.dtype == torch.uint8
    expected = preprocess_image(ds.load_image(ids[2]), image_size=32)
    np.testing.assert_array_equal(images[2, 0].numpy(), expected)
    assert len(list(tmp_path.glob("*.pt"))) == 1

    def refuse(self, id):
        raise AssertionError("the cache should have been reused")
    monkeypatch.setattr(FairVLMed, "load_image", refuse)
    again_ids, again = cache_images(read_dataset(root), "val",
                                    image_size=32, cache_dir=tmp_path)
    assert again_ids == ids
    torch.testing.assert_close(again, images, rtol=0, atol=0)

    calls = _count_decodes(monkeypatch)
    st = os.stat(ds.files("val")[0])
    os.utime(ds.files("val")[0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    _, rebuilt = cache_images(read_dataset(root), "val", image_size=32,
                              cache_dir=tmp_path, workers=1)
    assert sorted(calls) == sorted(ids)
    torch.testing.assert_close(rebuilt, images, rtol=0, atol=0)
    cache_images(ds, "val", image_size=16, cache_dir=tmp_path, workers=1)
    assert len(list(tmp_path.glob("*.pt"))) == 2  # one file per size


def test_cache_built_by_two_processes_is_identical(root, tmp_path):
    ds = read_dataset(root)
    _, one = cache_images(ds, "train", image_size=24,
                          cache_dir=tmp_path / "a", workers=1)
    _, two = cache_images(ds, "train", image_size=24,
                          cache_dir=tmp_path / "b", workers=2)
    torch.testing.assert_close(one, two, rtol=0, atol=0)


def test_load_split_truncates_notes(root, tmp_path, tokenizer):
    ds = read_dataset(root, summaries=None)
    data = load_split(ds, "test", image_size=16, tokenizer=tokenizer,
                      cache_dir=tmp_path, max_chars=60)
    meta = ds.metadata("test")
    assert data.texts == [truncate_note(n, max_chars=60)
                          for n in meta["note"]]
    assert all(len(t) <= 60 for t in data.texts)
    assert data.tokens.shape == (len(meta), 77)
    assert data.tokens.dtype == torch.long
    torch.testing.assert_close(data.tokens[3], tokenizer([data.texts[3]])[0])
    assert data.ids == meta["id"].tolist() and len(data) == len(meta)
    np.testing.assert_array_equal(data.labels.numpy(), meta["label"])
    assert data.attributes.shape == (len(meta), len(ATTRIBUTES))
    for a in ATTRIBUTES:
        np.testing.assert_array_equal(data.groups(a), meta[a])


def test_load_split_uses_summaries(root, tmp_path, tokenizer):
    ids = [p.stem for s in ("train", "val", "test")
           for p in read_dataset(root).files(s)]
    csv = tmp_path / "mine_summarized_notes.csv"
    pd.DataFrame({"File Name": [f"{i}.npz" for i in ids],
                  "Original Note": "x",
                  "Summarized Note": [f"summary of {i}" for i in ids]}
                 ).to_csv(csv, index=False)
    ds = read_dataset(root, summaries=csv)
    data = load_split(ds, "val", image_size=16, tokenizer=tokenizer,
                      cache_dir=tmp_path)
    assert data.texts == [f"summary of {i}" for i in data.ids]
    own = load_split(ds, "val", image_size=16, tokenizer=tokenizer,
                     cache_dir=tmp_path, texts=["a"] * len(data))
    assert own.texts == ["a"] * len(data)
    with pytest.raises(ValueError, match="one each"):
        load_split(ds, "val", image_size=16, tokenizer=tokenizer,
                   cache_dir=tmp_path, texts=["a"])


def test_batch_indexes_every_field(root, tokenizer):
    data = load_split(read_dataset(root), "val", image_size=16,
                      tokenizer=tokenizer)
    assert len(list((data_dir() / "cache").glob("d-val-16px-*.pt"))) == 1
    assert "n=6" in repr(data)
    batch = data.batch(np.array([4, 1])).to("cpu")
    torch.testing.assert_close(batch.index, torch.tensor([4, 1]))
    torch.testing.assert_close(batch.images, data.images[[4, 1]])
    torch.testing.assert_close(batch.tokens, data.tokens[[4, 1]])
    torch.testing.assert_close(batch.labels, data.labels[[4, 1]])
    torch.testing.assert_close(batch.attributes, data.attributes[[4, 1]])


def test_to_model_input_normalises():
    images = torch.randint(0, 256, (2, 1, 8, 8), dtype=torch.uint8)
    x = to_model_input(images, mean=MEAN, std=STD)
    assert x.shape == (2, 3, 8, 8) and x.dtype == torch.float32
    for c in range(3):
        expected = (images[:, 0].double() / 255 - MEAN[c]) / STD[c]
        torch.testing.assert_close(x[:, c].double(), expected, rtol=0,
                                   atol=1e-5)
    half = to_model_input(images, mean=MEAN, std=STD, dtype=torch.bfloat16)
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), x, rtol=1e-2, atol=2e-2)


def _skewed_groups(n=1000, seed=0):
    counts = {0: 850, 1: 80, 2: 20, -1: 50}  # ~90 / 8 / 2 % plus Unknown
    groups = np.concatenate([np.full(c, g) for g, c in counts.items()])
    return np.random.default_rng(seed).permutation(groups)


def _epoch(sampler, epoch):
    sampler.set_epoch(epoch)
    return [b.tolist() for b in sampler]


def test_sampler_puts_every_group_in_every_batch():
    groups = _skewed_groups()
    sampler = GroupBatchSampler(groups, batch_size=32, seed=3)
    batches = _epoch(sampler, 0)
    assert len(batches) == len(sampler) >= math.ceil(len(groups) / 32)
    for b in batches:
        assert len(b) == len(set(b)) <= 32
        assert np.bincount(groups[b] + 1, minlength=4)[1:].min() >= 2
    assert {len(b) for b in batches} <= {31, 32}
    assert set(sum(batches, [])) == set(range(len(groups)))
    for b in GroupBatchSampler(np.r_[np.zeros(40, int), 1], batch_size=8):
        assert 40 in b  # a group of one sample joins every batch


def test_sampler_is_deterministic_and_resumable():
    groups = _skewed_groups()
    a = GroupBatchSampler(groups, batch_size=32, seed=5)
    b = GroupBatchSampler(groups, batch_size=32, seed=5)
    assert _epoch(a, 1) == _epoch(b, 1)
    assert _epoch(a, 1) != _epoch(a, 2)
    assert _epoch(a, 1) != _epoch(GroupBatchSampler(groups, batch_size=32,
                                                    seed=6), 1)
    full = _epoch(a, 4)
    a.set_epoch(4)
    head = [x.tolist() for _, x in zip(range(7), a)]
    state = a.state_dict()
    assert state["epoch"] == 4 and state["position"] == 7
    resumed = GroupBatchSampler(groups, batch_size=32, seed=0)
    resumed.load_state_dict(state)
    resumed.set_epoch(4)
    assert head + [x.tolist() for x in resumed] == full
    with pytest.raises(ValueError, match="batch_size=32"):
        GroupBatchSampler(groups, batch_size=16).load_state_dict(state)


def test_sampler_rejects_too_small_batches():
    with pytest.raises(ValueError) as err:
        GroupBatchSampler(_skewed_groups(), batch_size=5, min_per_group=2)
    for part in ("batch_size=5", "min_per_group=2", "3 groups", "above 6"):
        assert part in str(err.value)


def test_sampler_without_groups_gives_plain_batches():
    plain = GroupBatchSampler(None, n=10, batch_size=4, shuffle=False)
    assert [b.tolist() for b in plain] == [[0, 1, 2, 3], [4, 5, 6],
                                           [7, 8, 9]]
    unknown = GroupBatchSampler(np.full(10, -1), batch_size=4, seed=1)
    batches = [b.tolist() for b in unknown]
    assert sorted(sum(batches, [])) == list(range(10))
    assert batches != [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]


def test_plain_sampler_is_the_official_loader_order():
    s = PlainBatchSampler(70, batch_size=32, seed=2)
    batches = _epoch(s, 0)
    assert [len(b) for b in batches] == [32, 32, 6] and len(s) == 3
    assert sorted(sum(batches, [])) == list(range(70))  # each exactly once
    assert _epoch(s, 0) != _epoch(s, 1)
    s.set_epoch(1)
    head = [next(iter(s)).tolist()]
    resumed = PlainBatchSampler(70, batch_size=32, seed=2)
    resumed.load_state_dict(s.state_dict())
    assert head + [b.tolist() for b in resumed] == _epoch(
        PlainBatchSampler(70, batch_size=32, seed=2), 1)


def test_multi_attribute_batches_hold_pairs_of_every_group():
    rng = np.random.default_rng(0)
    n = 1000
    race = rng.choice([0, 1, 2], n, p=[0.08, 0.15, 0.77])
    language = rng.choice([-1, 0, 1, 2], n, p=[0.02, 0.95, 0.02, 0.01])
    groups = {"race": race, "language": language}
    sampler = make_sampler(groups, n=n, batch_size=32, seed=1)
    assert isinstance(sampler, MultiGroupBatchSampler)
    for epoch in (0, 1):
        batches = _epoch(sampler, epoch)
        assert len(batches) == len(sampler)
        counts = np.bincount(np.concatenate(batches), minlength=n)
        assert counts.min() >= 1  # every sample in every epoch
        for b in batches:
            assert len(b) == len(set(b)) <= 33
            for codes in (race, language):
                for g in np.unique(codes[codes >= 0]):
                    assert (codes[b] == g).sum() >= min(2, (codes == g).sum())
    assert np.mean([len(b) <= 32 for b in batches]) >= 0.95
    # one attribute is the single-attribute sampler, none the plain one
    assert isinstance(make_sampler({"race": race}, n=n, batch_size=32),
                      GroupBatchSampler)
    assert isinstance(make_sampler({}, n=n, batch_size=32),
                      PlainBatchSampler)
