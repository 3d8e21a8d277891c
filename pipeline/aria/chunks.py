"""A piece cut into token chunks for embedding (as upstream ``aria/embedding.py``, seed-systems 1.4).

A file's notes are cut into consecutive ``chunk_notes``-note chunks (300 upstream); each chunk is
tokenised with no ``<D>`` and no metadata prefix (instrument prefix only), cut to
``max_tokens - 1`` ids, and ``<E>`` is forced at the end. A trailing remainder shorter than half
a chunk is dropped unless it is the only chunk (ours; upstream is silent on it).
"""

from __future__ import annotations

from pipeline.aria.tokenizer import AbsTokenizer
from pipeline.data.notes import Piece, slice_notes


def note_chunks(piece: Piece, chunk_notes: int, max_chunks: int | None = None) -> list[Piece]:
    """Consecutive ``chunk_notes``-note chunks (see module doc for the remainder rule)."""
    if chunk_notes < 1:
        raise ValueError(f"chunk_notes must be >= 1, got {chunk_notes}")
    n = len(piece.notes)
    if n == 0:
        raise ValueError(f"{piece.source or 'piece'}: no notes to embed")
    chunks = []
    for start in range(0, n, chunk_notes):
        size = min(chunk_notes, n - start)
        if chunks and size < max(1, chunk_notes // 2):
            break
        chunks.append(slice_notes(piece, start, size))
        if max_chunks is not None and len(chunks) >= max_chunks:
            break
    return chunks


def chunk_ids(tok: AbsTokenizer, piece: Piece, max_tokens: int) -> list[int]:
    """Tokens of one chunk: instrument prefix, ``<S>``, notes (cut), ``<E>``; no ``<D>``."""
    if max_tokens < 2:
        raise ValueError(f"max_tokens must be >= 2, got {max_tokens}")
    toks = tok.tokenize_piece(piece, add_dim_tok=False, add_eos_tok=False)
    return tok.encode(toks)[: max_tokens - 1] + [tok.eos_id]
