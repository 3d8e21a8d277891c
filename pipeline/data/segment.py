"""Aligned MIDI + audio segments (MIDI-VALLE cut 15-20 s pieces and dropped those under 3 s)."""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import pretty_midi

from pipeline.data.splits import hash_fraction
from pipeline.params.data import SegmentParams


def segment_bounds(duration: float, p: SegmentParams, seed: int, key: str) -> list[tuple[float, float]]:
    """Random lengths in [min_s, max_s], seeded per recording; a remainder shorter than
    ``drop_under_s`` is dropped (the caller reports it)."""
    rng = random.Random(int(hash_fraction(key, seed) * 2**32))
    out, t = [], 0.0
    while duration - t > 1e-6:
        length = min(rng.uniform(p.min_s, p.max_s), duration - t)
        out.append((round(t, 3), round(t + length, 3)))
        t += length
    return out


def slice_midi(pm: pretty_midi.PrettyMIDI, start: float, end: float) -> pretty_midi.PrettyMIDI:
    """Notes sounding inside [start, end), clipped to the window and shifted to 0, with the time and
    key signatures in force."""
    out = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for inst in pm.instruments:
        new = pretty_midi.Instrument(program=inst.program, is_drum=inst.is_drum, name=inst.name)
        for n in inst.notes:
            if n.end > start and n.start < end:
                s, e = max(n.start, start) - start, min(n.end, end) - start
                if e - s > 1e-3:
                    new.notes.append(pretty_midi.Note(n.velocity, n.pitch, s, e))
        for c in inst.control_changes:
            if start <= c.time < end:
                new.control_changes.append(pretty_midi.ControlChange(c.number, c.value, c.time - start))
        if new.notes:
            out.instruments.append(new)
    out.time_signature_changes = [
        pretty_midi.TimeSignature(ts.numerator, ts.denominator, t)
        for ts, t in _in_window(pm.time_signature_changes, start, end)
    ]
    out.key_signature_changes = [
        pretty_midi.KeySignature(ks.key_number, t) for ks, t in _in_window(pm.key_signature_changes, start, end)
    ]
    return out


def _in_window(changes: list, start: float, end: float) -> list[tuple]:
    """(change, time in the window) for the change in force at ``start`` (moved to 0) and those
    inside [start, end): a segment cut mid-piece keeps its metre and key, not a default 4/4."""
    changes = sorted(changes, key=lambda c: c.time)
    before = [c for c in changes if c.time <= start]
    inside = [(c, c.time - start) for c in changes if start < c.time < end]
    return ([(before[-1], 0.0)] if before else []) + inside


def load_pm(path: Path) -> pretty_midi.PrettyMIDI:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pretty_midi.PrettyMIDI(str(path))
