"""Aria's view of MIDI: which instrument families it keeps, reading with them dropped, and
writing a Piece back as MIDI (see shared/specs/aria-abs-tokenizer.md).

The note model and the one MIDI reader live in pipeline/data/notes.py; this module only adds
the Aria rules (six GM families ignored, TokenizerError naming the file) and the writer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import mido

from pipeline.data.notes import (
    DEFAULT_TEMPO,
    DRUM,
    FAMILIES,
    MidiError,
    Piece,
    read_piece,
)
from pipeline.data.notes import (
    read_midi_file as _read_midi_file,
)

IGNORED_FAMILIES = frozenset({"chromatic", "synth_pad", "synth_effect", "ethnic", "percussive", "sfx"})
KEPT_FAMILIES = tuple(f for f in FAMILIES if f not in IGNORED_FAMILIES)
FAMILY_PROGRAM = {
    "piano": 0,
    "chromatic": 13,
    "organ": 16,
    "guitar": 24,
    "bass": 32,
    "strings": 40,
    "ensemble": 48,
    "brass": 56,
    "reed": 64,
    "pipe": 73,
    "synth_lead": 80,
    "synth_pad": 88,
    "synth_effect": 96,
    "ethnic": 104,
    "percussive": 112,
    "sfx": 120,
}
DRUM_CHANNEL = 9
TICKS_PER_BEAT_OUT = 500  # with DEFAULT_TEMPO: 1 tick = 1 ms
DRUM_DUR_MS = 100  # drums carry no duration; this is only what gets written back


class TokenizerError(MidiError):
    """A MIDI file or token sequence the tokenizer cannot handle; the message names the file."""


# ------------------------------------------------------------------ reading
def read_notes(midi) -> Piece:
    """A MIDI path, bytes or mido.MidiFile as a Piece of kept-family notes (ms from the first)."""
    try:
        return read_piece(midi, IGNORED_FAMILIES)
    except TokenizerError:
        raise
    except MidiError as e:
        raise TokenizerError(str(e)) from e


def read_midi_file(path: str | Path, what: str = "MIDI file") -> Piece:
    """The kept-family notes of a MIDI file on disk; missing, empty, corrupt or note-less
    files are errors naming ``what`` and the path (a prompt, an embedding input, ...)."""
    return _read_midi_file(path, what, IGNORED_FAMILIES)


# ------------------------------------------------------------------ writing
def assign_channels(families: Iterable[str]) -> dict[str, int]:
    """One channel per family in order of first appearance; drums on channel 9."""
    free = [c for c in range(16) if c != DRUM_CHANNEL]
    chans = {}
    for fam in families:
        if fam not in chans:
            if fam == DRUM:
                chans[fam] = DRUM_CHANNEL
            elif free:
                chans[fam] = free.pop(0)
    return chans


def write_midi(piece: Piece) -> mido.MidiFile:
    """Piece -> type-1 MIDI at 1 tick = 1 ms, one track per family (so re-reading keeps the
    family order of simultaneous notes); sustain pedals go on every pitched channel."""
    chans = assign_channels(n.family for n in piece.notes)
    events = {ch: [] for ch in chans.values()} or {0: []}  # ch -> [(tick, prio, order, msg)]
    for fam, ch in chans.items():
        if fam != DRUM:
            msg = mido.Message("program_change", channel=ch, program=FAMILY_PROGRAM.get(fam, 0))
            events[ch].append((0, -1, 0, msg))
    for i, p in enumerate(piece.pedals):
        for ch in [c for f, c in chans.items() if f != DRUM] or [0]:
            for tick, value in ((max(0, p.start_ms), 127), (max(0, p.end_ms), 0)):
                msg = mido.Message("control_change", channel=ch, control=64, value=value)
                events[ch].append((tick, 1, i, msg))
    for i, n in enumerate(piece.notes):
        ch = chans.get(n.family)
        if ch is None:
            continue
        start = max(0, n.start_ms)
        end = start + (DRUM_DUR_MS if n.family == DRUM else max(1, n.end_ms - n.start_ms))
        vel = min(127, max(1, n.velocity))  # velocity 0 would read back as a note-off
        note_on = mido.Message("note_on", channel=ch, note=n.pitch, velocity=vel)
        events[ch].append((start, 2, i, note_on))
        events[ch].append((end, 0, i, mido.Message("note_off", channel=ch, note=n.pitch)))
    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT_OUT)
    for k, evs in enumerate(events.values()):
        # On one tick: note-offs, then pedal, then note-ons, each in piece order.
        evs.sort(key=lambda e: e[:3])
        track = mido.MidiTrack()
        if k == 0:
            track.append(mido.MetaMessage("set_tempo", tempo=DEFAULT_TEMPO, time=0))
        now = 0
        for tick, _, _, msg in evs:
            track.append(msg.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        mid.tracks.append(track)
    return mid
