"""MIDI-VALLE's 6-field compound MIDI tokens (ExpressionTok), identical to upstream's saved arrays.

One row per note: Pitch, Velocity, Duration, IOI, Position, Bar, framed by a BOS row ([1]*6) and an
EOS row ([2]*6). Upstream runs miditok 3.0.2 on symusic 0.4.5; symusic 0.6 (installed here) parses
differently (no sort, keeps zero-length notes), so the file is parsed here with mido, reproducing
0.4.5's rules: FIFO note-off matching per (channel, pitch), a note-off at the onset tick of the
oldest pending note is ignored, one sub-track per (channel, program), notes sorted by
(onset, pitch, duration). Where upstream crashes we do better, and say so:
- no time-signature event: upstream raises IndexError; time signatures never change the ids, so we
  tokenize normally;
- a drum (channel 10) sub-track: upstream's whole file fails with KeyError; we drop drum
  sub-tracks and tokenize the first pitched one.
A file with no in-range notes, or a note in bar >= 3000 (upstream: KeyError), is a named error.
"""

from __future__ import annotations

import io
from collections import deque
from pathlib import Path

import mido
import numpy as np

TPQ = 96  # ticks per quarter note after resampling
BAR_TICKS = 4 * TPQ  # always a 4/4 bar, whatever the file's time signature
PAD, BOS, EOS, MASK = 0, 1, 2, 3
FIELDS = ("Pitch", "Velocity", "Duration", "IOI", "Position", "Bar")
# Vocabulary sizes of the tokenizer (Bar: 3000 bars + 4 specials). VALL-E's Bar embedding has
# only 20 rows (MODEL_VOCAB); upstream relies on 15-20 s segments.
VOCAB = (92, 68, 1156, 772, 388, 3004)
MODEL_VOCAB = (92, 68, 1156, 772, 388, 20)
PITCH_RANGE = (21, 108)
MAX_DURATION = 12 * TPQ
MAX_IOI = 383
MAX_BAR = 3000
DRUM_CHANNEL = 9


class MidiTokenError(ValueError):
    """A MIDI file that cannot become MIDI-VALLE tokens; ``reason`` is a short code."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def _half_up(num: int, den: int) -> int:
    """round(num / den) with ties away from zero, exact for non-negative integers."""
    return (2 * num + den) // (2 * den)


def _read(midi: str | Path | bytes) -> mido.MidiFile:
    try:
        if isinstance(midi, (bytes, bytearray)):
            return mido.MidiFile(file=io.BytesIO(midi))
        return mido.MidiFile(str(midi))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as e:
        raise MidiTokenError("unreadable", f"{type(e).__name__}: {e}") from None


def _track_notes(track: mido.MidiTrack) -> dict[tuple[int, int], list[tuple[int, int, int, int]]]:
    """Notes (onset, duration, pitch, velocity) of one MIDI track, keyed by (channel, program).

    The program in force when the note-off arrives picks the sub-track (as symusic does)."""
    program = [0] * 16
    pending: dict[tuple[int, int], deque] = {}
    subtracks: dict[tuple[int, int], list] = {}
    tick = 0
    for msg in track:
        tick += msg.time
        if msg.type == "program_change":
            program[msg.channel] = msg.program
        elif msg.type == "note_on" and msg.velocity > 0:
            pending.setdefault((msg.channel, msg.note), deque()).append((tick, msg.velocity))
        elif msg.type in ("note_off", "note_on"):
            queue = pending.get((msg.channel, msg.note))
            if not queue or queue[0][0] == tick:  # unmatched, or zero length: ignored
                continue
            onset, velocity = queue.popleft()
            key = (msg.channel, program[msg.channel])
            subtracks.setdefault(key, []).append((onset, tick - onset, msg.note, velocity))
    return subtracks


def first_track_notes(mid: mido.MidiFile) -> list[tuple[int, int, int, int]]:
    """The first pitched sub-track's in-range notes, resampled to 96 tpq and sorted like upstream."""
    tpq = mid.ticks_per_beat
    if tpq <= 0:
        raise MidiTokenError("unsupported_timing", "SMPTE time division is not supported")
    for track in mid.tracks:
        subtracks = _track_notes(track)
        for channel, prog in sorted(subtracks):
            if channel == DRUM_CHANNEL:
                continue
            notes = [n for n in subtracks[(channel, prog)] if PITCH_RANGE[0] <= n[2] <= PITCH_RANGE[1]]
            if not notes:
                continue
            notes.sort(key=lambda n: (n[0], n[2], n[1]))  # symusic 0.4.5 load order
            if tpq != TPQ:
                notes = [(_half_up(TPQ * on, tpq), max(1, _half_up(TPQ * d, tpq)), p, v) for on, d, p, v in notes]
                notes.sort(key=lambda n: n[0])  # miditok: stable sort by resampled onset
            return notes
    raise MidiTokenError("no_notes", "no notes in the piano range 21..108 outside the drum channel")


def notes_to_tokens(notes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """[(onset, duration, pitch, velocity)] at 96 tpq -> int64 [len + 2, 6] with BOS/EOS rows."""
    rows = np.empty((len(notes) + 2, 6), dtype=np.int64)
    rows[0] = BOS
    rows[-1] = EOS
    previous = None
    for i, (onset, duration, pitch, velocity) in enumerate(notes, start=1):
        bar = onset // BAR_TICKS
        if bar >= MAX_BAR:
            raise MidiTokenError("too_long", f"note at bar {bar}; the Bar vocabulary ends at {MAX_BAR - 1}")
        ioi = 0 if previous is None else min(onset - previous, MAX_IOI)
        previous = onset
        rows[i] = (
            pitch - 17,
            velocity // 2 + 4,
            min(max(duration, 1), MAX_DURATION) + 3,
            ioi + 388,
            onset % BAR_TICKS + 4,
            bar + 4,
        )
    return rows


def midi_notes(midi_path: str | Path | bytes) -> list[tuple[int, int, int, int]]:
    """The notes ``midi_tokens`` would tokenise: (onset, duration, pitch, velocity) at 96 tpq."""
    return first_track_notes(_read(midi_path))


def midi_tokens(midi_path: str | Path | bytes) -> np.ndarray:
    """The int64 [notes + 2, 6] array MIDI-VALLE's ``midi_tokenize.py`` saves for this MIDI file."""
    return notes_to_tokens(midi_notes(midi_path))


def tokens_to_notes(tokens: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Upstream's decoding: rows with a special id in the first five columns are skipped; the
    onset is bar * 384 + position (IOI ignored); velocity is the bin value. 96 tpq, 120 bpm."""
    notes = []
    for row in np.asarray(tokens):
        if (row[:5] < 4).any():
            continue
        onset = int(row[5] - 4) * BAR_TICKS + int(row[4] - 4)
        notes.append((onset, int(row[2] - 3), int(row[0] + 17), 2 * int(row[1] - 4) + 1))
    return notes
