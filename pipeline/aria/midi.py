"""Aria's view of MIDI: which instrument families it keeps, reading a file exactly as
ariautils does (token for token), and writing a Piece back as MIDI
(see shared/specs/aria-abs-tokenizer.md).

Reading follows ariautils' MidiDict + AbsTokenizer, not the shared reader in
pipeline/data/notes.py (whose symusic notes lose which note-ons a note-off closes and the
order of simultaneous notes):
- notes are paired per MIDI track as midi_events.py describes, all tracks' notes are then
  stably sorted by onset tick (so simultaneous notes keep track order, then note-off order);
- a channel (not a track) has one family for the whole file: its last program change
  (non-drum channels without one are piano; channel 9 is drums); a channel that ever gets a
  program of an ignored family loses all its notes and pedals; the instrument prefix lists
  every channel with a program change, notes or not (and piano when a file has none);
- sustain pedal is per channel, across tracks: CC64 >= 64 down, < 64 up, in tick order; a
  pitched note whose note-off falls strictly inside a pedal interval ends at its release; a
  pedal never released ends at the note-off of the last note (in onset order);
- milliseconds come from tempo.py's AriaClock (ariautils' own float walk over the tempo map).
Differential tests against ariautils' outputs: tests/unit/test_aria_ariautils.py.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Iterable

import mido
import numpy as np

from pipeline.aria.midi_events import TrackError, scan_track
from pipeline.aria.tempo import AriaClock
from pipeline.data.notes import (
    DEFAULT_TEMPO,
    DRUM,
    FAMILIES,
    CorruptMidiError,
    MidiError,
    Note,
    Pedal,
    Piece,
    _midi_bytes,
    _split_tracks,
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
_HEADER_AND_CHUNK = 14 + 8  # _split_tracks gives each track as MThd header + MTrk chunk


class TokenizerError(MidiError):
    """A MIDI file or token sequence the tokenizer cannot handle; the message names the file."""


@dataclass
class AriaPiece(Piece):
    """A Piece read with ariautils' rules; ``families``: the instrument prefix families
    (every non-drum channel's family, notes or not, as ariautils lists them). Its notes' and
    pedals' ``track`` is the MIDI channel (ariautils keys everything by channel)."""

    families: tuple[str, ...] = ()


# ------------------------------------------------------------------ reading
def read_notes(midi) -> AriaPiece:
    """A MIDI path, bytes or mido.MidiFile as ariautils reads it (kept families, ms from the
    first note); any problem is a TokenizerError naming the file."""
    try:
        return _read(*_midi_bytes(midi))
    except TokenizerError:
        raise
    except MidiError as e:
        raise TokenizerError(str(e)) from e


def _read(data: bytes, name: str) -> AriaPiece:
    division, chunks = _split_tracks(data, name)
    notes, tempos, pedals, programs = [], [], [], []
    for k, chunk in enumerate(chunks):
        try:
            ev = scan_track(chunk[_HEADER_AND_CHUNK:])
        except TrackError as e:
            raise CorruptMidiError(f"{name}: cannot parse MIDI events of track {k} ({e})") from e
        notes += ev.notes
        tempos += ev.tempos
        pedals += ev.pedals
        programs += ev.programs
    if not notes:
        raise MidiError(f"{name}: contains no notes")
    programs = sorted(programs, key=itemgetter(0)) or [(0, 0, 0)]  # none at all: ariautils assumes piano on 0
    removed = {ch for _, ch, prog in programs if ch != DRUM_CHANNEL and FAMILIES[prog // 8] in IGNORED_FAMILIES}
    notes = sorted((n for n in notes if n[4] not in removed), key=itemgetter(0))
    if not notes:
        raise MidiError(f"{name}: no notes after removing ignored instruments")
    family = {ch: FAMILIES[prog // 8] for _, ch, prog in programs if ch not in removed and ch != DRUM_CHANNEL}
    for ch in {n[4] for n in notes} - family.keys() - {DRUM_CHANNEL}:
        family[ch] = "piano"
    tempos.sort(key=itemgetter(0))
    clock = AriaClock(division, tuple(tempos) or ((0, DEFAULT_TEMPO),))
    intervals = _pedal_intervals(sorted((p for p in pedals if p[1] not in removed), key=itemgetter(0)), notes[-1][1])
    fams = [DRUM if n[4] == DRUM_CHANNEL else family[n[4]] for n in notes]
    return AriaPiece(*_timed(clock, notes, fams, intervals), clock, name, tuple(sorted(set(family.values()))))


def _timed(clock: AriaClock, notes: list, fams: list, intervals: dict) -> tuple[list[Note], list[Pedal]]:
    """Notes and pedals in ms as ariautils times them: onsets from the first onset, durations
    from each onset to the pedal-folded end (the raw note-off the same way, for pedal tokens)."""
    start_t = np.array([n[0] for n in notes], dtype=np.int64)
    off_t = np.array([n[1] for n in notes], dtype=np.int64)
    end_t = np.array(
        [off if ch == DRUM_CHANNEL else _fold(off, intervals.get(ch)) for _, off, _, _, ch in notes], dtype=np.int64
    )
    origin = int(start_t[0])
    start = clock.ms_from_many(origin, start_t)
    end = start + clock.ms_many(start_t, end_t)
    off = end.copy()
    folded = end_t != off_t
    off[folded] = start[folded] + clock.ms_many(start_t[folded], off_t[folded])
    ticks = zip(start_t.tolist(), end_t.tolist(), off_t.tolist())
    out = [
        Note(s, e, n[2], n[3], fam, n[4], o, t)
        for s, e, o, n, fam, t in zip(start.tolist(), end.tolist(), off.tolist(), notes, fams, ticks)
    ]
    spans = [(ch, a, b) for ch, (starts, ends) in intervals.items() for a, b in zip(starts, ends)]
    if not spans:
        return out, []
    a_ms = clock.ms_from_many(origin, np.array([s[1] for s in spans], dtype=np.int64)).tolist()
    b_ms = clock.ms_from_many(origin, np.array([s[2] for s in spans], dtype=np.int64)).tolist()
    last = int(end.max())
    pedals = [Pedal(ch, a, b, (ta, tb)) for (ch, ta, tb), a, b in zip(spans, a_ms, b_ms) if b > 0 and a < last]
    return out, pedals


def _pedal_intervals(pedals: list, last_off: int) -> dict[int, tuple[list, list]]:
    """channel -> (starts, ends) of its pedal-down intervals, in tick order."""
    out: dict[int, tuple[list, list]] = {}
    down: dict[int, int] = {}
    for tick, ch, value in pedals:
        if value >= 64:
            down.setdefault(ch, tick)
        elif ch in down:
            starts, ends = out.setdefault(ch, ([], []))
            starts.append(down.pop(ch))
            ends.append(tick)
    for ch, tick in down.items():  # never released: up at the last note's note-off
        starts, ends = out.setdefault(ch, ([], []))
        starts.append(tick)
        ends.append(last_off)
    return out


def _fold(off: int, intervals: tuple[list, list] | None) -> int:
    """The release of the pedal interval holding ``off`` strictly inside, else ``off``.
    A channel's intervals are disjoint and ordered, so only the last starting before ``off``
    can hold it."""
    if intervals is None:
        return off
    starts, ends = intervals
    k = bisect.bisect_left(starts, off) - 1
    return ends[k] if k >= 0 and off < ends[k] else off


def read_midi_file(path: str | Path, what: str = "MIDI file") -> AriaPiece:
    """The notes of a MIDI file on disk; missing, empty, corrupt or note-less files are errors
    naming ``what`` and the path (a prompt, an embedding input, ...)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    data = path.read_bytes()
    if not data:
        raise MidiError(f"{what} {path} is empty (0 bytes)")
    try:
        return _read(data, "<bytes>")
    except CorruptMidiError as e:
        cause = str(e).removeprefix("<bytes>: ")
        raise CorruptMidiError(f"{what} {path} is corrupt, not a readable MIDI file ({cause})") from None
    except MidiError as e:
        raise MidiError(f"{what} {path} is unusable: {str(e).removeprefix('<bytes>: ')}") from None


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
