"""Contrastive (SimCSE/SimCLR-style) objective for the Aria embedding model, and its pair batches.

Upstream's ``contrastive_finetune.py`` (seed-systems 1.4): two random slices of the same piece
(``randint(100, 650)`` notes each, tokenised, cut to 2048 tokens, ``<E>`` forced at the end) are
embedded by ``TransformerEMB`` at ``<E>``; the loss is the symmetric InfoNCE over the batch: the
mean of the row- and column-wise cross-entropy of the cross-view cosine-similarity matrix divided
by the temperature (only view-a x view-b similarities, not SimCLR's full 2N x 2N matrix).

A batch is one LongTensor ``[2, B, T]``: ``batch[0]`` holds view a, ``batch[1]`` view b, rows
right-padded with ``<P>``. Both views go through the model in ONE forward pass (so DDP sees one
forward per backward). Under torchrun, negatives are the pairs of the local batch only.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from pipeline.train.objectives import Loss


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Symmetric InfoNCE of paired embeddings a, b [B, D] (row i of a and b are one piece).

    ``logits = cos(a_i, b_j) / temperature``; loss = (CE(logits, diag) + CE(logits.T, diag)) / 2.
    Stats: ``pair_acc`` (fraction of rows and columns whose best match is the partner),
    ``pos_cos`` / ``neg_cos`` (mean cosine of partners / of other pairs).
    """
    if a.shape != b.shape or a.dim() != 2:
        raise ValueError(f"info_nce needs two [B, D] tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    n = a.shape[0]
    sim = F.normalize(a.float(), dim=-1) @ F.normalize(b.float(), dim=-1).T
    logits = sim / temperature
    target = torch.arange(n, device=a.device)
    loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    with torch.no_grad():
        hit = 0.5 * ((logits.argmax(1) == target).float().mean() + (logits.argmax(0) == target).float().mean())
        diag = sim.diagonal()
        off = (sim.sum() - diag.sum()) / max(n * n - n, 1)
        stats = {"pair_acc": float(hit), "pos_cos": float(diag.mean()), "neg_cos": float(off)}
    return loss, stats


class ContrastiveObjective:
    """``objective(model, batch[2, B, T]) -> Loss``: InfoNCE of the two views' ``<E>`` embeddings.

    ``model`` is a ``TransformerEMB`` (possibly DDP-wrapped): ``model(ids, eos_id=...) -> [N, D]``.
    """

    name = "contrastive"

    def __init__(self, eos_id: int, pad_id: int, temperature: float = 0.1) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.eos_id, self.pad_id, self.temperature = int(eos_id), int(pad_id), float(temperature)

    def __call__(self, model: torch.nn.Module, batch: torch.Tensor) -> Loss:
        if batch.dim() != 3 or batch.shape[0] != 2 or batch.shape[1] < 2:
            raise ValueError(f"contrastive batches must be [2, B>=2, T] (two views of B pieces), "
                             f"got {tuple(batch.shape)}")
        n = batch.shape[1]
        emb = model(batch.flatten(0, 1), eos_id=self.eos_id)  # one forward for both views
        loss, stats = info_nce(emb[:n], emb[n:], self.temperature)
        return Loss(loss, torch.tensor(float(n), device=batch.device), stats)

    def batch_tokens(self, batch: torch.Tensor) -> int:
        return int((batch != self.pad_id).sum())

    def to(self, batch: torch.Tensor, device: torch.device) -> torch.Tensor:
        return batch.to(device, dtype=torch.long, non_blocking=True)


# ----------------------------------------------------------------------------- views
def view_ids(tok, piece, n_notes: int, max_tokens: int, rng: np.random.Generator,
             augment: bool = False) -> list[int]:
    """One view: a random run of ``n_notes`` consecutive notes (the whole piece if shorter),
    tokenised with no metadata prefix, no ``<D>``, cut to ``max_tokens - 1`` ids, then ``<E>``."""
    from pipeline.aria.tokenizer import slice_notes

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

    def __init__(self, pieces: Sequence, tok, batch_size: int, notes: tuple[int, int], max_tokens: int,
                 *, seed: int = 0, rank: int = 0, world_size: int = 1, augment: bool = False) -> None:
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

    @property
    def seq_len(self) -> int:
        return self.max_tokens

    def _pair(self, piece, rng: np.random.Generator, augment: bool) -> tuple[list[int], list[int]]:
        lo, hi = self.notes
        return tuple(view_ids(self.tok, piece, int(rng.integers(lo, hi + 1)), self.max_tokens, rng, augment)
                     for _ in range(2))

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
