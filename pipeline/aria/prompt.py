"""The prompt of a continuation: the notes with onset <= ``prompt_duration`` seconds, as tokens.

As upstream (seed-systems 1.5, ``aria.inference.get_inference_prompt``): tokenised without
``<D>``/``<E>``; an empty prompt is ``[prefix piano, <S>]``. The cut keeps the piece's own type, so
an :class:`~pipeline.aria.midi.AriaPiece` keeps the reader's instrument prefix (every channel with a
program change, as ariautils lists it, even when none of its notes falls in the prompt).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pipeline.aria.midi import read_midi_file
from pipeline.aria.tokenizer import AbsTokenizer
from pipeline.data.notes import Piece


def read_prompt(path: str | Path) -> Piece:
    """The notes of a prompt MIDI; corrupt, empty or note-less files are ValueErrors."""
    return read_midi_file(path, "prompt MIDI")


def prompt_tokens(tok: AbsTokenizer, piece: Piece | None, prompt_duration: float, metadata: dict | None = None) -> list:
    """Tokens of the notes with onset <= prompt_duration s (no <D>, no <E>); [piano, <S>] if none."""
    if prompt_duration < 0:
        raise ValueError(f"prompt duration must be >= 0 seconds, got {prompt_duration}")
    limit = round(prompt_duration * 1000)
    notes = [n for n in piece.notes if n.start_ms <= limit] if piece is not None else []
    if not notes:
        return [("prefix", "instrument", "piano"), "<S>"]
    pedals = [p for p in piece.pedals if p.end_ms <= limit]  # drop a dangling pedal-on
    part = replace(piece, notes=notes, pedals=pedals)  # an AriaPiece stays one: same families, same timing
    return tok.tokenize_piece(part, add_dim_tok=False, add_eos_tok=False, metadata=metadata)
