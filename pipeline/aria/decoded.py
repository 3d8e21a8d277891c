"""A continuation's ids decoded: as a Piece, and as a MIDI file on disk."""

from __future__ import annotations

from pathlib import Path

from pipeline.aria.tokenizer import AbsTokenizer
from pipeline.data.notes import Piece


def to_piece(tok: AbsTokenizer, ids: list[int]) -> Piece:
    return tok.tokens_to_piece(tok.decode(ids))


def write_midi(tok: AbsTokenizer, ids: list[int], path: str | Path) -> Piece:
    piece = to_piece(tok, ids)
    tok.detokenize(tok.decode(ids)).save(str(path))
    return piece
