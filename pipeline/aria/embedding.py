"""A piece's global embedding: the unweighted mean of its chunks' embeddings.

As upstream ``aria/embedding.py`` (seed-systems 1.4): the piece is cut into note chunks
(:mod:`pipeline.aria.chunks`), every chunk is encoded (:mod:`pipeline.aria.encoders`) and the
piece's vector is the mean over its chunks.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from pipeline.aria.chunks import chunk_ids, note_chunks
from pipeline.aria.encoders import encode_rows
from pipeline.aria.tokenizer import AbsTokenizer
from pipeline.data.notes import Piece


def embed_pieces(
    encoder,
    tok: AbsTokenizer,
    pieces: Sequence[Piece],
    chunk_notes: int = 300,
    max_tokens: int = 2048,
    batch_tokens: int = 16384,
    max_chunks: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, np.ndarray], list[int]]:
    """Global embeddings {name: [P, D]} (mean over each piece's chunks) and chunks per piece."""
    max_tokens = min(max_tokens, encoder.max_seq_len)
    rows, owner, counts = [], [], []
    for p, piece in enumerate(pieces):
        chunks = note_chunks(piece, chunk_notes, max_chunks)
        counts.append(len(chunks))
        for c in chunks:
            rows.append(chunk_ids(tok, c, max_tokens))
            owner.append(p)
    flat = encode_rows(encoder, rows, tok.pad_id, tok.eos_id, batch_tokens, progress)
    owner_arr = np.asarray(owner)
    out = {}
    for name, v in flat.items():
        sums = np.zeros((len(pieces), v.shape[1]), dtype=np.float64)
        np.add.at(sums, owner_arr, v)
        out[name] = (sums / np.asarray(counts, dtype=np.float64)[:, None]).astype(np.float32)
    return out, counts
