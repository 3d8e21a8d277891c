"""GnM events -> MIDI, as upstream ``events2score``: 480 TPQ, one piano track, velocity 64.

Tempo from the ``Tempo_*`` token, a time signature at every bar, bar length num*480*4/den,
a note at bar start + grid*40 ticks lasting its ``Note_Duration``. A pickup bar decodes as a
full bar with a leading rest (as upstream). Malformed pairs (a pitch with no duration) are
skipped and counted.
"""

from __future__ import annotations

from pathlib import Path

import mido

TPQ, GRID, VELOCITY = 480, 40, 64


def to_notes(tokens: list[str]) -> tuple[list[tuple[int, int, int]], dict]:
    """(start_tick, end_tick, pitch) per note, plus {tempo, time_signatures, skipped, bars}."""
    notes, sigs = [], []
    tempo, bar_start, bar_len, beat, pitch = 120, None, 1920, 0, None
    skipped = bars = 0
    for t in tokens:
        name, _, value = t.rpartition("_")
        if name == "Tempo":
            tempo = int(value)
        elif t == "Bar_None":
            bar_start = 0 if bar_start is None else bar_start + bar_len
            bars += 1
            beat, pitch = 0, None
        elif name == "Time_Signature" and bar_start is not None:
            num, den = (int(x) for x in value.split("/"))
            bar_len = num * TPQ * 4 // den
            if not sigs or sigs[-1][1:] != (num, den):
                sigs.append((bar_start, num, den))
        elif name == "Beat" and bar_start is not None:
            beat = int(value)
        elif name == "Note_Pitch" and bar_start is not None:
            if pitch is not None:
                skipped += 1
            pitch = int(value)
        elif name == "Note_Duration" and pitch is not None:
            start = bar_start + beat * GRID
            notes.append((start, start + int(value), pitch))
            pitch = None
        elif name in ("Note_Duration", "Note_Pitch", "Beat"):
            skipped += 1
    return notes, {"tempo": tempo, "time_signatures": sigs, "skipped": skipped, "bars": bars}


def write_midi(tokens: list[str], path: str | Path) -> dict:
    notes, info = to_notes(tokens)
    mid = mido.MidiFile(ticks_per_beat=TPQ)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    msgs = [(0, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(info["tempo"]), time=0))]
    for tick, num, den in info["time_signatures"]:
        msgs.append((tick, 0, mido.MetaMessage("time_signature", numerator=num, denominator=den, time=0)))
    msgs.append((0, 1, mido.Message("program_change", program=0, time=0)))
    for start, end, pitch in notes:
        msgs.append((end, 2, mido.Message("note_off", note=pitch, velocity=0, time=0)))
        msgs.append((start, 3, mido.Message("note_on", note=pitch, velocity=VELOCITY, time=0)))
    msgs.sort(key=lambda m: (m[0], m[1]))
    now = 0
    for tick, _, msg in msgs:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    mid.save(str(path))
    return {"notes": len(notes), **info}
