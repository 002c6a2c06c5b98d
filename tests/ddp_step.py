"""One engine step per method on one global batch, in one process or in
each process ``torchrun`` starts; rank 0 saves, per method, the loss, the
logged terms and the gradients after the step's all-reduce (what the
optimizer is given) to ``OUT/<method>.pt``.

    python tests/ddp_step.py OUT
    torchrun --standalone --nproc_per_node 2 tests/ddp_step.py OUT

Used by tests/test_distributed.py.
"""
import sys
from pathlib import Path

import numpy as np
import torch

import fairnb as fnb
from fairnb.distributed import close_world, init_world
from fairnb.engine import TrainSettings, prepare_steps

#: method -> (options, sampler); batch 31 splits 16 + 15 over 2 processes
CASES = {
    "clip": ({}, "auto"),
    "fairclip": ({"attribute": "race", "fair_weight": 10.0}, "auto"),
    "dbpm": ({"attribute": "race", "fair_weight": 0.1, "beta_np": 0.5,
              "beta_fp": 0.5}, "auto"),
    "groupdro": ({"attribute": "race", "eta": 1.0}, "plain"),
    # dropout draws differ by process: off, to compare exactly
    "multifair": ({"attribute": "race", "dropout": 0.0, "tau": 0.01},
                  "plain"),
    "dualfairvl": ({"attribute": "race"}, "auto"),
}
BATCH = 31
#: LayerNorm only: a BatchNorm (fairnb-tiny's ResNet) normalises by each
#: process's slice on the CPU, where SyncBatchNorm does not run
MODEL = "fairnb-tiny-vit"


def step(name, data, world):
    options, sampler = CASES[name]
    bundle = fnb.create_model(MODEL, seed=0)
    method = fnb.make_method(name, **options)
    settings = TrainSettings(attribute="race", epochs=2, batch_size=BATCH,
                             sampler=sampler, seed=0, device="cpu")
    engine = prepare_steps(bundle, method, data, settings=settings)
    named = [(f"model.{n}", p) for n, p in bundle.model.named_parameters()]
    named += [(f"{k}.{n}", p) for k, m in method.modules().items()
              for n, p in m.named_parameters()]
    grads = {}

    def capture(step):
        grads.update({n: p.grad.detach().clone() for n, p in named
                      if p.grad is not None})
    method.before_step = capture
    epoch = 0
    if name == "dbpm":  # a memory (the same in every process) to mine
        rng = np.random.default_rng(0)
        method.memory[:, 0] = rng.gamma(4.0, 1.0, len(method.memory))
        epoch = 1  # its second epoch mines the memory
        method.on_epoch_start(epoch, settings.epochs)
        engine.sampler.set_epoch(epoch)
    index = next(iter(engine.sampler))
    row = engine.step(data.batch(index), epoch)
    extra = {}
    if name == "dbpm":
        extra = {"sum": method._sum.copy(), "count": method._count.copy(),
                 "flagged": method.flagged.copy()}
    if name == "groupdro":
        extra = {"q": method.q.clone()}
    if name == "multifair":  # the factors the gradients are scaled by
        extra = {"factors": dict(method.factors),
                 "group_ema": {m: list(v) for m, v in
                               method.group_ema.items()}}
    if name == "dualfairvl":  # prototypes moved by the global batch
        extra = {"protos": method.net.proto_target.clone(),
                 "protos_g": method.net.proto_sensitive.clone()}
    return {"row": row, "grads": grads, "index": np.asarray(index),
            "world": world.size, **extra}


def main(out: str) -> None:
    world = init_world(device="cpu")
    ds = fnb.open_dataset(preset="smoke", summaries="none")
    bundle = fnb.create_model(MODEL, seed=0)
    data = world.main_first(lambda: fnb.load_split(
        ds, "train", image_size=bundle.image_size,
        tokenizer=bundle.tokenizer))
    for name in CASES:
        result = step(name, data, world)
        if world.is_main:
            Path(out).mkdir(parents=True, exist_ok=True)
            torch.save(result, Path(out) / f"{name}.pt")
    close_world()


if __name__ == "__main__":
    main(sys.argv[1])
