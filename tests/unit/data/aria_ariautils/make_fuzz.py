"""Seeded fuzz MIDI files for the ariautils differential test (written with mido).

    .venv/bin/python tests/unit/data/aria_ariautils/make_fuzz.py OUT_DIR

Each case stresses one thing where a reader can silently differ from ariautils: sustain
pedal in its own track or on other channels, overlapping same-pitch notes, note-offs on a
note's own onset tick, simultaneous notes across channels and tracks (note-offs of one tick
in shuffled order), drums with piano, a long file at 10,080 ticks per beat, dense and odd
tempo maps, velocity-0 note-offs, notes left open, program changes. Events on one tick are
written in a seeded random order, so the order of note-ons/offs on a tick varies too.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import mido

TEMPO = 500_000


def msg(kind: str, **kw) -> mido.Message:
    return mido.Message(kind, **kw)


def note(ev: list, start: int, end: int, pitch: int, vel: int, ch: int, zero_off: bool = False) -> None:
    ev.append((start, msg("note_on", note=pitch, velocity=vel, channel=ch)))
    off = msg("note_on", note=pitch, velocity=0, channel=ch) if zero_off else msg("note_off", note=pitch, channel=ch)
    ev.append((end, off))


def pedal(ev: list, tick: int, value: int, ch: int) -> None:
    ev.append((tick, msg("control_change", control=64, value=value, channel=ch)))


def tempo(ev: list, tick: int, us: int) -> None:
    ev.append((tick, mido.MetaMessage("set_tempo", tempo=us)))


def program(ev: list, tick: int, prog: int, ch: int) -> None:
    ev.append((tick, msg("program_change", program=prog, channel=ch)))


def write(path: Path, tracks: list[list], tpb: int, rng: random.Random, kind: int = 1) -> None:
    """Tracks of (tick, message); events of one tick come out in a seeded random order."""
    if kind == 0:
        tracks = [[e for t in tracks for e in t]]
    mid = mido.MidiFile(type=kind, ticks_per_beat=tpb)
    for events in tracks:
        keyed = sorted((tick, rng.random(), m) for tick, m in events)
        track, now = mido.MidiTrack(), 0
        for tick, _, m in keyed:
            track.append(m.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        mid.tracks.append(track)
    mid.save(str(path))


def melody(ev, rng, ch, tpb, n, pitches=(36, 96), chord=(1, 4), gap=(0, 2), pedal_ch=None, zero_off=0.0):
    """n onsets of 1..chord[1] notes; durations and gaps in multiples of a sixteenth."""
    t, step = rng.randint(0, tpb), max(tpb // 4, 1)
    for _ in range(n):
        for p in rng.sample(range(*pitches), k=rng.randint(*chord)):
            dur = step * rng.randint(1, 8) + rng.choice([0, 0, 1, -1])
            note(ev, t, t + max(dur, 1), p, rng.randint(1, 127), ch, rng.random() < zero_off)
        t += step * rng.randint(*gap)
    return t


def pedals(ev, rng, ch, end, tpb, n, values=(0, 127)):
    """n pedal presses (value >= 64) and releases (< 64) at random ticks, some repeated."""
    for _ in range(n):
        a = rng.randint(0, end)
        pedal(ev, a, rng.randint(64, values[1]), ch)
        if rng.random() < 0.3:
            pedal(ev, a + rng.randint(0, tpb), rng.randint(64, 127), ch)  # a second "down"
        pedal(ev, a + rng.randint(1, 4 * tpb), rng.randint(values[0], 63), ch)


# ---------------------------------------------------------------- the cases
def pedal_own_track(path: Path, rng: random.Random) -> None:
    """Piano notes in one track, their channel's pedal in a track of its own (arabesque.mid)."""
    tpb, notes, ped = 480, [], []
    end = melody(notes, rng, 0, tpb, 80, chord=(1, 3), gap=(0, 3))
    pedals(ped, rng, 0, end, tpb, 25)
    pedal(ped, end - tpb, 100, 0)  # pressed and never released
    conductor = []
    tempo(conductor, 0, 600_000)
    write(path, [conductor, notes, ped], tpb, rng)


def pedal_other_channels(path: Path, rng: random.Random) -> None:
    """Pedal on channels without notes, on one of two note channels, and before the first note."""
    tpb, a, b, ped = 384, [], [], []
    end = max(melody(a, rng, 0, tpb, 50), melody(b, rng, 1, tpb, 50))
    program(b, 0, 40, 1)
    pedals(ped, rng, 1, end, tpb, 12)
    pedals(ped, rng, 2, end, tpb, 12)
    pedal(ped, 0, 127, 0)
    pedal(ped, rng.randint(1, tpb // 2), 0, 0)
    write(path, [a, b, ped], tpb, rng)


def overlaps(path: Path, rng: random.Random) -> None:
    """Same-pitch notes struck again before their note-off, note-offs on an onset's tick, extra
    note-offs, velocity-0 note-offs, notes never switched off."""
    tpb, ev = 96, []
    t = 0
    for _ in range(150):
        p, ch = rng.choice([60, 62, 64, 65]), rng.choice([0, 0, 1])
        kind = rng.randrange(6)
        if kind == 0:  # two note-ons, one note-off
            note(ev, t, t + 40, p, rng.randint(1, 127), ch)
            ev.append((t + rng.randint(1, 30), msg("note_on", note=p, velocity=rng.randint(1, 127), channel=ch)))
        elif kind == 1:  # a note-off on the onset tick (before or after the note-on)
            note(ev, t, t, p, 50, ch)
            if rng.random() < 0.5:
                ev.append((t + rng.randint(1, 40), msg("note_off", note=p, channel=ch)))
        elif kind == 2:  # re-struck while sounding
            note(ev, t, t + 60, p, 70, ch, zero_off=True)
            note(ev, t + rng.randint(0, 59), t + rng.randint(60, 90), p, 90, ch)
        elif kind == 3:  # a stray note-off
            ev.append((t, msg("note_off", note=p, channel=ch)))
            note(ev, t, t + rng.randint(1, 50), p, 30, ch)
        elif kind == 4:  # note-on and note-off of the same pitch on the same later tick
            note(ev, t, t + 24, p, 40, ch)
            note(ev, t + 24, t + 48, p, 80, ch, zero_off=True)
        else:
            note(ev, t, t + rng.randint(1, 200), p, rng.randint(1, 127), ch, rng.random() < 0.5)
        t += rng.randint(0, 48)
    ev.append((t, msg("note_on", note=70, velocity=64, channel=0)))  # left open at the end
    ev.append((t + 5, msg("note_on", note=71, velocity=64, channel=1)))
    pedals(ev, rng, 0, t, tpb, 6)
    write(path, [ev], tpb, rng, kind=0)


def simultaneous(path: Path, rng: random.Random) -> None:
    """Chords spread over channels and tracks, with note-offs of one tick in shuffled order."""
    tpb, tracks = 480, [[] for _ in range(4)]
    chans = [0, 1, 2, 0]  # two tracks share channel 0
    for k, ch in enumerate(chans[:3]):
        program(tracks[k], 0, rng.choice([0, 24, 40, 56, 65]), ch)
    t = 0
    for _ in range(60):
        dur = rng.choice([tpb // 2, tpb, 2 * tpb])
        for p in rng.sample(range(40, 90), k=rng.randint(2, 8)):
            k = rng.randrange(4)
            note(tracks[k], t, t + (dur if rng.random() < 0.8 else dur // 2), p, rng.randint(20, 120), chans[k])
        t += rng.choice([tpb // 2, tpb])
    write(path, tracks, tpb, rng, kind=rng.choice([0, 1]))


def drums_and_piano(path: Path, rng: random.Random) -> None:
    """Drums on channel 9 at the piano's onsets, some pitches outside 35..81, a program change
    on channel 9 of an ignored family (drums stay), pedal on channel 9."""
    tpb, piano, drums = 480, [], []
    t = 0
    for _ in range(80):
        for p in rng.sample(range(48, 84), k=rng.randint(1, 3)):
            note(piano, t, t + tpb // 2, p, rng.randint(30, 110), 0)
        for p in rng.sample(range(27, 88), k=rng.randint(0, 3)):
            note(drums, t, t + rng.choice([0, 1, 10, tpb]), p, rng.randint(30, 127), 9, rng.random() < 0.3)
        t += rng.choice([tpb // 4, tpb // 2])
    program(drums, 0, 115, 9)
    pedals(drums, rng, 9, t, tpb, 5)
    write(path, [drums, piano] if rng.random() < 0.5 else [piano, drums], tpb, rng)


def long_hires(path: Path, rng: random.Random) -> None:
    """~285 s at 10,080 ticks per beat, five tracks, tempo changes, pedal (quartet-like)."""
    tpb, conductor = 10_080, []
    tempo(conductor, 0, 700_000)
    for k in range(1, 30):
        tempo(conductor, k * 13 * tpb + rng.randint(0, tpb), rng.randint(450_000, 900_000))
    tracks = [conductor]
    for ch, prog in enumerate([40, 40, 41, 42]):
        ev = []
        program(ev, 0, prog, ch)
        t = rng.randint(0, tpb)
        while t < 420 * tpb:
            dur = rng.randint(tpb // 7, 3 * tpb)
            note(ev, t, t + dur, rng.randint(40, 90), rng.randint(20, 120), ch, rng.random() < 0.5)
            t += rng.choice([tpb // 3, tpb // 2, tpb, 2 * tpb]) + rng.randint(-3, 3)
        if ch == 0:
            pedals(ev, rng, 0, t, tpb, 40)
        tracks.append(ev)
    write(path, tracks, tpb, rng)


def dense_tempo(path: Path, rng: random.Random) -> None:
    """Hundreds of tempo changes, some on one tick in two tracks, some inside notes."""
    tpb, a, b, notes = 480, [], [], []
    t = 0
    for _ in range(300):
        tempo(a, t, rng.randint(200_000, 1_500_000))
        if rng.random() < 0.2:
            tempo(b, t, rng.randint(200_000, 1_500_000))  # the same tick in another track
        t += rng.choice([1, 7, tpb // 8, tpb // 2])
    end = melody(notes, rng, 0, tpb, 120, chord=(1, 3), gap=(0, 2))
    pedals(notes, rng, 0, end, tpb, 10)
    write(path, [a, b, notes], tpb, rng)


def odd_tempo_maps(path: Path, rng: random.Random, variant: int) -> None:
    """Tempo maps where ariautils' tick-to-ms walk has quirks: none at all, a single one after
    tick 0, two at tick 0 with the first note later, changes only before the first note."""
    tpb, conductor, notes = rng.choice([96, 480, 960]), [], []
    melody(notes, rng, 0, tpb, 40, chord=(1, 3), gap=(1, 3))
    if variant == 1:
        tempo(conductor, 3 * tpb, 400_000)
    elif variant == 2:
        tempo(conductor, 0, 500_000)
        tempo(conductor, 0, rng.choice([300_000, 750_000, 1_000_000]))
        notes = [(tick + 2 * tpb, m) for tick, m in notes]
    elif variant == 3:
        for k in range(5):
            tempo(conductor, k * tpb // 4, rng.randint(300_000, 900_000))
        notes = [(tick + 2 * tpb, m) for tick, m in notes]
    write(path, [conductor, notes], tpb, rng)


def programs(path: Path, rng: random.Random) -> None:
    """Program changes mid-file, in other tracks than the notes, on channels without notes,
    and an ignored family (chromatic) that a later kept program does not bring back."""
    tpb, setup, tracks = 480, [], []
    for ch in range(16):
        if ch != 9:
            program(setup, 0, rng.choice([0, 16, 33, 48, 73, 81]), ch)  # a GM setup track
    for ch in (0, 1, 2, 3):
        ev = []
        melody(ev, rng, ch, tpb, 30, chord=(1, 2), gap=(0, 2))
        tracks.append(ev)
    program(tracks[0], 5 * tpb, 24, 0)  # a later change: the whole channel becomes guitar
    program(tracks[1], 4 * tpb, 9, 1)  # chromatic: channel 1 is dropped ...
    program(tracks[1], 8 * tpb, 0, 1)  # ... even though it comes back to piano
    program(tracks[2], 2 * tpb, 90, 4)  # synth pad on a channel with no notes: not a prefix
    write(path, [setup] + tracks, tpb, rng)


def mixed(path: Path, rng: random.Random) -> None:
    """A bit of everything at a random resolution; type 0 or 1."""
    tpb = rng.choice([96, 120, 384, 480, 960, 10_080])
    conductor = []
    for _ in range(rng.randint(0, 40)):
        tempo(conductor, rng.randint(0, 60 * tpb), rng.randint(250_000, 1_200_000))
    tracks = [conductor]
    for ch in rng.sample([0, 1, 2, 3, 9], k=rng.randint(1, 4)):
        ev = []
        if ch != 9 and rng.random() < 0.7:
            program(ev, 0, rng.choice([0, 0, 4, 19, 24, 33, 40, 48, 56, 65, 73, 81]), ch)
        end = melody(ev, rng, ch, tpb, rng.randint(5, 60), zero_off=0.3)
        if rng.random() < 0.6:
            pedals(ev, rng, rng.choice([ch, 0]), end, tpb, rng.randint(1, 8), values=(40, 90))
        tracks.append(ev)
    write(path, tracks, tpb, rng, kind=rng.choice([0, 1]))


CASES = {
    "pedal_own_track": pedal_own_track,
    "pedal_other_channels": pedal_other_channels,
    "overlaps": overlaps,
    "simultaneous": simultaneous,
    "drums_and_piano": drums_and_piano,
    "long_hires": long_hires,
    "dense_tempo": dense_tempo,
    "programs": programs,
}


def make_all(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (name, fn) in enumerate(CASES.items()):
        for seed in range(2 if name != "long_hires" else 1):
            path = out / f"{name}_{seed}.mid"
            fn(path, random.Random(1000 * i + seed))
            paths.append(path)
    for variant in range(4):
        path = out / f"tempo_map_{variant}.mid"
        odd_tempo_maps(path, random.Random(9000 + variant), variant)
        paths.append(path)
    for seed in range(8):
        path = out / f"mixed_{seed}.mid"
        mixed(path, random.Random(7000 + seed))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in make_all(Path(sys.argv[1])):
        print(p.name, p.stat().st_size)
