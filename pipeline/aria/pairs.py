"""Contrastive pair batches for the Aria embedding model: two random slices of one piece.

Upstream's ``contrastive_finetune.py`` (seed-systems 1.4): two random slices of the same piece
(``randint(100, 650)`` notes each, tokenised, cut to 2048 tokens, ``<E>`` forced at the end).
A batch is one LongTensor ``[2, B, T]`` (view a, view b), rows right-padded with ``<P>``, for
:class:`pipeline.train.contrastive.ContrastiveObjective`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from pipeline.aria.tokenizer import slice_notes


def view_ids(tok, piece, n_notes: int, max_tokens: int, rng: np.random.Generator, augment: bool = False) -> list[int]:
    """One view: a random run of ``n_notes`` consecutive notes (the whole piece if shorter),
    tokenised with no metadata prefix, no ``<D>``, cut to ``max_tokens - 1`` ids, then ``<E>``."""
    total = len(piece.notes)
    n = min(int(n_notes), total)
    start = int(rng.integers(0, total - n + 1))
    part = slice_notes(piece, start, n) if n < total else piece
    toks = tok.tokenize_piece(part, add_dim_tok=False, add_eos_tok=False)
    if augment:
        toks = tok.augment(toks, rng)
    return tok.encode(toks)[: max_tokens - 1] + [tok.eos_id]


def pad_rows(rows: Sequence[Sequence[int]], pad_id: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    out = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.as_tensor(r, dtype=torch.long)
    return out


class PairBatches:
    """Seeded, step-indexed pairs of views, with :class:`RowBatches`' interface for the loop.

    Batch ``i`` of process ``rank`` is a pure function of (pieces, seed, i, rank): ``batch_size``
    distinct pieces drawn without replacement, each giving two views of ``randint(lo, hi)`` notes
    (drawn independently per view, as upstream). ``once()`` yields fixed validation batches
    (pieces in order, slices seeded by batch number), so every evaluation sees the same pairs.
    """

    def __init__(
        self,
        pieces: Sequence,
        tok,
        batch_size: int,
        notes: tuple[int, int],
        max_tokens: int,
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        augment: bool = False,
    ) -> None:
        if len(pieces) < 2:
            raise ValueError(f"contrastive training needs at least 2 pieces, got {len(pieces)}")
        if batch_size < 2:
            raise ValueError(f"contrastive batch_size must be >= 2 (in-batch negatives), got {batch_size}")
        lo, hi = int(notes[0]), int(notes[1])
        if not 1 <= lo <= hi:
            raise ValueError(f"slice notes range must satisfy 1 <= min <= max, got {notes}")
        if max_tokens < 2:
            raise ValueError(f"max_tokens must be >= 2, got {max_tokens}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world_size {world_size}")
        self.pieces, self.tok, self.notes, self.max_tokens = list(pieces), tok, (lo, hi), int(max_tokens)
        self.batch_size = min(int(batch_size), len(self.pieces))
        self.seed, self.rank, self.world_size, self.augment = seed, rank, world_size, augment

    def describe(self) -> dict:
        return {
            "kind": "aria_pairs",
            "notes": list(self.notes),
            "max_tokens": self.max_tokens,
            "augment": self.augment,
            "pieces": len(self.pieces),
        }

    def _pair(self, piece, rng: np.random.Generator, augment: bool) -> tuple[list[int], list[int]]:
        lo, hi = self.notes
        return tuple(
            view_ids(self.tok, piece, int(rng.integers(lo, hi + 1)), self.max_tokens, rng, augment) for _ in range(2)
        )

    def _stack(self, pairs: list[tuple[list[int], list[int]]]) -> torch.Tensor:
        rows = [p[0] for p in pairs] + [p[1] for p in pairs]
        flat = pad_rows(rows, self.tok.pad_id)
        return flat.view(2, len(pairs), -1)

    def batch(self, i: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, self.rank, self.world_size, i])
        chosen = rng.choice(len(self.pieces), size=self.batch_size, replace=False)
        return self._stack([self._pair(self.pieces[int(j)], rng, self.augment) for j in chosen])

    def once(self, max_batches: int | None = None):
        """Fixed validation batches over this process's pieces (no augmentation); a final
        batch of fewer than 2 pieces is folded into the previous one."""
        mine = list(range(self.rank, len(self.pieces), self.world_size))
        starts = list(range(0, len(mine), self.batch_size))
        if len(starts) > 1 and len(mine) - starts[-1] < 2:
            starts.pop()
        for k, s in enumerate(starts):
            if max_batches is not None and k >= max_batches:
                return
            end = starts[k + 1] if k + 1 < len(starts) else len(mine)
            idx = mine[s:end]
            if len(idx) < 2:
                return
            rng = np.random.default_rng([self.seed, 7919, k])
            yield self._stack([self._pair(self.pieces[j], rng, False) for j in idx])
