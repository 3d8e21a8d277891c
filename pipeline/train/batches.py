"""The batches protocol of the training loop, and seeded, step-indexed batches over packed
token rows, sharded like ``DistributedSampler``.

Any batches object has ``batch(i)`` (micro-batch ``i`` of this process's endless stream, a pure
function of ``i`` so a resumed run needs no iterator state), ``once(max_batches)`` (one
validation pass), ``rank``, ``world_size``, ``batch_size`` and ``describe()`` (what defines the
stream, for the resume fingerprint). :class:`RowBatches` is the one for fixed-length rows.

Batch ``i`` is a pure function of (rows, seed, i, rank, world_size): each epoch is a seeded
permutation of the rows, padded by wrapping to a multiple of ``world_size`` and dealt out
``perm[rank::world_size]``; a process's epochs are concatenated into one stream and micro-batch
``i`` is stream positions ``[i*B, (i+1)*B)``. So resuming at step ``s`` needs no iterator state,
and an interrupted run sees exactly the batches an uninterrupted one would.

An optional ``transform(row, rng) -> row`` (e.g. augmentation) gets a generator seeded by
(seed, epoch, row index), so it is reproducible too.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Protocol

import numpy as np
import torch

Transform = Callable[[np.ndarray, np.random.Generator], np.ndarray]


class Batches(Protocol):
    rank: int
    world_size: int
    batch_size: int

    def batch(self, i: int) -> Any: ...

    def once(self, max_batches: int | None = None) -> Iterator[Any]: ...

    def describe(self) -> dict: ...


class RowBatches:
    def __init__(
        self,
        rows: np.ndarray | torch.Tensor,
        batch_size: int,
        *,
        seed: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        transform: Transform | None = None,
    ) -> None:
        rows = rows.numpy() if isinstance(rows, torch.Tensor) else np.asarray(rows)
        if rows.ndim != 2 or len(rows) == 0:
            raise ValueError(f"rows must be a non-empty [N, T] array, got shape {rows.shape}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world_size {world_size}")
        self.rows, self.batch_size, self.seed, self.shuffle = rows, batch_size, seed, shuffle
        self.rank, self.world_size, self.transform = rank, world_size, transform
        self.per_rank = -(-len(rows) // world_size)  # rows per process per epoch (padded)

    @property
    def seq_len(self) -> int:
        return int(self.rows.shape[1])

    def describe(self) -> dict:
        return {"kind": "rows", "seq_len": self.seq_len, "shuffle": self.shuffle}

    def shard(self, epoch: int) -> np.ndarray:
        """This process's row indices for ``epoch`` (DistributedSampler semantics)."""
        n = len(self.rows)
        perm = np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)
        total = self.per_rank * self.world_size
        if total > n:
            perm = np.concatenate([perm, np.resize(perm, total - n)])
        return perm[self.rank :: self.world_size]

    def batch(self, i: int) -> torch.Tensor:
        """Micro-batch ``i`` of this process's endless stream, as int64 [B, T]."""
        pos = np.arange(i * self.batch_size, (i + 1) * self.batch_size)
        epochs, offsets = pos // self.per_rank, pos % self.per_rank
        shards = {int(e): self.shard(int(e)) for e in np.unique(epochs)}
        idx = [int(shards[int(e)][o]) for e, o in zip(epochs, offsets)]
        out = [self._row(j, int(e)) for j, e in zip(idx, epochs)]
        return torch.from_numpy(np.stack(out).astype(np.int64))

    def _row(self, j: int, epoch: int) -> np.ndarray:
        row = self.rows[j]
        if self.transform is None:
            return row
        out = self.transform(row, np.random.default_rng([self.seed, epoch, j]))
        if out.shape != row.shape:
            raise ValueError(f"transform changed a row's shape {row.shape} -> {out.shape}")
        return out

    def once(self, max_batches: int | None = None) -> Iterator[torch.Tensor]:
        """One pass over this process's rows in order, no padding (validation); the transform,
        if any, gets the generator of epoch 0, so every pass sees the same rows."""
        mine = np.arange(self.rank, len(self.rows), self.world_size)
        for k, start in enumerate(range(0, len(mine), self.batch_size)):
            if max_batches is not None and k >= max_batches:
                return
            out = [self._row(int(j), 0) for j in mine[start : start + self.batch_size]]
            yield torch.from_numpy(np.stack(out).astype(np.int64))
