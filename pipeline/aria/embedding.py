"""Global embeddings of MIDI files with Aria-format models (one code path for the CLI and stages).

As upstream ``aria/embedding.py`` (seed-systems 1.4): a file's notes are cut into consecutive
``chunk_notes``-note chunks (300); each chunk is tokenised with no ``<D>`` and no metadata prefix
(instrument prefix only), cut to ``max_tokens - 1`` ids, ``<E>`` is forced at the end, the chunk is
embedded, and the file's embedding is the unweighted mean over its chunks. A trailing remainder
shorter than half a chunk is dropped unless it is the only chunk (ours; upstream is silent on it).

Encoders (``encode(ids[B, T], eos_pos[B]) -> {name: [B, D]}``):
  ``EmbEncoder``    a ``TransformerEMB``: ``emb_head`` output at ``<E>`` -> "contrastive".
  ``TrunkEncoder``  a frozen ``TransformerLM``'s trunk (after the final LayerNorm, no LM head):
                    mean over positions ``<S>``..``<E>`` -> "frozen_mean", state at ``<E>`` -> "frozen_last".
Rows are right-padded with ``<P>``; attention is causal, so padding never changes a real position.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from pipeline.aria.tokenizer import AbsTokenizer, Piece, slice_notes
from pipeline.aria.load import resolve_checkpoint
from pipeline.aria.midi import read_midi_file

EMB_HEAD = "emb_head.weight"


# ----------------------------------------------------------------------------- inputs
def read_midi(path: str | Path) -> Piece:
    """The notes of a MIDI file; missing, empty, corrupt or note-less files are clear errors."""
    return read_midi_file(path, "MIDI file")


def read_pieces(ingest_dir: str | Path, rows: Sequence[dict]) -> tuple[list[Piece], list[dict]]:
    """(pieces, problems) for ingest index rows (``midi`` relative to ``ingest_dir``); a file that
    cannot be read becomes a problem row {id, split, detail} instead of an exception."""
    pieces, problems = [], []
    for row in rows:
        try:
            piece = read_midi(Path(ingest_dir) / row["midi"])
            piece.source = row["id"]
            pieces.append(piece)
        except (ValueError, FileNotFoundError) as e:
            problems.append({"id": row["id"], "split": row.get("split"), "detail": str(e)[:300]})
    return pieces, problems


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


# ----------------------------------------------------------------------------- models
def load_checked(checkpoint: str | Path, tok: AbsTokenizer, head: str | None = None,
                 device: str | torch.device = "cpu"):
    """Load strictly (float32, eval); wrong head, vocabulary or tokenizer hash is a ValueError."""
    from pipeline.aria.load import CheckpointError, load, read_header

    path = resolve_checkpoint(checkpoint)
    shapes, meta = read_header(path)
    if head == "emb" and EMB_HEAD not in shapes:
        kind = "a language model (lm_head.weight)" if "lm_head.weight" in shapes else "not an Aria embedding model"
        raise CheckpointError(f"checkpoint {path} has no {EMB_HEAD}: it is {kind}; embeddings need a "
                              f"contrastive checkpoint (e.g. models/aria_contrastive)")
    if head == "lm" and "lm_head.weight" not in shapes:
        raise CheckpointError(f"checkpoint {path} has no lm_head.weight: expected a pretrained LM")
    have = meta.get("tokenizer_hash")
    if have and have != tok.config_hash():
        raise CheckpointError(f"checkpoint {path} was trained with tokenizer {have}, this tokenizer is "
                              f"{tok.config_hash()} (vocab {tok.vocab_size}): different vocabularies")
    return load(path, expected_vocab_size=tok.vocab_size, device=device, dtype=torch.float32)


class EmbEncoder:
    """``TransformerEMB`` -> {"contrastive": emb_head output at ``<E>``}."""

    def __init__(self, model, name: str = "contrastive") -> None:
        if getattr(model, "emb_head", None) is None:
            raise ValueError("EmbEncoder needs a TransformerEMB (a model with emb_head)")
        self.model, self.names = model.eval(), (name,)
        self.max_seq_len = model.config.max_seq_len

    @torch.no_grad()
    def encode(self, ids: torch.Tensor, eos_pos: torch.Tensor) -> dict[str, torch.Tensor]:
        return {self.names[0]: self.model(ids, eos_pos).float()}


class TrunkEncoder:
    """A frozen LM's trunk -> {"frozen_mean": mean state over <S>..<E>, "frozen_last": state at <E>}."""

    names = ("frozen_mean", "frozen_last")

    def __init__(self, model) -> None:
        self.model = model.eval()
        self.max_seq_len = model.config.max_seq_len

    @torch.no_grad()
    def encode(self, ids: torch.Tensor, eos_pos: torch.Tensor) -> dict[str, torch.Tensor]:
        end = int(eos_pos.max()) + 1
        h = self.model.model(ids[:, :end]).float()  # [B, T, d] after the final LayerNorm
        pos = torch.arange(end, device=ids.device)[None, :]
        keep = (pos <= eos_pos[:, None]).float()[..., None]
        mean = (h * keep).sum(1) / keep.sum(1)
        last = h[torch.arange(ids.shape[0], device=ids.device), eos_pos]
        return {"frozen_mean": mean, "frozen_last": last}


def encode_rows(encoder, rows: Sequence[Sequence[int]], pad_id: int, eos_id: int,
                batch_tokens: int = 16384, progress: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
    """Encode token rows (each ends with ``<E>``) in length-sorted batches of at most
    ``batch_tokens`` padded tokens; returns {name: float32 [len(rows), D]} in input order."""
    if not rows:
        raise ValueError("nothing to encode")
    too_long = [i for i, r in enumerate(rows) if len(r) > encoder.max_seq_len]
    if too_long:
        raise ValueError(f"{len(too_long)} rows are longer than the model's max_seq_len "
                         f"{encoder.max_seq_len}: lower max_tokens")
    device = next(encoder.model.parameters()).device
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))
    out: dict[str, np.ndarray] = {}
    i = 0
    while i < len(order):
        width = len(rows[order[i]])
        take = max(1, batch_tokens // max(width, 1))
        idx = order[i:i + take]
        ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
        for r, j in enumerate(idx):
            ids[r, : len(rows[j])] = torch.as_tensor(rows[j], dtype=torch.long)
        eos = torch.tensor([len(rows[j]) - 1 for j in idx], dtype=torch.long)
        if not bool((ids[torch.arange(len(idx)), eos] == eos_id).all()):
            raise ValueError("every row must end with <E>")
        for name, v in encoder.encode(ids.to(device), eos.to(device)).items():
            if name not in out:
                out[name] = np.zeros((len(rows), v.shape[1]), dtype=np.float32)
            out[name][idx] = v.cpu().numpy()
        i += len(idx)
        if progress is not None:
            progress(len(idx))
    return out


def embed_pieces(encoder, tok: AbsTokenizer, pieces: Sequence[Piece], chunk_notes: int = 300,
                 max_tokens: int = 2048, batch_tokens: int = 16384, max_chunks: int | None = None,
                 progress: Callable[[int], None] | None = None) -> tuple[dict[str, np.ndarray], list[int]]:
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
