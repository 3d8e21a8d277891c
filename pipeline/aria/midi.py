"""MIDI <-> note lists for the Aria "abs" tokenizer (see docs: shared/specs/aria-abs-tokenizer.md).

Reading keeps file ticks next to the millisecond times so that a slice of a piece can be
re-based exactly as if it had been read on its own (onsets and durations are each measured
through the tempo map and rounded once, like the reference does).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Iterable

import mido

# GM program // 8 -> family name.
FAMILIES = (
    "piano", "chromatic", "organ", "guitar", "bass", "strings", "ensemble", "brass",
    "reed", "pipe", "synth_lead", "synth_pad", "synth_effect", "ethnic", "percussive", "sfx",
)
IGNORED_FAMILIES = frozenset(
    {"chromatic", "synth_pad", "synth_effect", "ethnic", "percussive", "sfx"}
)
KEPT_FAMILIES = tuple(f for f in FAMILIES if f not in IGNORED_FAMILIES)
FAMILY_PROGRAM = {
    "piano": 0, "chromatic": 13, "organ": 16, "guitar": 24, "bass": 32, "strings": 40,
    "ensemble": 48, "brass": 56, "reed": 64, "pipe": 73, "synth_lead": 80, "synth_pad": 88,
    "synth_effect": 96, "ethnic": 104, "percussive": 112, "sfx": 120,
}
DRUM = "drum"
DRUM_CHANNEL = 9
DEFAULT_TEMPO = 500_000
TICKS_PER_BEAT_OUT = 500  # with DEFAULT_TEMPO: 1 tick = 1 ms
DRUM_DUR_MS = 100  # drums carry no duration; this is only what gets written back


class TokenizerError(ValueError):
    """A MIDI file or token sequence the tokenizer cannot handle; the message names the file."""


@dataclass(frozen=True)
class Note:
    start_ms: int  # from the piece origin (first note's start)
    end_ms: int  # after sustain-pedal folding
    pitch: int
    velocity: int
    family: str  # kept GM family name, or "drum"
    channel: int
    off_ms: int | None = None  # raw note-off before pedal folding (None: same as end_ms)
    ticks: tuple[int, int, int] | None = None  # file ticks (start, folded end, off)

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class Pedal:
    channel: int
    start_ms: int  # may be negative: a pedal pressed before the first note
    end_ms: int
    ticks: tuple[int, int] | None = None


@dataclass(frozen=True)
class Clock:
    """Tempo map of one file: ticks -> milliseconds."""

    ticks_per_beat: int
    tempos: tuple[tuple[int, int], ...]  # (tick, µs per beat), sorted, first at tick 0

    @cached_property
    def _ticks(self) -> list[int]:
        return [t for t, _ in self.tempos]

    def ms(self, t0: int, t1: int) -> int:
        """Signed ms from tick t0 to t1: seconds summed per tempo segment, rounded once."""
        if t1 < t0:
            return -self.ms(t1, t0)
        i = bisect.bisect_right(self._ticks, t0) - 1
        cur, tempo, seconds = t0, self.tempos[max(i, 0)][1], 0.0
        for tick, nxt in self.tempos[i + 1:]:
            if tick >= t1:
                break
            seconds += mido.tick2second(tick - cur, self.ticks_per_beat, tempo)
            cur, tempo = tick, nxt
        return round((seconds + mido.tick2second(t1 - cur, self.ticks_per_beat, tempo)) * 1e3)

    def from_origin(self, t0: int):
        """t -> ms(t0, t) with the very same float sums as ms(), but O(log T) per call."""
        i = bisect.bisect_right(self._ticks, t0) - 1
        marks, tempos, prefix = [t0], [self.tempos[max(i, 0)][1]], [0.0]
        for tick, tempo in self.tempos[i + 1:]:
            prefix.append(prefix[-1] + mido.tick2second(tick - marks[-1], self.ticks_per_beat,
                                                        tempos[-1]))
            marks.append(tick)
            tempos.append(tempo)

        def ms(t1: int) -> int:
            if t1 < t0:
                return self.ms(t0, t1)
            k = max(bisect.bisect_left(marks, t1) - 1, 0)  # last tempo change before t1
            seconds = prefix[k] + mido.tick2second(t1 - marks[k], self.ticks_per_beat, tempos[k])
            return round(seconds * 1e3)

        return ms


@dataclass
class Piece:
    notes: list[Note]
    pedals: list[Pedal] = field(default_factory=list)
    clock: Clock | None = None
    source: str | None = None

    def __len__(self) -> int:
        return len(self.notes)


# ------------------------------------------------------------------ reading
@dataclass
class _Raw:
    notes: list = field(default_factory=list)  # (start, end, pitch, velocity, channel)
    tempos: list = field(default_factory=list)  # (tick, tempo)
    programs: list = field(default_factory=list)  # (tick, channel, program)
    pedals: list = field(default_factory=list)  # (tick, channel, down)


def _open(midi) -> tuple[mido.MidiFile, str]:
    if isinstance(midi, mido.MidiFile):
        return midi, str(midi.filename or "<MidiFile>")
    name = str(midi)
    try:
        return mido.MidiFile(Path(midi)), name
    except Exception as e:  # mido raises many kinds (OSError, EOFError, KeyError, ...)
        raise TokenizerError(f"{name}: unreadable MIDI file ({type(e).__name__}: {e})") from e


def _parse_track(track, raw: _Raw) -> None:
    tick = 0
    open_notes = defaultdict(list)  # (pitch, channel) -> [(start, velocity)]
    for msg in track:
        tick += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            open_notes[(msg.note, msg.channel)].append((tick, msg.velocity))
        elif msg.type in ("note_on", "note_off"):
            key = (msg.note, msg.channel)
            # A note-off closes every open note of its key except those opened on this tick.
            still_open = []
            for start, vel in open_notes.get(key, ()):
                if start == tick:
                    still_open.append((start, vel))
                else:
                    raw.notes.append((start, tick, msg.note, vel, msg.channel))
            if key in open_notes:
                open_notes[key] = still_open
        elif msg.type == "set_tempo":
            raw.tempos.append((tick, msg.tempo))
        elif msg.type == "program_change":
            raw.programs.append((tick, msg.channel, msg.program))
        elif msg.type == "control_change" and msg.control == 64:
            raw.pedals.append((tick, msg.channel, msg.value >= 64))
    # Notes never switched off are dropped, like unmatched note-offs.


def _clock(mid: mido.MidiFile, tempos: list) -> Clock:
    by_tick = {}
    for tick, tempo in sorted(tempos, key=lambda t: t[0]):
        by_tick[tick] = tempo  # the last tempo on a tick wins
    by_tick.setdefault(0, DEFAULT_TEMPO)
    return Clock(mid.ticks_per_beat, tuple(sorted(by_tick.items())))


def _channel_families(programs: list) -> dict[int, str]:
    fams = {}
    for _, channel, program in sorted(programs, key=lambda p: p[0]):
        fams[channel] = FAMILIES[program // 8]  # the last program change on a channel wins
    fams[DRUM_CHANNEL] = DRUM
    return fams


def _pedal_intervals(events: list, last_end: int) -> dict[int, list[tuple[int, int]]]:
    intervals, down_since = defaultdict(list), {}
    for tick, channel, down in sorted(events, key=lambda e: e[0]):
        if down and channel not in down_since:
            down_since[channel] = tick
        elif not down and channel in down_since:
            intervals[channel].append((down_since.pop(channel), tick))
    for channel, start in down_since.items():  # never released: ends with the last note
        intervals[channel].append((start, max(start, last_end)))
    return intervals


def _fold(end: int, intervals: list[tuple[int, int]]) -> int:
    for p_start, p_end in intervals:
        if p_start < end < p_end:
            return p_end
    return end


def read_notes(midi) -> Piece:
    """Read a MIDI path or mido.MidiFile into a Piece of kept-family notes (ms from first note)."""
    mid, name = _open(midi)
    raw = _Raw()
    try:
        for track in mid.tracks:
            _parse_track(track, raw)
    except Exception as e:
        raise TokenizerError(f"{name}: cannot parse MIDI events ({e})") from e
    if not raw.notes:
        raise TokenizerError(f"{name}: contains no notes")
    if mid.ticks_per_beat <= 0:
        raise TokenizerError(f"{name}: unsupported time division {mid.ticks_per_beat}")
    fams = _channel_families(raw.programs)
    notes = sorted(raw.notes, key=lambda n: n[0])  # stable: keeps note-off order on ties
    notes = [n for n in notes if fams.get(n[4], "piano") not in IGNORED_FAMILIES]
    if not notes:
        raise TokenizerError(f"{name}: no notes after removing ignored instruments")
    pedals = _pedal_intervals(raw.pedals, last_end=notes[-1][1])
    clock = _clock(mid, raw.tempos)
    out = []
    for start, off, pitch, vel, ch in notes:
        fam = fams.get(ch, "piano")
        end = off if fam == DRUM else _fold(off, pedals.get(ch, ()))
        out.append(Note(0, 0, pitch, vel, fam, ch, ticks=(start, end, off)))
    pedal_list = [
        Pedal(ch, 0, 0, ticks=iv)
        for ch in sorted(pedals) if ch != DRUM_CHANNEL for iv in pedals[ch]
    ]
    return rebase(Piece(out, pedal_list, clock, name))


def read_midi_file(path: str | Path, what: str = "MIDI file") -> Piece:
    """The notes of a MIDI file from disk; a missing, empty, corrupt or note-less file is an error
    naming ``what`` and the path (a prompt, an embedding input, ...)."""
    import io

    from pipeline.aria.tokenizer import TokenizerError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    data = path.read_bytes()
    if not data:
        raise ValueError(f"{what} {path} is empty (0 bytes)")
    try:
        mid = mido.MidiFile(file=io.BytesIO(data))
    except Exception as e:  # noqa: BLE001 - mido raises OSError/EOFError/KeyError/... on bad files
        raise ValueError(f"{what} {path} is corrupt, not a readable MIDI file ({type(e).__name__}: {e})") from None
    mid.filename = str(path)
    try:
        return read_notes(mid)
    except TokenizerError as e:
        raise ValueError(f"{what} {path} is unusable: {e}") from None


def rebase(piece: Piece, notes: list[Note] | None = None) -> Piece:
    """Piece with `notes` (default: all) timed from the first of them (leading silence removed)."""
    notes = list(piece.notes if notes is None else notes)
    if not notes:
        return Piece([], [], piece.clock, piece.source)
    first, clock = notes[0], piece.clock
    if clock is not None and all(n.ticks for n in notes):
        ms = clock.from_origin(first.ticks[0])
        new = []
        for n in notes:
            start_tick, end_tick, off_tick = n.ticks
            start = ms(start_tick)
            new.append(replace(
                n, start_ms=start, end_ms=start + clock.ms(start_tick, end_tick),
                off_ms=start + clock.ms(start_tick, off_tick),
            ))
        pedals = [replace(p, start_ms=ms(p.ticks[0]), end_ms=ms(p.ticks[1]))
                  for p in piece.pedals if p.ticks]
    else:
        shift = first.start_ms
        new = [replace(n, start_ms=n.start_ms - shift, end_ms=n.end_ms - shift,
                       off_ms=None if n.off_ms is None else n.off_ms - shift) for n in notes]
        pedals = [replace(p, start_ms=p.start_ms - shift, end_ms=p.end_ms - shift)
                  for p in piece.pedals]
    last = max(n.end_ms for n in new)
    pedals = [p for p in pedals if p.end_ms > 0 and p.start_ms < last]
    return Piece(new, pedals, piece.clock, piece.source)


def slice_notes(piece: Piece, start: int, n: int) -> Piece:
    """Notes start..start+n-1 as their own Piece, re-timed from the first of them."""
    if start < 0 or n <= 0 or start >= len(piece.notes):
        raise ValueError(f"empty slice [{start}:{start + n}] of a {len(piece.notes)}-note piece")
    return rebase(piece, piece.notes[start:start + n])


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
