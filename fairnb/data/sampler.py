"""Batch samplers: plain shuffled batches, and group-aware batches that
hold every group of one or several attributes.

FairCLIP's in-batch term compares each group's similarity distribution
with the batch's, so a batch without a group gives that group no signal;
a method says which attributes it needs balanced
(:meth:`fairnb.methods.Method.balance`), and the engine picks the sampler
with :func:`make_sampler`. Every sampler is deterministic given its seed
and epoch, and resumable mid-epoch (:meth:`state_dict`).

Used in: 03_fairclip.
"""
from __future__ import annotations

import heapq
import math
from typing import Mapping

import numpy as np

from ..attributes import UNKNOWN


class _Batches:
    """Iteration, epochs and resumable state shared by the samplers."""

    def __init__(self, n: int, *, batch_size: int, seed: int,
                 shuffle: bool):
        if n < 1 or batch_size < 1:
            raise ValueError(f"Need samples and batch_size >= 1; got {n} "
                             f"samples, batch_size={batch_size}.")
        self._n, self.batch_size = int(n), int(batch_size)
        self.seed, self.shuffle = seed, shuffle
        self.epoch = self.position = 0
        self._plan_cache: tuple[int, list[np.ndarray]] | None = None
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def _order(self, rng, index: np.ndarray) -> np.ndarray:
        return rng.permutation(index) if self.shuffle else index

    def _make_plan(self, epoch: int) -> list[np.ndarray]:
        raise NotImplementedError

    def plan(self, epoch: int) -> list[np.ndarray]:
        """The batches (row positions) of ``epoch``, in order; the same
        in every process for the same seed."""
        if self._plan_cache is None or self._plan_cache[0] != epoch:
            self._plan_cache = (epoch, self._make_plan(epoch))
        return self._plan_cache[1]

    def __iter__(self):
        plan = self.plan(self.epoch)
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

    def _sizes(self) -> dict:
        return {"n": self._n, "batch_size": self.batch_size}

    def state_dict(self) -> dict:
        """Seed, epoch, batches consumed, and sizes to check on load."""
        return {"kind": type(self).__name__, "seed": self.seed,
                "epoch": self.epoch, "position": self.position,
                **self._sizes()}

    def load_state_dict(self, state: dict) -> None:
        """Resume the sequence saved by :meth:`state_dict`."""
        mine = self.state_dict()
        for key in ("kind", *self._sizes()):
            if key in state and state[key] != mine[key]:
                raise ValueError(
                    f"Sampler state has {key}={state[key]}, this sampler "
                    f"{mine[key]}: resume with the same data and settings.")
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])
        self.position = int(state["position"])


class PlainBatchSampler(_Batches):
    """Shuffled consecutive batches of ``batch_size``, the last one
    smaller (``DataLoader(shuffle=True, drop_last=False)``, as the
    released FairCLIP code trains).

    Examples
    --------
    >>> [b.tolist() for b in PlainBatchSampler(5, batch_size=2,
    ...                                        shuffle=False)]
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, n: int, *, batch_size: int, seed: int = 0,
                 shuffle: bool = True):
        super().__init__(n, batch_size=batch_size, seed=seed,
                         shuffle=shuffle)
        self._len = math.ceil(self._n / self.batch_size)

    def _make_plan(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        order = self._order(rng, np.arange(self._n))
        return [order[i:i + self.batch_size]
                for i in range(0, self._n, self.batch_size)]


class GroupBatchSampler(_Batches):
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
        if min_per_group < 0:
            raise ValueError(f"Need min_per_group >= 0, got "
                             f"{min_per_group}.")
        super().__init__(len(groups), batch_size=batch_size, seed=seed,
                         shuffle=shuffle)
        self.min_per_group = min_per_group
        self._unknown = np.flatnonzero(groups < 0)
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

    def _sizes(self) -> dict:
        return {**super()._sizes(), "min_per_group": self.min_per_group}

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

    def _make_plan(self, epoch: int) -> list[np.ndarray]:
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
        return [self._order(rng, np.concatenate([r, p])) for r, p in zip(
            np.concatenate(reserved, axis=1), parts)]


class MultiGroupBatchSampler(_Batches):
    """Batches that hold ``min_per_group`` members of every group of
    *each* of several attributes (FairCLIP+, several weighted attributes).

    Each batch is topped up attribute by attribute: a group with fewer
    than ``min(min_per_group, n_g)`` members in the batch gets the next
    ones of its own shuffled cycle (never one already in the batch).
    Every sample not placed that way goes once, in shuffled order, to the
    batch that is smallest so far. An epoch covers every sample; small
    groups are re-used; batches hold at most ``batch_size`` samples (in
    the rare epoch whose reservations overlap less than epoch 0's, one
    more than that for a few batches rather than drop a sample).

    Parameters
    ----------
    groups : mapping of attribute -> numpy.ndarray of int, shape (N,)
    batch_size, min_per_group, seed, shuffle
        As in :class:`GroupBatchSampler`.
    """

    def __init__(self, groups: Mapping[str, np.ndarray], *,
                 batch_size: int, seed: int = 0, min_per_group: int = 2,
                 shuffle: bool = True):
        columns = [np.asarray(g).astype(np.int64).ravel()
                   for g in groups.values()]
        if not columns or len({len(c) for c in columns}) != 1:
            raise ValueError("groups needs one code array per attribute, "
                             "all of the same length.")
        super().__init__(len(columns[0]), batch_size=batch_size, seed=seed,
                         shuffle=shuffle)
        self.min_per_group, self.attributes = min_per_group, tuple(groups)
        self._codes = np.stack(columns, axis=1)
        self._cells = []  # (column, group code, members, places)
        for j, c in enumerate(columns):
            for g in np.unique(c[c >= 0]):
                members = np.flatnonzero(c == g)
                self._cells.append((j, int(g), members,
                                    min(min_per_group, len(members))))
        need = sum(cell[3] for cell in self._cells)
        if need > batch_size:
            raise ValueError(
                f"batch_size={batch_size} cannot hold min_per_group="
                f"{min_per_group} samples of each group of "
                f"{', '.join(self.attributes)} ({need} places). Raise "
                f"batch_size above {need} or lower min_per_group.")
        n = math.ceil(self._n / self.batch_size)
        while not self._fits(self._reserve(0, n)[0]):
            n += 1
        self._len = n

    def _sizes(self) -> dict:
        return {**super()._sizes(), "min_per_group": self.min_per_group,
                "attributes": list(self.attributes)}

    def _fits(self, batches) -> bool:
        placed = len(set().union(*map(set, batches)))
        free = sum(self.batch_size - len(b) for b in batches)
        return free >= self._n - placed

    def _reserve(self, epoch: int, n: int):
        rng = np.random.default_rng([self.seed, epoch])
        cycles = [(j, g, self._order(rng, m), take)
                  for j, g, m, take in self._cells]
        cursor = [0] * len(cycles)
        batches = []
        for _ in range(n):
            batch = []
            for k, (j, g, order, take) in enumerate(cycles):
                have = int(np.sum(self._codes[batch, j] == g)) if batch \
                    else 0
                while have < take:
                    i = int(order[cursor[k] % len(order)])
                    cursor[k] += 1
                    if i not in batch:
                        batch.append(i)
                        have += 1
            batches.append(batch)
        return batches, rng

    def _make_plan(self, epoch: int) -> list[np.ndarray]:
        batches, rng = self._reserve(epoch, self._len)
        placed = set().union(*map(set, batches))
        rest = np.array([i for i in range(self._n) if i not in placed],
                        np.int64)
        heap = [(len(b), k) for k, b in enumerate(batches)]
        heapq.heapify(heap)
        for i in self._order(rng, rest):
            size, k = heapq.heappop(heap)
            batches[k].append(int(i))
            heapq.heappush(heap, (size + 1, k))
        return [self._order(rng, np.array(b, np.int64)) for b in batches]




def make_sampler(groups: Mapping[str, np.ndarray] | None, *, n: int,
                 batch_size: int, seed: int = 0, min_per_group: int = 2):
    """The sampler for ``groups`` (attribute -> codes): plain batches for
    none, :class:`GroupBatchSampler` for one attribute,
    :class:`MultiGroupBatchSampler` for several."""
    if not groups:
        return PlainBatchSampler(n, batch_size=batch_size, seed=seed)
    if len(groups) == 1:
        return GroupBatchSampler(next(iter(groups.values())),
                                 batch_size=batch_size, seed=seed,
                                 min_per_group=min_per_group)
    return MultiGroupBatchSampler(groups, batch_size=batch_size, seed=seed,
                                  min_per_group=min_per_group)


class BalancedBatchSampler(_Batches):
    """Group-balanced batches (group resampling): every batch gives each
    known group of an attribute the same number of places (within one), so
    a small group is over-sampled and a large one under-sampled. Unknown
    (< 0) samples keep their share of Training over the epoch (their
    places spread evenly over the batches), so they train as often as in
    plain batches. An epoch has ``ceil(N / batch_size)`` batches; each
    group's members are drawn in a fresh random order, cyclically, and a
    group smaller than its places in a batch gives the rest to the other
    groups, so no index repeats within a batch (a batch is smaller than
    ``batch_size`` only when all groups together are).

    Examples
    --------
    >>> codes = np.array([0] * 8 + [1] * 2 + [2] * 2)
    >>> [np.bincount(codes[b]).tolist() for b in
    ...  BalancedBatchSampler(codes, batch_size=6)]
    [[2, 2, 2], [2, 2, 2]]
    """

    def __init__(self, groups, *, batch_size: int, seed: int = 0,
                 shuffle: bool = True):
        groups = np.asarray(groups).astype(np.int64).ravel()
        super().__init__(len(groups), batch_size=batch_size, seed=seed,
                         shuffle=shuffle)
        self._unknown = np.flatnonzero(groups < 0)
        self._members = [np.flatnonzero(groups == g)
                         for g in np.unique(groups[groups >= 0])]
        if not self._members:
            raise ValueError("Balanced batches need at least one known "
                             "group; every sample is Unknown.")
        self._len = math.ceil(self._n / self.batch_size)
        # Unknown places: batch j gets floor((j+1) x) - floor(j x), x the
        # Unknown share of a batch, so the epoch holds their share exactly
        x = self.batch_size * len(self._unknown) / self._n
        edges = np.floor(np.arange(self._len + 1) * x + 1e-9).astype(int)
        self._n_unknown = np.minimum(np.diff(edges), min(
            len(self._unknown), self.batch_size - 1))
        self._places = [self._split(self.batch_size - int(u), j)
                        for j, u in enumerate(self._n_unknown)]

    def _split(self, free: int, j: int) -> np.ndarray:
        """Places per group in batch ``j``: equal shares, the remainder
        rotating over the groups; a group's share beyond its size goes to
        the groups with room (water-filling)."""
        sizes = np.array([len(m) for m in self._members])
        k = len(sizes)
        take = np.full(k, free // k)
        take[(j + np.arange(free % k)) % k] += 1
        over = int(np.maximum(take - sizes, 0).sum())
        take = np.minimum(take, sizes)
        while over:
            room = np.flatnonzero(take < sizes)
            if not len(room):
                break  # every group is in the batch whole
            for i in np.roll(room, -j):
                if over and take[i] < sizes[i]:
                    take[i] += 1
                    over -= 1
        return take

    def _make_plan(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        orders = [self._order(rng, m) for m in self._members]
        pos = [0] * len(orders)
        unknown = self._order(rng, self._unknown)
        upos, plan = 0, []
        for take, u in zip(self._places, self._n_unknown):
            parts = []
            for i, t in enumerate(take):
                parts.append(orders[i][(pos[i] + np.arange(t))
                                       % len(orders[i])])
                pos[i] += int(t)
            if u:
                parts.append(unknown[(upos + np.arange(u)) % len(unknown)])
                upos += int(u)
            plan.append(self._order(rng, np.concatenate(parts)))
        return plan
