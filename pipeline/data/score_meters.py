"""A music21 score's time and key signatures as MIDI meta messages for the ingest writer.

MIDI has no barlines: readers (GnM events, miditok REMI, pretty_midi's downbeats) rebuild bars
from the time signatures alone, so every bar whose real length differs from its signature (a
pickup, a short last bar) gets a signature of its real length, as notation exporters write it;
otherwise every later bar would be out of phase. Bars are those of the first part.
"""

from __future__ import annotations

from fractions import Fraction

import mido

MAX_DENOMINATOR = 64  # a bar length needing a finer note value keeps its nominal signature
MAJOR = ("Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#")  # by sharps -7..7
MINOR = ("Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#", "G#", "D#", "A#")


def _first_part(score):
    return score.parts[0] if hasattr(score, "parts") and len(score.parts) else score


def _as_signature(length: Fraction, nominal: tuple[int, int]) -> tuple[int, int]:
    """(numerator, denominator) for a bar of ``length`` quarters: the nominal one when it fits,
    else the coarsest power-of-two denominator (at least the nominal one) that spells it."""
    num, den = nominal
    if length == Fraction(num * 4, den) or length <= 0:
        return nominal
    d = den
    while d <= MAX_DENOMINATOR:
        n = length * d / 4
        if n.denominator == 1:
            return int(n), d
        d *= 2
    return nominal


def bar_meters(score) -> list[tuple[Fraction, int, int]]:
    """(offset in quarters, numerator, denominator) wherever the bar metre changes."""
    from music21 import meter, stream

    part = _first_part(score)
    measures = list(part.getElementsByClass(stream.Measure))
    if not measures:  # no bars (some ABC tunes): the signatures where they stand
        sigs = part.flatten().getElementsByClass(meter.TimeSignature)
        return [(Fraction(s.offset), s.numerator, s.denominator) for s in sigs]
    out: list[tuple[Fraction, int, int]] = []
    nominal = None
    for i, m in enumerate(measures):
        if m.timeSignature is not None:
            nominal = (m.timeSignature.numerator, m.timeSignature.denominator)
        if nominal is None:
            continue
        start = Fraction(m.offset)
        end = Fraction(measures[i + 1].offset) if i + 1 < len(measures) else start + Fraction(m.quarterLength)
        sig = _as_signature(end - start, nominal)
        if not out or out[-1][1:] != sig:
            out.append((start, *sig))
    return out


def key_name(sharps: int, mode: str | None) -> str | None:
    """mido's key name for a signature (modes other than minor are written as major)."""
    if not -7 <= sharps <= 7:
        return None
    return MINOR[sharps + 7] + "m" if mode == "minor" else MAJOR[sharps + 7]


def score_keys(score) -> list[tuple[Fraction, str]]:
    """(offset in quarters, mido key name) wherever the first part's key signature changes."""
    from music21 import key

    out: list[tuple[Fraction, str]] = []
    for k in _first_part(score).flatten().getElementsByClass(key.KeySignature):
        name = key_name(k.sharps, getattr(k, "mode", None)) if k.sharps is not None else None
        if name is not None and (not out or out[-1][1] != name):
            out.append((Fraction(k.offset), name))
    return out


def signature_messages(score, ticks_per_quarter: int, end_tick: int) -> list[tuple[int, mido.MetaMessage]]:
    """(tick, meta message) for the conductor track; none at or after ``end_tick`` but at 0, so
    a trailing signature never lengthens the file."""

    def tick(offset: Fraction) -> int:
        return int(round(offset * ticks_per_quarter))

    out = []
    for off, num, den in bar_meters(score):
        if den & (den - 1) == 0 and 0 < num <= 255:  # MIDI: one byte, the denominator as a power of two
            out.append((tick(off), mido.MetaMessage("time_signature", numerator=num, denominator=den)))
    out += [(tick(off), mido.MetaMessage("key_signature", key=name)) for off, name in score_keys(score)]
    return [(t, m) for t, m in out if t == 0 or t < end_tick]
