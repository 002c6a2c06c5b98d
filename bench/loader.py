"""Throughput of the cached tensor path against per-sample decoding.

The naive path is what the official FairCLIP dataset does per sample: load
the npz, turn the float image into a PIL image, run open_clip's eval
transform and tokenise the truncated note. The cached path indexes the
uint8 tensors of :func:`fairnb.data.torch.load_split` and normalises the
batch with :func:`fairnb.data.torch.to_model_input`.

Run: ``python -m bench.loader [--preset demo] [--image-size 224]``.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import open_clip
import torch
from PIL import Image

import fairnb
from fairnb.data.torch import cache_images, load_split, to_model_input
from fairnb.notes import truncate_note

MEAN, STD = open_clip.OPENAI_DATASET_MEAN, open_clip.OPENAI_DATASET_STD


def _naive_batch(files, index, transform, tokenizer):
    images, texts = [], []
    for i in index:
        with np.load(files[i]) as npz:
            image = npz["slo_fundus"].astype(np.float32)
            texts.append(truncate_note(str(npz["note"].item())))
        images.append(transform(Image.fromarray(image)))
    return torch.stack(images), tokenizer(texts)


def _rate(make_batch, batches) -> float:
    make_batch(batches[0])  # warm-up
    start = time.perf_counter()
    for index in batches:
        make_batch(index)
    return sum(map(len, batches)) / (time.perf_counter() - start)


def bench_loader(*, n_batches: int = 20, batch_size: int = 64,
                 image_size: int = 64, preset: str = "smoke") -> dict:
    """Images per second of both paths on the synthetic ``preset``.

    The cache is built into a fresh temporary folder, so ``cache_build_s``
    is the one-off cost (all three splits) the cached path pays first.
    """
    ds = fairnb.open_dataset(preset=preset)
    tokenizer = open_clip.tokenizer.SimpleTokenizer()
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        for split in ds.splits:
            cache_images(ds, split, image_size=image_size, cache_dir=cache)
        build = time.perf_counter() - start
        data = load_split(ds, "train", image_size=image_size,
                          tokenizer=tokenizer, cache_dir=cache)
    rng = np.random.default_rng(0)
    batches = [rng.choice(len(data), min(batch_size, len(data)),
                          replace=False) for _ in range(n_batches)]
    transform = open_clip.image_transform(image_size, is_train=False)
    files = ds.files("train")

    def cached(index):
        batch = data.batch(index)
        return to_model_input(batch.images, mean=MEAN, std=STD), batch.tokens

    cached_rate = _rate(cached, batches)
    naive_rate = _rate(
        lambda index: _naive_batch(files, index, transform, tokenizer),
        batches)
    return {"preset": preset, "n_images": len(ds), "image_size": image_size,
            "batch_size": batch_size, "n_batches": n_batches,
            "torch_threads": torch.get_num_threads(),
            "cache_build_s": round(build, 2),
            "cached_images_per_s": round(cached_rate, 1),
            "naive_images_per_s": round(naive_rate, 1),
            "speedup": round(cached_rate / naive_rate, 1)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="smoke")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--n-batches", type=int, default=20)
    args = parser.parse_args(argv)
    result = bench_loader(n_batches=args.n_batches,
                          batch_size=args.batch_size,
                          image_size=args.image_size, preset=args.preset)
    for key, value in result.items():
        print(f"{key:>20}: {value}")
    return result


if __name__ == "__main__":
    main()
