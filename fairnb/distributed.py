r"""Data-parallel training over processes (``torchrun``) that keeps the
method.

FairCLIP's, DBPM's and GroupDRO's terms, and CLIP's contrastive loss
itself, are defined on the batch: computed per process on a slice of it
they become another method. So fairnb splits work, not the objective:

1. every process plans the same *global* batch (the samplers are seeded,
   so group balance holds for the global batch), and forwards only its
   slice, :meth:`World.local` (contiguous, sizes differ by at most one);
2. the features are all-gathered *with autograd*
   (``torch.distributed.nn.functional.all_gather``, :meth:`World.gather`),
   so every process computes the method's loss on the global batch, the
   same value everywhere, and every method's state (DBPM's memory,
   GroupDRO's weights, FairCLIP's group queues) moves identically;
3. after backward each process holds :math:`W\,\partial L/\partial\theta`
   through its own slice (the gather's backward sums over processes) plus
   the full gradient of what comes after the gather (heads, the
   temperature); averaging the gradients over the :math:`W` processes
   (:meth:`World.average_gradients`, one all-reduce of the flattened
   gradients) gives exactly :math:`\partial L/\partial\theta` of one
   process on the global batch. The method never sees a
   ``DistributedDataParallel`` wrapper, whose hooks would miss the parts
   a method calls outside ``model.forward`` (prompts, heads,
   ``encode_image``);
4. evaluation scores a slice per process and gathers the predictions
   (:meth:`World.score`); only the main process (rank 0) writes
   checkpoints, logs and run files; every process resumes from the same
   ``last.pt``, which also holds each process's random state
   (:meth:`World.gather_objects`), so a resumed process draws what it
   would have drawn;
5. BatchNorm layers become ``SyncBatchNorm`` on GPUs, so they normalise
   over the global batch too (on the CPU they cannot, and a warning says
   so; the LayerNorm of a ViT has no such issue).

One process (no ``torchrun``) is the world of size 1, where every
operation is the identity, so the engine has a single code path.
Backends: NCCL on GPUs (one per process, ``LOCAL_RANK``), gloo on CPUs.

Used in: ``python -m fairnb train`` under ``torchrun``, 03 (``launcher``).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["World", "current_world", "init_world", "shard_sizes"]


def shard_sizes(n: int, size: int) -> list[int]:
    """How many of ``n`` items each of ``size`` processes takes
    (``numpy.array_split``: the first ``n % size`` take one more).

    >>> shard_sizes(10, 4)
    [3, 3, 2, 2]
    """
    return [len(c) for c in np.array_split(np.arange(n), size)]


@dataclass(frozen=True)
class World:
    """This process's place among ``size`` training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        """More than one process."""
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """The process that writes (rank 0)."""
        return self.rank == 0

    def shard(self, n: int) -> slice:
        """This process's contiguous slice of ``n`` items."""
        sizes = shard_sizes(n, self.size)
        start = sum(sizes[:self.rank])
        return slice(start, start + sizes[self.rank])

    def local(self, batch):
        """This process's slice of a global
        :class:`~fairnb.data.torch.Batch` (the batch itself in one
        process)."""
        if not self.active:
            return batch
        from dataclasses import fields
        part = self.shard(len(batch.index))
        return type(batch)(*(None if getattr(batch, f.name) is None else
                             getattr(batch, f.name)[part]
                             for f in fields(batch)))

    def gather(self, tensor: torch.Tensor, n: int) -> torch.Tensor:
        """Every process's slice of a global batch of ``n`` rows, in rank
        order, with gradients flowing back to each slice (identity in one
        process)."""
        if not self.active:
            return tensor
        from torch.distributed.nn.functional import all_gather
        sizes = shard_sizes(n, self.size)
        if tensor.shape[0] != sizes[self.rank]:
            raise ValueError(f"Rank {self.rank} holds {tensor.shape[0]} rows"
                             f" of a batch of {n}; expected "
                             f"{sizes[self.rank]} (World.local).")
        pad = max(sizes) - tensor.shape[0]
        if pad:  # all_gather needs equal shapes
            tensor = torch.cat([tensor, tensor.new_zeros(
                (pad, *tensor.shape[1:]))])
        with warnings.catch_warnings():  # deprecated in torch 2.x for a
            # private successor; still the public autograd all-gather
            warnings.simplefilter("ignore", FutureWarning)
            parts = all_gather(tensor.contiguous())
        return torch.cat([p[:k] for p, k in zip(parts, sizes)])

    def sync_batchnorm(self, model: torch.nn.Module, device
                       ) -> torch.nn.Module:
        """``model`` with its BatchNorm layers normalising over the global
        batch (``SyncBatchNorm``, on GPUs; the parameters stay the same
        objects). On the CPU, where SyncBatchNorm does not run, each
        process normalises by its slice, and a warning says so."""
        from torch.nn.modules.batchnorm import _BatchNorm
        if not self.active or not any(isinstance(m, _BatchNorm)
                                      for m in model.modules()):
            return model
        if torch.device(device).type == "cuda":
            return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        if self.is_main:
            warnings.warn(
                "The model has BatchNorm layers and trains on several CPU "
                "processes, where SyncBatchNorm does not run: each process "
                "normalises by its slice of the batch, so the loss differs "
                "slightly from one process's on the global batch. A "
                "LayerNorm model (a ViT, e.g. fairnb-tiny-vit) or GPUs "
                "keep it exact.", stacklevel=2)
        return model

    def average_gradients(self, params) -> None:
        """Average the gradients of ``params`` over the processes (one
        all-reduce of their flattened values); parameters without a
        gradient are left so (the same ones in every process, since every
        process back-propagates the same global loss)."""
        if not self.active:
            return
        import torch.distributed as dist
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        from torch._utils import (
            _flatten_dense_tensors,
            _unflatten_dense_tensors,
        )
        flat = _flatten_dense_tensors(grads)
        dist.all_reduce(flat)
        flat /= self.size
        for g, avg in zip(grads, _unflatten_dense_tensors(flat, grads)):
            g.copy_(avg)

    def score(self, method, data, *, device):
        """``method.score(data)``, each process scoring its slice and the
        predictions gathered in order (every process gets all of them)."""
        if not self.active:
            return method.score(data, device=device)
        from .predictions import Predictions
        if len(data) < self.size:
            raise ValueError(
                f"A split of {len(data)} rows cannot be scored in slices by "
                f"{self.size} processes; use fewer processes or a larger "
                "split.")
        part = self.shard(len(data))
        mine = method.score(data.subset(np.arange(len(data))[part]),
                            device=device)
        return Predictions.concat(self.gather_objects(mine))

    def gather_objects(self, obj) -> list:
        """Every process's ``obj``, in rank order (``[obj]`` in one
        process)."""
        if not self.active:
            return [obj]
        import torch.distributed as dist
        parts = [None] * self.size
        dist.all_gather_object(parts, obj)
        return parts

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist
            dist.barrier()

    def broadcast(self, obj):
        """The main process's ``obj`` in every process."""
        if not self.active:
            return obj
        import torch.distributed as dist
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def main_first(self, fn):
        """``fn()`` in the main process, then (once it is done, e.g. a
        cache written) in the others; returns its result."""
        out = fn() if self.is_main else None
        self.barrier()
        if not self.is_main:
            out = fn()
        return out


def current_world() -> World:
    """The world of the initialised process group (one process when there
    is none)."""
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(rank=dist.get_rank(), size=dist.get_world_size(),
                 local_rank=int(os.environ.get("LOCAL_RANK", 0)))


def init_world(*, device: str = "auto") -> World:
    """Join the process group ``torchrun`` describes (``WORLD_SIZE``,
    ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``/``PORT`` in the
    environment): NCCL with one GPU per process where CUDA is available
    and ``device`` allows it, else gloo. Without those variables (a plain
    ``python``), one process."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return World()
    import torch.distributed as dist
    if not dist.is_initialized():
        cuda = torch.cuda.is_available() and not str(device).startswith(
            "cpu")
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return current_world()


def close_world() -> None:
    """Leave the process group (if any)."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
