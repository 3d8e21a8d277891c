"""Seeded, step-indexed batches for the scorer's two objectives (the loop's batch interface).

Batch ``i`` of process ``rank`` is a pure function of (pieces, seed, i, rank, world_size), so a
resumed run sees exactly the batches an uninterrupted one would. A piece is its M3 patches
([n, P], BOS/EOS included) and its metadata lines; pieces longer than ``patch_length`` are
cut to a random window (validation: the head).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pipeline.clamp.patches import MASK_ID, PAD_ID
from pipeline.clamp.text import PAD_ID as TEXT_PAD
from pipeline.clamp.text import drop_lines, encode_text


@dataclass
class Piece:
    patches: np.ndarray  # int64 [n, P]
    lines: list[str]  # metadata text lines


def _window(p: np.ndarray, length: int, rng: np.random.Generator | None) -> np.ndarray:
    if len(p) <= length:
        return p
    start = int(rng.integers(0, len(p) - length + 1)) if rng is not None else 0
    return p[start : start + length]


def corrupt(patches: np.ndarray, rng: np.random.Generator, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """M3 masking of one piece: (inputs, selected). At least one patch is selected."""
    n = len(patches)
    k = max(1, int(round(ratio * n)))
    sel = np.zeros(n, dtype=bool)
    sel[rng.choice(n, size=min(k, n), replace=False)] = True
    inputs = patches.copy()
    for j in np.flatnonzero(sel):
        r, real = rng.random(), inputs[j] != PAD_ID
        if r < 0.8:
            inputs[j, real] = MASK_ID
        elif r < 0.9:
            inputs[j, real] = rng.permutation(inputs[j, real])
    return inputs, sel


class _Base:
    def __init__(
        self,
        pieces: list[Piece],
        batch_size: int,
        patch_length: int,
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        min_batch: int = 1,
    ) -> None:
        if len(pieces) < min_batch:
            raise ValueError(f"need at least {min_batch} pieces, got {len(pieces)}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world_size {world_size}")
        self.pieces, self.patch_length, self.seed = pieces, int(patch_length), seed
        self.batch_size = max(min_batch, min(int(batch_size), len(pieces)))
        self.rank, self.world_size, self.min_batch = rank, world_size, min_batch

    @property
    def seq_len(self) -> int:
        return self.patch_length

    def describe(self) -> dict:
        return {
            "kind": type(self).__name__,
            "pieces": len(self.pieces),
            "batch_size": self.batch_size,
            "patch_length": self.patch_length,
            "seed": self.seed,
        }

    def batch(self, i: int):
        rng = np.random.default_rng([self.seed, self.rank, self.world_size, i])
        idx = rng.choice(len(self.pieces), size=self.batch_size, replace=False)
        return self._make([self.pieces[int(j)] for j in idx], rng)

    def once(self, max_batches: int | None = None):
        mine = list(range(self.rank, len(self.pieces), self.world_size))
        starts = list(range(0, len(mine), self.batch_size))
        if len(starts) > 1 and len(mine) - starts[-1] < self.min_batch:
            starts.pop()
        for k, s in enumerate(starts):
            if max_batches is not None and k >= max_batches:
                return
            end = starts[k + 1] if k + 1 < len(starts) else len(mine)
            if end - s < self.min_batch:
                return
            yield self._make([self.pieces[j] for j in mine[s:end]], None, np.random.default_rng([self.seed, 7919, k]))

    def _patch_rows(self, pieces: list[Piece], rng) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        wins = [_window(p.patches, self.patch_length, rng) for p in pieces]
        L, P = max(len(w) for w in wins), wins[0].shape[1]
        x = np.zeros((len(wins), L, P), dtype=np.int64)
        m = np.zeros((len(wins), L), dtype=np.int64)
        for i, w in enumerate(wins):
            x[i, : len(w)], m[i, : len(w)] = w, 1
        return x, m, wins


class MaskedPatchBatches(_Base):
    """(inputs, targets, mask, selected) for :class:`MaskedPatchObjective`."""

    def __init__(
        self, pieces: list[Piece], batch_size: int, patch_length: int, *, mask_ratio: float = 0.45, **kw
    ) -> None:
        super().__init__(pieces, batch_size, patch_length, **kw)
        self.mask_ratio = float(mask_ratio)

    def describe(self) -> dict:
        return super().describe() | {"mask_ratio": self.mask_ratio}

    def _make(self, pieces, rng, fixed_rng=None):
        x, m, wins = self._patch_rows(pieces, rng)
        inputs, sel = np.zeros_like(x), np.zeros(m.shape, dtype=bool)
        mrng = rng if rng is not None else fixed_rng
        for i, w in enumerate(wins):
            inputs[i, : len(w)], sel[i, : len(w)] = corrupt(w, mrng, self.mask_ratio)
        return (torch.from_numpy(inputs), torch.from_numpy(x), torch.from_numpy(m), torch.from_numpy(sel))


class ClampBatches(_Base):
    """(patches, patch mask, text ids, text mask) pairs for :class:`ClampObjective`."""

    def __init__(
        self,
        pieces: list[Piece],
        batch_size: int,
        patch_length: int,
        *,
        text_len: int = 128,
        text_dropout: float = 0.0,
        **kw,
    ) -> None:
        super().__init__(pieces, batch_size, patch_length, min_batch=2, **kw)
        self.text_len, self.text_dropout = int(text_len), float(text_dropout)

    def describe(self) -> dict:
        return super().describe() | {"text_len": self.text_len, "text_dropout": self.text_dropout}

    def _make(self, pieces, rng, fixed_rng=None):
        x, m, _ = self._patch_rows(pieces, rng)
        texts = [
            encode_text(drop_lines(p.lines, rng, self.text_dropout) if rng is not None else p.lines, self.text_len)
            for p in pieces
        ]
        T = max(len(t) for t in texts)
        ids = np.full((len(texts), T), TEXT_PAD, dtype=np.int64)
        for i, t in enumerate(texts):
            ids[i, : len(t)] = t
        return (
            torch.from_numpy(x),
            torch.from_numpy(m),
            torch.from_numpy(ids),
            torch.from_numpy((ids != TEXT_PAD).astype(np.int64)),
        )
