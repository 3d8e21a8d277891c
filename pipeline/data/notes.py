"""The note model every symbolic layer shares (Piece, Note, Pedal, Clock) and its one MIDI reader.

symusic (the C++ parser miditok uses) parses the events, one MIDI track at a time (only the
chunk frames are read here, so every note knows its MIDI track); this module turns symusic's
tracks into notes timed in milliseconds. Notes keep the file's ticks beside the milliseconds so
that a slice of a piece is re-timed exactly as if it had been read on its own (onset and
duration each measured through the tempo map and rounded once, with mido's float operations).

Reading rules (those of the mido-based Aria reader this replaced, token for token; golden
tests in tests/unit/test_tokenizer_aria.py):
- a note ends at the first note-off of its pitch on its channel after its onset, so re-struck
  overlapping notes end together; a note never switched off is dropped;
- a note's family is the GM family (program // 8) in force on its channel when it starts
  (channel 9: "drum");
- sustain pedal (CC64 >= 64 down, < 64 up) extends a pitched note still sounding at a release
  to that release; a pedal never released ends with the last note's note-off;
- notes are ordered by onset, then MIDI track, then note-off tick, then channel, then onset
  order; a tempo map's last tempo on a tick wins.
Where symusic drops information first, we differ from that reader: a note-on whose note-off
was taken by an earlier note-on of the same pitch (two note-ons, one note-off) is dropped; a
note-off on a note's own onset tick hides a later one (the note is dropped); a program change
counts from where it stands in its own MIDI track (mido's reader applied a channel's last
program change to the whole file); pedal applies per MIDI track and channel.
"""

from __future__ import annotations

import bisect
import io
import struct
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Callable, Collection

import numpy as np
import symusic

# GM program // 8 -> family name.
FAMILIES = (
    "piano",
    "chromatic",
    "organ",
    "guitar",
    "bass",
    "strings",
    "ensemble",
    "brass",
    "reed",
    "pipe",
    "synth_lead",
    "synth_pad",
    "synth_effect",
    "ethnic",
    "percussive",
    "sfx",
)
DRUM = "drum"
DEFAULT_TEMPO = 500_000  # µs per beat when a file sets none (120 bpm)
PEDAL_CC = 64


class MidiError(ValueError):
    """A MIDI file that cannot become a Piece; the message names the file and the cause."""


class CorruptMidiError(MidiError):
    """Bytes that are not a readable MIDI file (no header, truncated, malformed events)."""


@dataclass(frozen=True)
class Note:
    start_ms: int  # from the piece origin (first note's start)
    end_ms: int  # after sustain-pedal folding
    pitch: int
    velocity: int
    family: str  # GM family name, or "drum"
    track: int  # instrument track it was read from (one per MIDI track, channel and program)
    off_ms: int | None = None  # raw note-off before pedal folding (None: same as end_ms)
    ticks: tuple[int, int, int] | None = None  # file ticks (start, folded end, off)

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class Pedal:
    track: int
    start_ms: int  # may be negative: a pedal pressed before the first note
    end_ms: int
    ticks: tuple[int, int] | None = None


def _seconds(ticks: int, ticks_per_beat: int, tempo: int) -> float:
    return ticks * (tempo * 1e-6 / ticks_per_beat)  # the very float ops of mido.tick2second


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
        for tick, nxt in self.tempos[i + 1 :]:
            if tick >= t1:
                break
            seconds += _seconds(tick - cur, self.ticks_per_beat, tempo)
            cur, tempo = tick, nxt
        return round((seconds + _seconds(t1 - cur, self.ticks_per_beat, tempo)) * 1e3)

    def from_origin(self, t0: int) -> Callable[[int], int]:
        """t -> ms(t0, t) with the very same float sums as ms(), but O(log T) per call."""
        i = bisect.bisect_right(self._ticks, t0) - 1
        marks, tempos, prefix = [t0], [self.tempos[max(i, 0)][1]], [0.0]
        for tick, tempo in self.tempos[i + 1 :]:
            prefix.append(prefix[-1] + _seconds(tick - marks[-1], self.ticks_per_beat, tempos[-1]))
            marks.append(tick)
            tempos.append(tempo)

        def ms(t1: int) -> int:
            if t1 < t0:
                return self.ms(t0, t1)
            k = max(bisect.bisect_left(marks, t1) - 1, 0)  # last tempo change before t1
            return round((prefix[k] + _seconds(t1 - marks[k], self.ticks_per_beat, tempos[k])) * 1e3)

        return ms

    @cached_property
    def _scales(self) -> np.ndarray:
        return np.array([tempo * 1e-6 / self.ticks_per_beat for _, tempo in self.tempos])

    def ms_from_many(self, t0: int, ticks: np.ndarray) -> np.ndarray:
        """``from_origin(t0)`` over an array: the same float operations, vectorised."""
        i = bisect.bisect_right(self._ticks, t0) - 1
        marks, prefix = [t0], [0.0]
        for (tick, _), scale in zip(self.tempos[i + 1 :], self._scales[max(i, 0) :].tolist()):
            prefix.append(prefix[-1] + (tick - marks[-1]) * scale)
            marks.append(tick)
        scales = self._scales[max(i, 0) : max(i, 0) + len(marks)]
        out = np.empty(len(ticks), dtype=np.int64)
        ahead = ticks >= t0
        k = np.maximum(np.searchsorted(marks, ticks[ahead], side="left") - 1, 0)
        seconds = np.array(prefix)[k] + (ticks[ahead] - np.array(marks)[k]) * scales[k]
        out[ahead] = np.rint(seconds * 1e3)
        for j in np.flatnonzero(~ahead).tolist():  # before the origin (a pedal pressed early)
            out[j] = self.ms(t0, int(ticks[j]))
        return out

    def ms_many(self, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
        """``ms(t0, t1)`` per pair, vectorised where no tempo change falls inside the span
        (then ``ms`` adds a single segment to 0.0); the other pairs go through ``ms``."""
        ticks = np.array(self._ticks + [np.iinfo(np.int64).max], dtype=np.int64)
        i = np.maximum(np.searchsorted(ticks, t0, side="right") - 1, 0)
        simple = (t1 >= t0) & (ticks[i + 1] >= t1)
        out = np.empty(len(t0), dtype=np.int64)
        out[simple] = np.rint((t1 - t0)[simple] * self._scales[i[simple]] * 1e3)
        for j in np.flatnonzero(~simple).tolist():
            out[j] = self.ms(int(t0[j]), int(t1[j]))
        return out


@dataclass
class Piece:
    notes: list[Note]
    pedals: list[Pedal] = field(default_factory=list)
    clock: Clock | None = None
    source: str | None = None

    def __len__(self) -> int:
        return len(self.notes)


# ------------------------------------------------------------------ reading
def _midi_bytes(midi) -> tuple[bytes, str]:
    if isinstance(midi, (bytes, bytearray)):
        return bytes(midi), "<bytes>"
    if hasattr(midi, "save") and hasattr(midi, "tracks"):  # an in-memory mido.MidiFile
        buf = io.BytesIO()
        midi.save(file=buf)
        return buf.getvalue(), str(getattr(midi, "filename", None) or "<MidiFile>")
    name = str(midi)
    try:
        return Path(midi).read_bytes(), name
    except OSError as e:
        raise CorruptMidiError(f"{name}: unreadable MIDI file ({type(e).__name__}: {e})") from e


def _split_tracks(data: bytes, name: str) -> tuple[int, list[bytes]]:
    """(ticks per beat, one single-track MIDI file per MTrk chunk). Only the chunk frames are
    read here; symusic parses the events, one MIDI track at a time, so a note knows its track."""
    if len(data) < 14 or data[:4] != b"MThd":
        raise CorruptMidiError(f"{name}: unreadable MIDI file (no MThd header: not a MIDI file)")
    header_len = int.from_bytes(data[4:8], "big")
    _, n_tracks, division = struct.unpack(">HHH", data[8:14])
    if division & 0x8000 or division == 0:
        raise MidiError(f"{name}: unsupported time division {division:#06x} (SMPTE or zero)")
    head = b"MThd" + struct.pack(">IHHH", 6, 0, 1, division)
    pos, tracks = 8 + header_len, []
    while len(tracks) < n_tracks:
        size = int.from_bytes(data[pos + 4 : pos + 8], "big")
        if pos + 8 + size > len(data):
            raise CorruptMidiError(
                f"{name}: unreadable MIDI file (truncated: track {len(tracks)} "
                f"needs {size} bytes, {max(len(data) - pos - 8, 0)} left)"
            )
        if data[pos : pos + 4] == b"MTrk":
            tracks.append(head + data[pos : pos + 8 + size])
        pos += 8 + size
    return division, tracks


@dataclass
class _Track:
    midi_track: int
    family: str
    notes: dict  # symusic's numpy columns: time, duration, pitch, velocity
    pedal: np.ndarray  # (tick, down) rows of CC64 events in file order


def _parse(data: bytes, name: str) -> tuple[int, list[_Track], list[tuple[int, int]]]:
    division, chunks = _split_tracks(data, name)
    tracks, tempos = [], []
    for k, chunk in enumerate(chunks):
        try:
            score = symusic.Score.from_midi(chunk)
        except Exception as e:  # symusic raises RuntimeError for malformed events
            raise CorruptMidiError(f"{name}: cannot parse MIDI events of track {k} ({e})") from e
        tempos += [(t.time, t.mspq) for t in score.tempos]
        for t in score.tracks:
            family = DRUM if t.is_drum else FAMILIES[t.program // 8]
            cc = t.controls.numpy()
            sel = cc["number"] == PEDAL_CC
            pedal = np.stack([cc["time"][sel], cc["value"][sel] >= 64], axis=1).astype(np.int64)
            tracks.append(_Track(k, family, _end_at_first_off(t.notes.numpy()), pedal))
    return division, tracks, tempos


def _end_at_first_off(notes: dict) -> dict:
    """Re-pair symusic's notes so each ends at the first note-off of its pitch after its start.

    symusic closes the oldest open note per note-off; Aria's reference reader lets a note-off
    close every earlier note of its pitch, so re-struck overlapping notes end together. The
    note-off ticks are exactly the ends symusic matched, so one sorted search per note finds
    them (a note whose only note-off is on its own start tick has none and is dropped)."""
    start = notes["time"].astype(np.int64)
    if not len(start):
        return notes
    pitch = notes["pitch"].astype(np.int64) << 32  # ticks are int32: (pitch, tick) in one key
    offs = np.sort(pitch + start + notes["duration"])
    k = np.searchsorted(offs, pitch + start, side="right")
    k_ok = np.minimum(k, len(offs) - 1)
    keep = (k < len(offs)) & (offs[k_ok] >> 32 == pitch >> 32)
    end = offs[k_ok] - pitch
    return {
        "time": start[keep],
        "duration": (end - start)[keep],
        "pitch": notes["pitch"][keep],
        "velocity": notes["velocity"][keep],
    }


def _clock(ticks_per_beat: int, tempos: list[tuple[int, int]]) -> Clock:
    by_tick = {}
    for tick, tempo in sorted(tempos, key=lambda t: t[0]):
        by_tick[tick] = tempo  # the last tempo on a tick wins
    by_tick.setdefault(0, DEFAULT_TEMPO)
    return Clock(ticks_per_beat, tuple(sorted(by_tick.items())))


def _pedal_intervals(events: np.ndarray, last_end: int) -> list[tuple[int, int]]:
    intervals, down_since = [], None
    for tick, down in events.tolist():
        if down and down_since is None:
            down_since = tick
        elif not down and down_since is not None:
            intervals.append((down_since, tick))
            down_since = None
    if down_since is not None:  # never released: ends with the last note
        intervals.append((down_since, max(down_since, last_end)))
    return intervals


def _fold(end: int, intervals: list[tuple[int, int]]) -> int:
    for p_start, p_end in intervals:
        if p_start < end < p_end:
            return p_end
    return end


def read_piece(midi, drop_families: Collection[str] = ()) -> Piece:
    """A MIDI path, bytes or mido.MidiFile as a Piece timed from its first note (ms).

    Notes of ``drop_families`` are left out (the origin is the first note kept). Raises
    MidiError naming the file for unreadable, truncated, note-less files."""
    data, name = _midi_bytes(midi)
    division, tracks, tempos = _parse(data, name)
    if not any(len(t.notes["time"]) for t in tracks):
        raise MidiError(f"{name}: contains no notes")
    kept = [(i, t) for i, t in enumerate(tracks) if t.family not in drop_families]
    if not sum(len(t.notes["time"]) for _, t in kept):
        raise MidiError(f"{name}: no notes after removing ignored instruments")

    def column(get) -> np.ndarray:
        return np.concatenate([np.asarray(get(i, t), dtype=np.int64) for i, t in kept])

    track = column(lambda i, t: np.full(len(t.notes["time"]), i))
    midi_track = column(lambda i, t: np.full(len(t.notes["time"]), t.midi_track))
    start = column(lambda i, t: t.notes["time"])
    off = start + column(lambda i, t: t.notes["duration"])
    pitch = column(lambda i, t: t.notes["pitch"])
    velocity = column(lambda i, t: t.notes["velocity"])
    order = np.lexsort((np.arange(len(start)), track, off, midi_track, start))
    last_end = int(off[order[-1]])
    pedals = {i: _pedal_intervals(t.pedal, last_end) for i, t in enumerate(tracks) if t.family != DRUM and len(t.pedal)}
    notes = []
    for s, o, p, v, i in zip(*(a[order].tolist() for a in (start, off, pitch, velocity, track))):
        family = tracks[i].family
        end = o if family == DRUM else _fold(o, pedals.get(i, ()))
        notes.append(Note(0, 0, p, v, family, i, ticks=(s, end, o)))
    pedal_list = [Pedal(i, 0, 0, ticks=iv) for i in sorted(pedals) for iv in pedals[i]]
    return rebase(Piece(notes, pedal_list, _clock(division, tempos), name))


def read_midi_file(path: str | Path, what: str = "MIDI file", drop_families: Collection[str] = ()) -> Piece:
    """The notes of a MIDI file on disk; a missing, empty, corrupt or note-less file is an error
    naming ``what`` and the path (a prompt, an embedding input, ...)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    data = path.read_bytes()
    if not data:
        raise MidiError(f"{what} {path} is empty (0 bytes)")
    try:
        return read_piece(data, drop_families)
    except CorruptMidiError as e:
        cause = str(e).removeprefix("<bytes>: ")
        raise CorruptMidiError(f"{what} {path} is corrupt, not a readable MIDI file ({cause})") from None
    except MidiError as e:
        raise MidiError(f"{what} {path} is unusable: {str(e).removeprefix('<bytes>: ')}") from None


# ------------------------------------------------------------------ re-timing
def rebase(piece: Piece, notes: list[Note] | None = None) -> Piece:
    """Piece with `notes` (default: all) timed from the first of them (leading silence removed)."""
    notes = list(piece.notes if notes is None else notes)
    if not notes:
        return Piece([], [], piece.clock, piece.source)
    first, clock = notes[0], piece.clock
    if clock is not None and all(n.ticks for n in notes):
        new = _timed(clock, notes)
        ms = clock.from_origin(first.ticks[0])
        pedals = [replace(p, start_ms=ms(p.ticks[0]), end_ms=ms(p.ticks[1])) for p in piece.pedals if p.ticks]
    else:
        shift = first.start_ms
        new = [
            replace(
                n,
                start_ms=n.start_ms - shift,
                end_ms=n.end_ms - shift,
                off_ms=None if n.off_ms is None else n.off_ms - shift,
            )
            for n in notes
        ]
        pedals = [replace(p, start_ms=p.start_ms - shift, end_ms=p.end_ms - shift) for p in piece.pedals]
    last = max(n.end_ms for n in new)
    pedals = [p for p in pedals if p.end_ms > 0 and p.start_ms < last]
    return Piece(new, pedals, piece.clock, piece.source)


def _timed(clock: Clock, notes: list[Note]) -> list[Note]:
    """Notes re-timed from their ticks: onset from the first note's onset, end and note-off each
    measured from the onset (so a slice times its notes exactly as a file of its own would)."""
    ticks = np.array([n.ticks for n in notes], dtype=np.int64)
    start = clock.ms_from_many(int(ticks[0, 0]), ticks[:, 0])
    end = start + clock.ms_many(ticks[:, 0], ticks[:, 1])
    same = ticks[:, 2] == ticks[:, 1]
    off = np.where(same, end, start + clock.ms_many(ticks[:, 0], np.where(same, ticks[:, 0], ticks[:, 2])))
    return [
        Note(s, e, n.pitch, n.velocity, n.family, n.track, o, n.ticks)
        for s, e, o, n in zip(start.tolist(), end.tolist(), off.tolist(), notes)
    ]


def slice_notes(piece: Piece, start: int, n: int) -> Piece:
    """Notes start..start+n-1 as their own Piece, re-timed from the first of them."""
    if start < 0 or n <= 0 or start >= len(piece.notes):
        raise ValueError(f"empty slice [{start}:{start + n}] of a {len(piece.notes)}-note piece")
    return rebase(piece, piece.notes[start : start + n])
