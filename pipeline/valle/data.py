"""VALL-E training pairs from ``data/codec_tokenize``: checked, cut, or quarantined with a reason.

A pair is one segment's MIDI tokens [N, 6] and its codec codes [n_q, frames]. Segments are
written at 120 bpm (``pipeline.data.segment.slice_midi``, like upstream's pretty_midi segments),
so one 96-tpq tick is 1/192 s. Bad pairs are quarantined, never a crash halfway:
- ``length_mismatch``: a note starts after the audio ends, or the audio outlasts the last note by
  more than ``max_tail_s``;
- ``no_notes``: only BOS/EOS rows; ``too_short``: under 4 frames (the NAR prompt draw needs them);
- ``codebooks``: a codebook count other than the codec's.
Items longer than ``max_frames`` are cut there, and their MIDI re-tokenised to the notes before.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.valle.batches import MIN_FRAMES, ValleItem
from pipeline.valle.midi_tokens import notes_to_tokens, tokens_to_notes

TICKS_PER_SECOND = 192  # 96 tpq at 120 bpm


class PairError(ValueError):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def check_pair(
    midi: np.ndarray, codes: np.ndarray, frame_rate: float, n_q: int, *, max_frames: int, max_tail_s: float
) -> ValleItem:
    """A checked (and possibly cut) training item, or :class:`PairError`."""
    if codes.ndim != 2 or codes.shape[0] != n_q:
        raise PairError("codebooks", f"codes {codes.shape}, the codec has {n_q} codebooks")
    notes = tokens_to_notes(midi)
    if not notes:
        raise PairError("no_notes", "the MIDI segment has no notes")
    seconds = codes.shape[1] / frame_rate
    last_on = max(n[0] for n in notes) / TICKS_PER_SECOND
    last_end = max(n[0] + n[1] for n in notes) / TICKS_PER_SECOND
    if last_on > seconds + 0.1:
        raise PairError("length_mismatch", f"a note starts at {last_on:.2f} s, the audio is {seconds:.2f} s")
    if seconds > last_end + max_tail_s:
        raise PairError(
            "length_mismatch", f"audio {seconds:.2f} s, MIDI ends at {last_end:.2f} s (> {max_tail_s} s of tail)"
        )
    if codes.shape[1] > max_frames:
        codes = codes[:, :max_frames]
        cut = max_frames / frame_rate * TICKS_PER_SECOND
        notes = [n for n in notes if n[0] < cut]
        midi = notes_to_tokens(notes)
    if codes.shape[1] < MIN_FRAMES:
        raise PairError("too_short", f"{codes.shape[1]} frames < {MIN_FRAMES}")
    return ValleItem(midi, codes)


def load_pairs(
    tok_dir: str | Path, split: str, frame_rate: float, n_q: int, *, max_frames: int, max_tail_s: float
) -> tuple[list[ValleItem], list[dict], list[dict]]:
    """(items, their labels, quarantine records) of one split of ``data/codec_tokenize``."""
    from pipeline.data.token_store import TokenStore

    tok_dir = Path(tok_dir)
    codes, midi = TokenStore(tok_dir / "codes" / split), TokenStore(tok_dir / "midi" / split)
    midi_index = {pid: i for i, pid in enumerate(midi.ids)}
    items, labels, bad = [], [], []
    for i, pid in enumerate(codes.ids):
        lab = codes.labels[i] if i < len(codes.labels) else {"id": pid}
        if pid not in midi_index:
            bad.append({"id": pid, "split": split, "reason": "no_midi", "detail": "no MIDI tokens"})
            continue
        try:
            items.append(
                check_pair(
                    midi.piece(midi_index[pid]),
                    codes.piece(i),
                    frame_rate,
                    n_q,
                    max_frames=max_frames,
                    max_tail_s=max_tail_s,
                )
            )
            labels.append(lab)
        except PairError as e:
            bad.append({"id": pid, "split": split, "reason": e.reason, "detail": e.detail})
    return items, labels, bad
