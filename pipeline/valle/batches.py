"""Seeded, step-indexed VALL-E batches: (MIDI tokens, codec codes) pairs padded into one batch.

Which items go into batch ``i`` comes from :class:`RowBatches` over item indices (so sharding and
resume behave exactly like the LM's); the NAR stage k in 1..n_q-1 and the acoustic-prompt length
(prefix mode 1: randint(low, 2*low), low = int(0.25 * shortest length), capped at 150 frames) are
drawn from a generator seeded by (seed, i) and the shortest item of the global batch ``i`` (all
ranks), so batch ``i`` is a pure function of ``i`` and every rank trains the same NAR stage.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch

from pipeline.train.batches import RowBatches
from pipeline.valle.model import MAX_PREFIX_FRAMES

MIN_FRAMES = 4  # the NAR prompt draw needs int(0.25 * min length) >= 1


class ValleItem:
    """One training pair: MIDI tokens int64 [N, 6] (with BOS/EOS) and codes int64 [n_q, frames]."""

    __slots__ = ("midi", "codes")

    def __init__(self, midi: np.ndarray, codes: np.ndarray) -> None:
        midi, codes = np.asarray(midi, dtype=np.int64), np.asarray(codes, dtype=np.int64)
        if midi.ndim != 2 or midi.shape[1] != 6:
            raise ValueError(f"MIDI tokens must be [N, 6], got {midi.shape}")
        if codes.ndim != 2 or codes.shape[1] < MIN_FRAMES:
            raise ValueError(f"codes must be [n_q, frames >= {MIN_FRAMES}], got {codes.shape}")
        self.midi, self.codes = midi, codes


def collate(items: Sequence[ValleItem]) -> dict:
    """Right-pad MIDI with PAD rows (0) and codes with 0 (upstream's collater); [B, T, n_q] codes."""
    b = len(items)
    nx = max(len(it.midi) for it in items)
    nq, ny = items[0].codes.shape[0], max(it.codes.shape[1] for it in items)
    midi = np.zeros((b, nx, 6), dtype=np.int64)
    codes = np.zeros((b, ny, nq), dtype=np.int64)
    for j, it in enumerate(items):
        if it.codes.shape[0] != nq:
            raise ValueError(f"items mix codebook counts {nq} and {it.codes.shape[0]}")
        midi[j, : len(it.midi)] = it.midi
        codes[j, : it.codes.shape[1]] = it.codes.T
    return {
        "midi": torch.from_numpy(midi),
        "codes": torch.from_numpy(codes),
        "x_lens": torch.tensor([len(it.midi) for it in items]),
        "y_lens": torch.tensor([it.codes.shape[1] for it in items]),
    }


def draw_nar(rng: np.random.Generator, n_q: int, y_lens: torch.Tensor) -> tuple[int, int]:
    low = int(0.25 * int(y_lens.min()))
    if low < 1:
        raise ValueError(f"the shortest item has {int(y_lens.min())} frames; need >= {MIN_FRAMES}")
    return int(rng.integers(1, n_q)), min(int(rng.integers(low, 2 * low)), MAX_PREFIX_FRAMES)


class ValleBatches:
    def __init__(
        self,
        items: Sequence[ValleItem],
        batch_size: int,
        *,
        seed: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if not items:
            raise ValueError("no VALL-E training items")
        self.items, self.seed = list(items), seed
        self.n_q = self.items[0].codes.shape[0]
        self.index = RowBatches(
            np.arange(len(self.items))[:, None],
            batch_size,
            seed=seed,
            shuffle=shuffle,
            rank=rank,
            world_size=world_size,
        )
        self.rank, self.world_size, self.batch_size = rank, world_size, batch_size

    def describe(self) -> dict:
        frames = sum(it.codes.shape[1] for it in self.items)
        return {
            "kind": "valle",
            "items": len(self.items),
            "frames": frames,
            "n_q": self.n_q,
            "shuffle": self.index.shuffle,
            "draw": "global",
        }

    def _batch(self, idx, draw_seed) -> dict:
        out = collate([self.items[int(j)] for j in idx])
        out["nar_stage"], out["prefix"] = draw_nar(np.random.default_rng(draw_seed), self.n_q, out["y_lens"])
        return out

    def batch(self, i: int) -> dict:
        """Micro-batch ``i``; its NAR stage and prompt length come from (seed, i) and the shortest
        item of the GLOBAL batch ``i`` (every rank's share), so all ranks train the same NAR stage
        and N processes with batch B/N match one process with batch B."""
        out = collate([self.items[int(j)] for j in self.index.batch(i)[:, 0]])
        shortest = min(int(self.items[int(j)].codes.shape[1]) for j in self._global(i))
        out["nar_stage"], out["prefix"] = draw_nar(
            np.random.default_rng([self.seed, 1, i]), self.n_q, torch.tensor([shortest])
        )
        return out

    def _global(self, i: int) -> np.ndarray:
        """Item indices of batch ``i`` on every rank (a pure function, no collective)."""
        if self.world_size == 1:
            return self.index.batch(i)[:, 0].numpy()
        ix = self.index
        return np.concatenate(
            [
                RowBatches(ix.rows, ix.batch_size, seed=ix.seed, shuffle=ix.shuffle, rank=r, world_size=ix.world_size)
                .batch(i)[:, 0]
                .numpy()
                for r in range(self.world_size)
            ]
        )

    def once(self, max_batches: int | None = None) -> Iterator[dict]:
        for k, idx in enumerate(self.index.once(max_batches)):
            yield self._batch(idx[:, 0], [self.seed, 2, k, self.rank])
