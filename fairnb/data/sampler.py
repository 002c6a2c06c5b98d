"""A group-aware batch sampler: every batch holds every group.

FairCLIP compares each group's similarity distribution with the batch's,
so a batch without a group gives that group no signal. Used by
:func:`fairnb.train.train` for every method, so CLIP and FairCLIP see the
same batches.

Used in: 03_fairclip.
"""
from __future__ import annotations

import math

import numpy as np

from ..attributes import UNKNOWN


class GroupBatchSampler:
    """Shuffled batches that hold every group of an attribute.

    Every batch reserves ``min(min_per_group, n_g)`` places for each known
    group ``g`` (code >= 0, ``n_g`` members), so a group smaller than
    ``min_per_group`` sends all its members to every batch. Groups too
    small to fill their places over an epoch are re-used cyclically; the
    other samples, Unknown (< 0) ones included, fill the free places once.
    An epoch covers every sample, never repeats an index within a batch,
    and has ``ceil(N / batch_size)`` batches, more when re-used samples
    need room; batch sizes differ by at most one.

    Parameters
    ----------
    groups : numpy.ndarray of int, shape (N,), or None
        Group codes; None (give ``n``) or all Unknown: plain batches.
    batch_size, min_per_group : int
    seed : int
        With the epoch (:meth:`set_epoch`) it fixes the batches.
    shuffle : bool
        False keeps index order.
    n : int, optional

    Examples
    --------
    >>> s = GroupBatchSampler(np.array([0] * 8 + [1, 1]), batch_size=4)
    >>> [int(np.isin(b, [8, 9]).sum()) for b in s]
    [2, 2, 2, 2]
    """

    def __init__(self, groups, *, batch_size: int, seed: int = 0,
                 min_per_group: int = 2, shuffle: bool = True,
                 n: int | None = None):
        if groups is None and n is None:
            raise ValueError("Pass n= (the number of samples) with "
                             "groups=None.")
        groups = np.full(n, UNKNOWN) if groups is None else groups
        groups = np.asarray(groups).astype(np.int64).ravel()
        if len(groups) == 0 or batch_size < 1 or min_per_group < 0:
            raise ValueError(
                f"Need samples, batch_size >= 1, min_per_group >= 0; got "
                f"{len(groups)} samples, batch_size={batch_size}, "
                f"min_per_group={min_per_group}.")
        self.batch_size, self.min_per_group = int(batch_size), min_per_group
        self.seed, self.shuffle = seed, shuffle
        self.epoch = self.position = 0
        self._n, self._unknown = len(groups), np.flatnonzero(groups < 0)
        self._members = [np.flatnonzero(groups == g)
                         for g in np.unique(groups[groups >= 0])]
        self._take = [min(min_per_group, len(m)) for m in self._members]
        need, k = sum(self._take), len(self._members)
        if need > batch_size or (need == batch_size and len(self._unknown)):
            raise ValueError(
                f"batch_size={batch_size} cannot hold min_per_group="
                f"{min_per_group} samples of each of the {k} groups ({need} "
                f"places) and the Unknown ones. Raise batch_size above "
                f"{need} or lower min_per_group to "
                f"{(batch_size - 1) // k}.")
        self._len = self._count_batches()
        self._plan_cache: tuple[int, list[np.ndarray]] | None = None

    def _count_batches(self) -> int:
        free = self.batch_size - sum(self._take)
        counts = np.array([len(m) for m in self._members], np.int64)
        take = np.array(self._take, np.int64)
        n = math.ceil(self._n / self.batch_size)
        # Smallest n whose free places hold Unknown and left-over samples
        # (with free == 0 there are none: the check in __init__).
        while n * free < len(self._unknown) + np.maximum(
                counts - n * take, 0).sum():
            n += 1
        return n

    def __len__(self) -> int:
        return self._len

    def _order(self, rng, index: np.ndarray) -> np.ndarray:
        return rng.permutation(index) if self.shuffle else index

    def _plan(self, epoch: int) -> list[np.ndarray]:
        if self._plan_cache is not None and self._plan_cache[0] == epoch:
            return self._plan_cache[1]
        rng, n = np.random.default_rng([self.seed, epoch]), self._len
        reserved, pool = [np.empty((n, 0), np.int64)], [self._unknown]
        for members, take in zip(self._members, self._take):
            order = self._order(rng, members)
            if len(order) >= n * take:
                reserved.append(order[:n * take].reshape(n, take))
                pool.append(order[n * take:])
            else:  # cyclic re-use: any `take` neighbours are distinct
                cycle = order[np.arange(n * take) % len(order)]
                reserved.append(cycle.reshape(n, take))
        pool = self._order(rng, np.concatenate(pool))
        sizes = len(pool) // n + (np.arange(n) < len(pool) % n)
        parts = np.split(pool, np.cumsum(sizes)[:-1])
        plan = [self._order(rng, np.concatenate([r, p])) for r, p in zip(
            np.concatenate(reserved, axis=1), parts)]
        self._plan_cache = (epoch, plan)
        return plan

    def __iter__(self):
        plan = self._plan(self.epoch)
        if self.position >= len(plan):  # a finished epoch runs again
            self.position = 0
        while self.position < len(plan):
            self.position += 1
            yield plan[self.position - 1]

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch: a new one starts at its first batch, the
        current one (e.g. just restored) goes on where it stopped."""
        if epoch != self.epoch:
            self.epoch, self.position = int(epoch), 0

    def state_dict(self) -> dict:
        """Seed, epoch, batches consumed, and sizes to check on load."""
        return {"seed": self.seed, "epoch": self.epoch,
                "position": self.position, "n": self._n,
                "batch_size": self.batch_size,
                "min_per_group": self.min_per_group}

    def load_state_dict(self, state: dict) -> None:
        """Resume the sequence saved by :meth:`state_dict`."""
        mine = self.state_dict()
        for key in ("n", "batch_size", "min_per_group"):
            if key in state and state[key] != mine[key]:
                raise ValueError(
                    f"Sampler state has {key}={state[key]}, this sampler "
                    f"{mine[key]}: resume with the same data and settings.")
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])
        self.position = int(state["position"])
