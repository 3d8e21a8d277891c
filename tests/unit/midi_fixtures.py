"""Small MIDI files built with mido inside a test's tmp dir (nothing binary is committed).

Each builder returns the path it wrote. Events are given as (absolute tick, mido message)
per track; the helper turns them into delta times.
"""

from __future__ import annotations

from pathlib import Path

import mido

Event = tuple[int, mido.Message | mido.MetaMessage]


def on(tick: int, pitch: int, vel: int = 80, ch: int = 0) -> Event:
    return tick, mido.Message("note_on", note=pitch, velocity=vel, channel=ch)


def off(tick: int, pitch: int, ch: int = 0, as_zero_velocity: bool = False) -> Event:
    if as_zero_velocity:
        return tick, mido.Message("note_on", note=pitch, velocity=0, channel=ch)
    return tick, mido.Message("note_off", note=pitch, velocity=0, channel=ch)


def note(start: int, end: int, pitch: int, vel: int = 80, ch: int = 0) -> list[Event]:
    return [on(start, pitch, vel, ch), off(end, pitch, ch)]


def tempo(tick: int, us_per_beat: int) -> Event:
    return tick, mido.MetaMessage("set_tempo", tempo=us_per_beat)


def program(tick: int, prog: int, ch: int) -> Event:
    return tick, mido.Message("program_change", program=prog, channel=ch)


def pedal(tick: int, value: int, ch: int = 0) -> Event:
    return tick, mido.Message("control_change", control=64, value=value, channel=ch)


def write(path: Path, tracks: list[list[Event]], tpb: int = 500) -> Path:
    """Write tracks of absolute-tick events (stable-sorted by tick) as a type-1 file."""
    mid = mido.MidiFile(type=1, ticks_per_beat=tpb)
    for events in tracks:
        track, now = mido.MidiTrack(), 0
        for tick, msg in sorted(events, key=lambda e: e[0]):
            track.append(msg.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        mid.tracks.append(track)
    mid.save(str(path))
    return Path(path)


# ---------------------------------------------------------------- the fixtures
def tempo_changes(d: Path) -> Path:
    """tpb 480; 120 bpm, then 240 bpm at tick 960, then 60 bpm at tick 1920 (conductor track)."""
    conductor = [tempo(0, 500_000), tempo(960, 250_000), tempo(1920, 1_000_000)]
    notes = note(0, 480, 60) + note(960, 1440, 62) + note(1440, 2400, 64) + note(2400, 2640, 65)
    return write(d / "tempo_changes.mid", [conductor, notes], tpb=480)


def sustain_pedal(d: Path) -> Path:
    """1 tick = 1 ms. Pedal 100..1500 (CC values 64 / 63), pedal from 2000 never released."""
    events = [tempo(0, 500_000), pedal(100, 64), pedal(1500, 63), pedal(2000, 127)]
    events += note(0, 400, 60, 64) + note(0, 50, 64, 64)  # 60 is held to 1500, 64 ends first
    events += note(200, 1500, 72, 64)  # ends exactly at the release: not extended
    events += note(1500, 1700, 67, 64)
    events += note(2100, 2200, 62, 64) + note(2150, 3000, 48, 64)  # last note ends the pedal
    return write(d / "sustain_pedal.mid", [events])


def multi_instrument(d: Path) -> Path:
    """Strings (program 40), piano (no program change), drums, and vibraphone (program 11)."""
    strings = [tempo(0, 500_000), program(0, 40, 0)] + note(0, 1000, 55, 100, 0)
    piano = note(0, 500, 72, 50, 1)
    drums = note(0, 10, 36, 100, 9) + note(250, 260, 42, 100, 9) + note(300, 310, 20, 100, 9)
    vibes = [program(0, 11, 2)] + note(100, 200, 60, 80, 2)
    return write(d / "multi_instrument.mid", [strings, piano, drums, vibes])


def ignored_first(d: Path) -> Path:
    """The first note is on an ignored family: the time origin is the first kept note."""
    events = [program(0, 11, 0)] + note(0, 100, 60, 80, 0) + note(300, 400, 64, 80, 1)
    return write(d / "ignored_first.mid", [events])


def only_ignored(d: Path) -> Path:
    events = [program(0, 100, 0)] + note(0, 100, 60, 80, 0)
    return write(d / "only_ignored.mid", [events])


def long_gaps(d: Path) -> Path:
    """Gaps over 5 s (two `<T>`, then one) and a 7 s note (duration capped at 5000)."""
    events = note(0, 100, 60) + note(12_343, 12_443, 62) + note(15_000, 15_100, 64)
    events += note(15_010, 22_010, 65)
    return write(d / "long_gaps.mid", [events])


def velocities(d: Path) -> Path:
    events = []
    for i, vel in enumerate((1, 127, 75, 85, 5, 64)):
        events += note(i * 100, i * 100 + 50, 60 + i, vel)
    return write(d / "velocities.mid", [events])


def overlapping(d: Path) -> Path:
    """Same-pitch overlaps, a note-off on the note-on's own tick, a double note-on, and a
    note that is never switched off."""
    events = [on(0, 60, 80), on(100, 60, 90), off(300, 60), off(500, 60)]
    events += [on(1000, 62, 70), off(1000, 62, as_zero_velocity=True), off(1200, 62)]
    events += [on(2000, 64, 70), on(2000, 64, 100), off(2400, 64)]
    events += [on(3000, 65, 70)]
    return write(d / "overlapping.mid", [events])


def tpb96_no_tempo(d: Path) -> Path:
    """96 ticks per beat and no tempo event: 500,000 µs/beat, so 1 tick = 5.2083 ms."""
    events = note(0, 96, 60) + note(48, 60, 62) + note(100, 130, 64) + note(1000, 1019, 65)
    return write(d / "tpb96.mid", [events], tpb=96)


def long_piece(d: Path, n: int = 120, step: int = 250) -> Path:
    """n piano notes a step apart (long enough for `<D>`: 3 tokens each)."""
    events = []
    for i in range(n):
        events += note(i * step, i * step + 200, 40 + i % 48, 30 + (i * 7) % 90)
    return write(d / "long_piece.mid", [events])


def empty(d: Path) -> Path:
    return write(d / "empty.mid", [[tempo(0, 500_000)]])


def truncated(d: Path) -> Path:
    good = long_piece(d, n=20).read_bytes()
    path = d / "truncated.mid"
    path.write_bytes(good[: len(good) // 2])
    return path


def bad_header(d: Path) -> Path:
    path = d / "bad_header.mid"
    path.write_bytes(b"RIFF\x00\x00\x00\x06not a midi file at all")
    return path


ALL_VALID = (
    tempo_changes,
    sustain_pedal,
    multi_instrument,
    ignored_first,
    long_gaps,
    velocities,
    overlapping,
    tpb96_no_tempo,
    long_piece,
)
