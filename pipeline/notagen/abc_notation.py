"""ABC spelling shared by the interleaved-ABC modules: lengths, pitches, keys, meters.

Durations are exact ``Fraction`` quarter lengths.  MusicXML's rounded tuplet
offsets are snapped back to a musical grid (:func:`_snap`), and lengths no single
note value holds (5/8) are cut into tie-able pieces (:func:`_split_ql`).
Accidentals are written so the text reads the same whether a reader carries
accidentals through the bar (ABC 2.1, per pitch or per octave) or not (ABC 1.x /
music21's default): an accidental is written whenever any of those readings
would differ from the intended pitch (:class:`_AccState`).

Also :class:`AbcError`, raised by every module of the ABC tokenizer.
"""

from __future__ import annotations

import re
import unicodedata
from fractions import Fraction
from typing import Any

# sharps count -> major key name in ABC spelling
_MAJOR_BY_SHARPS = {
    -7: "Cb",
    -6: "Gb",
    -5: "Db",
    -4: "Ab",
    -3: "Eb",
    -2: "Bb",
    -1: "F",
    0: "C",
    1: "G",
    2: "D",
    3: "A",
    4: "E",
    5: "B",
    6: "F#",
    7: "C#",
}
_MINOR_BY_SHARPS = {
    -7: "Abm",
    -6: "Ebm",
    -5: "Bbm",
    -4: "Fm",
    -3: "Cm",
    -2: "Gm",
    -1: "Dm",
    0: "Am",
    1: "Em",
    2: "Bm",
    3: "F#m",
    4: "C#m",
    5: "G#m",
    6: "D#m",
    7: "A#m",
}
_SHARP_ORDER = "FCGDAEB"
_ACC_TEXT = {-2: "__", -1: "_", 0: "=", 1: "^", 2: "^^"}


class AbcError(ValueError):
    """Raised when a score or ABC text cannot be converted; the message says why."""


def _frac(x: Any) -> Fraction:
    if isinstance(x, Fraction):
        return x
    if isinstance(x, int):
        return Fraction(x)
    return Fraction(x).limit_denominator(3 * 5 * 7 * 64)


_GRIDS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20, 24, 28, 32, 40, 48, 56, 64, 96)
_SNAP_TOL = Fraction(1, 200)


def _snap(x: Any) -> Fraction:
    """Snap an offset (in quarter notes) onto a musical grid.

    Some MusicXML files store tuplets as rounded binary fractions (0.328125 for
    1/3, 0.1543 for 2/13); snapping onsets and ends keeps bars adding up
    exactly.  A value already on one of the grids is kept; otherwise the
    nearest grid point within 1/200 of a quarter wins (coarser grid on ties).
    """
    f = x if isinstance(x, Fraction) else Fraction(x)
    best: tuple[Fraction, int, Fraction] | None = None
    for g in _GRIDS:
        c = Fraction(round(f * g), g)
        err = abs(c - f)
        if err == 0:
            return c
        if err <= _SNAP_TOL and (best is None or err < best[0]):
            best = (err, g, c)
    if best is not None:
        return best[2]
    return f.limit_denominator(96 * 35)


_DURATION_KIND: dict[Fraction, tuple[bool, bool]] = {}


def _duration_kind(ql: Fraction) -> tuple[bool, bool]:
    """(one music21 note value, that value has no tuplet) for ``ql`` quarters."""
    if ql not in _DURATION_KIND:
        from music21 import duration

        try:
            d = duration.Duration(ql)
            single = d.type not in ("complex", "inexpressible", "zero")
            _DURATION_KIND[ql] = (single, single and not d.tuplets)
        except Exception:  # noqa: BLE001
            _DURATION_KIND[ql] = (False, False)
    return _DURATION_KIND[ql]


def _plain(ql: Fraction) -> bool:
    """True when ``ql`` is one notated value (maybe dotted) without a tuplet."""
    return _duration_kind(ql)[1]


def _simple(ql: Fraction) -> bool:
    """True when music21 can give ``ql`` one note value (tuplets allowed)."""
    return _duration_kind(ql)[0]


def _split_ql(ql: Fraction) -> list[Fraction]:
    """Cut a duration no single note value can hold into tie-able pieces."""
    if _simple(ql):
        return [ql]
    n, m = ql.numerator, ql.denominator
    pieces = [Fraction(1 << b, m) for b in reversed(range(n.bit_length())) if (n >> b) & 1]
    merged: list[Fraction] = []
    for piece in pieces:
        if merged and _simple(merged[-1] + piece):
            merged[-1] += piece
        else:
            merged.append(piece)
    return merged


def _ascii(text: str) -> str:
    """Transliterate to printable ASCII (NotaGen's character vocabulary is 128 ids)."""
    norm = unicodedata.normalize("NFKD", str(text))
    out = norm.encode("ascii", "ignore").decode("ascii")
    out = "".join(ch if 32 <= ord(ch) < 127 else " " for ch in out)
    return re.sub(r"\s+", " ", out).strip()


def _len_str(units: Fraction) -> str:
    """ABC length suffix for a duration of ``units`` times L."""
    if units == 1:
        return ""
    if units.denominator == 1:
        return str(units.numerator)
    if units.numerator == 1:
        return "/" if units.denominator == 2 else f"/{units.denominator}"
    return f"{units.numerator}/{units.denominator}"


def _key_alters(sharps: int) -> dict[str, int]:
    alters = {s: 0 for s in "CDEFGAB"}
    if sharps > 0:
        for s in _SHARP_ORDER[:sharps]:
            alters[s] = 1
    elif sharps < 0:
        for s in reversed(_SHARP_ORDER[sharps:]):
            alters[s] = -1
    return alters


def _key_name(ks: Any) -> tuple[str, int]:
    sharps = max(-7, min(7, int(getattr(ks, "sharps", 0) or 0)))
    mode = getattr(ks, "mode", None)
    if mode == "minor":
        return _MINOR_BY_SHARPS[sharps], sharps
    return _MAJOR_BY_SHARPS[sharps], sharps


def _meter_str(ts: Any) -> str:
    try:
        num, den = int(ts.numerator), int(ts.denominator)
        if num > 0 and den > 0:
            return f"{num}/{den}"
    except Exception:  # noqa: BLE001 - odd meters fall back to their ratio
        pass
    return "4/4"


class _AccState:
    """Per-bar accidental memory under the three common reading conventions."""

    def __init__(self, key_alters: dict[str, int]):
        self.key = key_alters
        self.by_step: dict[str, int] = {}
        self.by_pitch: dict[tuple[str, int], int] = {}

    def token(self, step: str, octave: int, alter: int) -> str:
        default = self.key[step]
        readings = (
            default,  # accidentals do not carry (ABC 1.x, music21 default)
            self.by_step.get(step, default),  # carry per pitch class (music21 2.x)
            self.by_pitch.get((step, octave), default),  # carry per pitch (ABC 2.1)
        )
        if all(r == alter for r in readings):
            return ""
        self.by_step[step] = alter
        self.by_pitch[(step, octave)] = alter
        return _ACC_TEXT[alter]


def _pitch_str(p: Any, acc: _AccState) -> str:
    step = p.step
    octave = p.octave if p.octave is not None else p.implicitOctave
    alter = 0
    if p.accidental is not None:
        alter = int(round(float(p.accidental.alter)))
    alter = max(-2, min(2, alter))
    text = acc.token(step, octave, alter)
    if octave >= 5:
        return text + step.lower() + "'" * (octave - 5)
    return text + step + "," * (4 - octave)
