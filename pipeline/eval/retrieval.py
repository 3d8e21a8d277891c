"""Retrieval check for embeddings: does one slice of a piece find the other slice of it?

For every test piece with at least ``2 * min_notes`` notes, ``disjoint_slices`` picks two
non-overlapping runs of consecutive notes (``slice_notes`` each, fewer for short pieces: at most
half the piece), at seeded random places. Each slice is embedded on its own. ``retrieval_scores``
ranks, for each slice a_i, every other piece's slice b_j by cosine similarity (and b_i against
all a_j); top-k is how often the partner is among the k nearest, averaged over both directions.
Chance level is k / N for N pieces.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def disjoint_slices(
    n_notes: int, slice_notes: int, rng: np.random.Generator, min_notes: int = 8
) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Two (start, length) runs that do not overlap, or None when the piece is too short."""
    length = min(int(slice_notes), n_notes // 2)
    if length < min_notes:
        return None
    gap = n_notes - 2 * length  # free notes to distribute before, between and after the slices
    a0 = int(rng.integers(0, gap + 1))
    b0 = a0 + length + int(rng.integers(0, gap - a0 + 1))
    first, second = (a0, length), (b0, length)
    return (first, second) if rng.random() < 0.5 else (second, first)


def _ranks(q: np.ndarray, g: np.ndarray) -> np.ndarray:
    """0-based rank of the partner g_i among all of g for each query q_i (cosine)."""
    qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    gn = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
    sim = qn @ gn.T
    own = sim.diagonal()[:, None]
    return (sim > own).sum(axis=1)  # ties count in the query's favour


def retrieval_scores(a: np.ndarray, b: np.ndarray, ks: Sequence[int] = (1, 5)) -> dict:
    """{"n", "top1", "top5", "chance_top1", ..., "mean_rank"} for paired rows of a and b [N, D]."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"retrieval needs two [N, D] arrays of one shape, got {a.shape} and {b.shape}")
    n = a.shape[0]
    if n < 2:
        raise ValueError(f"retrieval needs at least 2 pieces, got {n}")
    ranks = np.concatenate([_ranks(a, b), _ranks(b, a)])
    out = {"n": int(n), "mean_rank": round(float(ranks.mean()) + 1, 3)}
    for k in ks:
        out[f"top{k}"] = round(float((ranks < k).mean()), 4)
        out[f"chance_top{k}"] = round(min(k, n) / n, 4)
    return out
