"""Sanity baselines for the metric table, and a Piece -> MIDI writer to score them.

Two corruptions of real pieces that any useful metric must rank below the real ones:
- **shuffled onsets**: every note keeps its pitch, velocity, duration and track but starts at a
  tick drawn uniformly within the piece's span (seeded): the pitch content and the note count
  stay, the metre, the rhythm and the voice leading go. (Permuting the onsets among the notes
  would keep the set of onsets, so rhythm statistics could not see it at all.)
- **random pitch with the real rhythm**: every note keeps its timing and track but gets a pitch
  drawn uniformly from the piano's range (A0..C8, the usual random baseline): rhythm stays,
  melody, harmony and register go.
"""

from __future__ import annotations

import zlib
from dataclasses import replace
from pathlib import Path

import mido
import numpy as np

from pipeline.data.notes import Note, Piece, rebase


def _rng(piece: Piece, seed: int) -> np.random.Generator:
    # a per-piece stream: the same piece is corrupted the same way whatever set it sits in
    return np.random.default_rng([seed, zlib.crc32((piece.source or "").encode())])


def _shift(n: Note, start_tick: int | None, start_ms: int) -> Note:
    ticks = None
    if n.ticks and start_tick is not None:
        d = start_tick - n.ticks[0]
        ticks = (start_tick, n.ticks[1] + d, n.ticks[2] + d)
    d_ms = start_ms - n.start_ms
    off = None if n.off_ms is None else n.off_ms + d_ms
    return replace(n, start_ms=start_ms, end_ms=n.end_ms + d_ms, off_ms=off, ticks=ticks)


PIANO = (21, 108)


def shuffled_onsets(piece: Piece, seed: int = 0) -> Piece:
    rng = _rng(piece, seed)
    timed = piece.clock is not None and all(n.ticks for n in piece.notes)
    if timed:  # draw ticks and time them through the piece's own tempo map
        first, last = piece.notes[0].ticks[0], max(n.ticks[0] for n in piece.notes)
        ticks = rng.integers(first, last + 1, len(piece.notes)).tolist()
        ms = piece.clock.from_origin(first)
        onsets = [(t, ms(t)) for t in ticks]
    else:
        onsets = [(None, int(t)) for t in rng.integers(0, max(n.start_ms for n in piece.notes) + 1, len(piece.notes))]
    notes = [_shift(n, *o) for n, o in zip(piece.notes, onsets)]
    notes.sort(key=lambda n: (n.start_ms, n.track, n.pitch))
    return rebase(Piece(notes, [], piece.clock, piece.source))


def random_pitch(piece: Piece, seed: int = 0) -> Piece:
    pitches = _rng(piece, seed).integers(PIANO[0], PIANO[1] + 1, len(piece.notes))
    return Piece([replace(n, pitch=int(p)) for n, p in zip(piece.notes, pitches)], [], piece.clock, piece.source)


def write_midi(piece: Piece, path: str | Path) -> None:
    """The notes as a type-1 MIDI file: one track per note track, the piece's ticks and tempo map
    when it has them (else 480 ticks per beat at 120 bpm from the milliseconds). Pedal is already
    folded into the note ends, so none is written."""
    timed = piece.clock is not None and all(n.ticks for n in piece.notes)
    tpb = piece.clock.ticks_per_beat if timed else 480
    origin = min(n.ticks[0] for n in piece.notes) if timed else 0
    conductor = mido.MidiTrack()
    tempos = piece.clock.tempos if timed else ((0, 500_000),)
    last = 0
    for tick, tempo in tempos:
        at = max(tick - origin, 0)
        conductor.append(mido.MetaMessage("set_tempo", tempo=tempo, time=at - last))
        last = at
    mid = mido.MidiFile(type=1, ticks_per_beat=tpb)
    mid.tracks.append(conductor)
    for k, track in enumerate(sorted({n.track for n in piece.notes})):
        channel = (
            9
            if any(n.family == "drum" for n in piece.notes if n.track == track)
            else [*range(9), *range(10, 16)][k % 15]
        )
        events = []
        for n in piece.notes:
            if n.track != track:
                continue
            s, e = (
                (n.ticks[0] - origin, n.ticks[1] - origin)
                if timed
                else (n.start_ms * tpb // 500, n.end_ms * tpb // 500)
            )
            events.append((s, 1, n.pitch, n.velocity))
            events.append((max(e, s + 1), 0, n.pitch, 0))
        events.sort()
        msgs, now = mido.MidiTrack(), 0
        for t, on, pitch, vel in events:
            kind = "note_on" if on else "note_off"
            msgs.append(mido.Message(kind, channel=channel, note=pitch, velocity=vel, time=t - now))
            now = t
        mid.tracks.append(msgs)
    mid.save(str(path))
