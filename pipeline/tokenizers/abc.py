"""Interleaved-ABC writer (NotaGen style), validation and 16-character patching.

Our own writer from a ``music21`` stream (no xml2abc). Layout of the output::

    %Baroque                     <- optional prompt lines (period, composer,
    %Bach, Johann Sebastian         instrumentation), NotaGen fine-tune style
    %Choral
    X:1
    L:1/8
    M:4/4
    K:A
    V:1 nm="Soprano"
    V:2 nm="Alto"
    [V:1]c2 B2 A2 B2|[V:2]A2 G2 E2 E2|      <- ONE LINE PER BAR, every voice

Mapping: parts -> voices (a part whose measures hold several music21 ``Voice``
streams becomes several ABC voices), measures -> bars, notes / rests / chords
with lengths relative to ``L:`` (1/8 by default), ties ``-``, simple tuplets
``(p:q:r``, and time/key changes as inline ``[M:..]`` / ``[K:..]`` fields at the
start of the bar in every voice.  Accidentals are written so the text reads the
same whether a reader carries accidentals through the bar (ABC 2.1, per pitch or
per octave) or not (ABC 1.x / music21's default): an accidental is written
whenever any of those readings would differ from the intended pitch.

Bars longer than their time signature get an inline meter of their own (or are
cut), MusicXML's rounded tuplet offsets are snapped back to the grid, and
lengths no single note value holds (5/8) are written as tied pieces.

``validate_interleaved`` checks the text the way the training data needs it:
every body line holds every declared voice, every voice has the same bar count
(and the expected count when given), the voices of a bar last equally long, and
music21 parses it back.  music21's ABC reader does not understand inline
``[V:n]`` voices or inline ``[K:]``/``[M:]`` fields, so validation first
rewrites the text into ordinary multi-voice ABC with :func:`deinterleave` (one
``V:n`` section per voice, inline fields on their own lines, two reader quirks
worked around) and parses that with ``music21.converter.parse(..., format='abc')``.

Also here: :func:`rest_reduce` / :func:`rest_unreduce` (NotaGen's optional
removal of all-rest voice segments) and :func:`patchify` / :func:`unpatchify`
(16-character patches with NotaGen's BOS/EOS patches).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

__all__ = [
    "AbcError",
    "BOS_CHAR",
    "BOS_PATCH",
    "EOS_CHAR",
    "EOS_PATCH",
    "PAD_CHAR",
    "abc_tune_to_interleaved",
    "deinterleave",
    "patchify",
    "rest_reduce",
    "rest_unreduce",
    "score_to_interleaved_abc",
    "unpatchify",
    "validate_interleaved",
]

PAD_CHAR = "\x00"
BOS_CHAR = "\x01"
EOS_CHAR = "\x02"
BOS_PATCH = BOS_CHAR * 15 + EOS_CHAR
EOS_PATCH = BOS_CHAR + EOS_CHAR * 15


# sharps count -> major key name in ABC spelling
_MAJOR_BY_SHARPS = {
    -7: "Cb", -6: "Gb", -5: "Db", -4: "Ab", -3: "Eb", -2: "Bb", -1: "F",
    0: "C", 1: "G", 2: "D", 3: "A", 4: "E", 5: "B", 6: "F#", 7: "C#",
}
_MINOR_BY_SHARPS = {
    -7: "Abm", -6: "Ebm", -5: "Bbm", -4: "Fm", -3: "Cm", -2: "Gm", -1: "Dm",
    0: "Am", 1: "Em", 2: "Bm", 3: "F#m", 4: "C#m", 5: "G#m", 6: "D#m", 7: "A#m",
}
_SHARP_ORDER = "FCGDAEB"
_ACC_TEXT = {-2: "__", -1: "_", 0: "=", 1: "^", 2: "^^"}
_CLEF_NAMES = {"BassClef": "bass", "AltoClef": "alto", "TenorClef": "tenor"}


class AbcError(ValueError):
    """Raised when a score or ABC text cannot be converted; the message says why."""


# ----------------------------------------------------------------------------
# small helpers


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


# ----------------------------------------------------------------------------
# score -> interleaved ABC


@dataclass
class _Voice:
    part: int
    index: int  # music21 voice index inside the part's measures
    name: str
    clef: str | None


@dataclass
class _Item:
    offset: Fraction
    dur: Fraction
    el: Any  # music21 GeneralNote, or None for a filler rest


def _is_skippable(el: Any) -> bool:
    from music21 import harmony

    if isinstance(el, harmony.Harmony):
        return True
    d = el.duration
    return bool(d.isGrace) or d.quarterLength <= 0


def _measure_voice_items(m: Any) -> list[list[tuple[Fraction, Fraction, Any]]]:
    """Per music21 voice of a measure: (onset, end, element), snapped to a grid."""
    from music21 import note, stream

    def collect(container: Any, base: Fraction) -> list[tuple[Fraction, Fraction, Any]]:
        out = []
        for el in container.getElementsByClass(note.GeneralNote):
            if _is_skippable(el):
                continue
            raw = base + Fraction(el.offset)
            on, end = _snap(raw), _snap(raw + Fraction(el.duration.quarterLength))
            if end > on:
                out.append((on, end, el))
        return out

    loose = collect(m, Fraction(0))
    voices = list(m.getElementsByClass(stream.Voice))
    if not voices:
        return [loose]
    out = [collect(v, Fraction(v.offset)) for v in voices]
    if loose:
        out[0] = out[0] + loose
    return out


def _lay_out(items: list[tuple[Fraction, Fraction, Any]], target: Fraction) -> list[_Item]:
    """Sort by onset, fill gaps with rests, cut overlaps, clip/pad to ``target``."""
    out: list[_Item] = []
    cursor = Fraction(0)
    for off, end, el in sorted(items, key=lambda t: t[0]):
        if off >= target:
            continue
        if off > cursor:
            out.append(_Item(cursor, off - cursor, None))
            cursor = off
        elif off < cursor:
            # overlapping event inside one voice: keep only the part after the cursor
            if end <= cursor:
                continue
            el = _Clipped(el)
        if end > target:  # overfull bar: cut at the bar end
            end = target
            el = el if isinstance(el, _Clipped) else _Clipped(el)
        out.append(_Item(cursor, end - cursor, el))
        cursor = end
    if cursor < target:
        out.append(_Item(cursor, target - cursor, None))
    return out


class _Clipped:
    """An event cut at its start (overlap) or end (overfull bar): no tuplet group, no tie."""

    def __init__(self, el: Any):
        self.el = el


def _tuplet_of(el: Any) -> Any | None:
    if el is None or isinstance(el, _Clipped):
        return None
    tups = el.duration.tuplets
    if len(tups) != 1:
        return None
    t = tups[0]
    if not t.numberNotesActual or not t.numberNotesNormal:
        return None
    return t


def _tuplet_groups(items: list[_Item]) -> dict[int, tuple[int, int, int]]:
    """Map start index -> (p, q, r) for complete, simple tuplet groups.

    A group is a run of events carrying the same single tuplet ratio whose
    durations add up to exactly one tuplet span, and whose written (un-tupleted)
    values are plain note values; anything else is written with fractional
    lengths instead (``c2/3``), which parses to the same durations.
    """
    groups: dict[int, tuple[int, int, int]] = {}
    i = 0
    n = len(items)
    while i < n:
        t = _tuplet_of(items[i].el)
        if t is None:
            i += 1
            continue
        try:
            total = _frac(t.totalTupletLength())
        except Exception:  # noqa: BLE001
            i += 1
            continue
        ratio = (int(t.numberNotesActual), int(t.numberNotesNormal))
        acc = Fraction(0)
        j = i
        while j < n:
            tj = _tuplet_of(items[j].el)
            if tj is None or (tj.numberNotesActual, tj.numberNotesNormal) != ratio:
                break
            acc += items[j].dur
            j += 1
            if acc >= total:
                break
        written_ok = all(
            _plain(items[g].dur * Fraction(ratio[0], ratio[1])) for g in range(i, j)
        )
        # music21's reader only understands single-digit "(p:q:r" groups
        small = max(ratio[0], ratio[1], j - i) <= 9
        if j > i and acc == total and written_ok and small:
            groups[i] = (ratio[0], ratio[1], j - i)
            i = j
        else:
            i = max(j, i + 1)
    return groups


def _event_str(item: _Item, ql: Fraction, unit_ql: Fraction, acc: _AccState, split: bool) -> str:
    """One note / chord / rest of written length ``ql`` (quarter notes).

    With ``split`` a length that no single note value can hold (5/8, ...) is
    written as tied pieces (rests as consecutive rests).
    """
    from music21 import chord, note

    el = item.el.el if isinstance(item.el, _Clipped) else item.el
    pieces = _split_ql(ql) if split else [ql]
    lengths = [_len_str(q / unit_ql) for q in pieces]
    if el is None or isinstance(el, (note.Rest, note.Unpitched)):
        return "".join("z" + ln for ln in lengths)
    pitch_objs = []
    tied = False
    if isinstance(el, chord.Chord):
        for n in sorted(el.notes, key=lambda x: x.pitch.ps):
            if not hasattr(n, "pitch"):
                continue
            pitch_objs.append(n.pitch)
            if n.tie is not None and n.tie.type in ("start", "continue"):
                tied = True
        if el.tie is not None and el.tie.type in ("start", "continue"):
            tied = True
    elif hasattr(el, "pitch"):
        pitch_objs.append(el.pitch)
        tied = el.tie is not None and el.tie.type in ("start", "continue")
    if not pitch_objs:
        return "".join("z" + ln for ln in lengths)
    if isinstance(item.el, _Clipped):
        tied = False
    out = []
    for k, ln in enumerate(lengths):
        names = [_pitch_str(p, acc) for p in pitch_objs]
        body = names[0] if len(names) == 1 else "[" + "".join(names) + "]"
        last = k == len(lengths) - 1
        out.append(body + ln + ("-" if (tied or not last) else ""))
    return "".join(out)


def _bar_text(
    items: list[_Item], unit_ql: Fraction, key_alters: dict[str, int], beat: Fraction
) -> str:
    acc = _AccState(key_alters)
    groups = _tuplet_groups(items)
    parts: list[str] = []
    k = 0
    while k < len(items):
        item = items[k]
        space = bool(parts) and beat > 0 and (item.offset % beat) == 0
        if k in groups:
            p, q, r = groups[k]
            text = f"({p}:{q}:{r}"
            for g in range(k, k + r):
                it = items[g]
                text += _event_str(it, it.dur * Fraction(p, q), unit_ql, acc, split=False)
            k += r
        else:
            text = _event_str(item, item.dur, unit_ql, acc, split=True)
            k += 1
        parts.append((" " if space else "") + text)
    return "".join(parts)


def _meter_for(length: Fraction, nominal: str) -> str | None:
    """A meter whose bar lasts ``length`` quarters, in the nominal denominator or finer."""
    den = int(nominal.split("/")[1]) if "/" in nominal else 4
    while den <= 64:
        n = length * den / 4
        if n.denominator == 1:
            return f"{n.numerator}/{den}"
        den *= 2
    return None


def _barline(m: Any | None, is_last: bool) -> tuple[str, str]:
    """(prefix, suffix) barline text for a bar from its music21 measure."""
    from music21 import bar

    prefix, suffix = "", "|"
    if m is None:
        return prefix, ("|]" if is_last else "|")
    lb, rb = m.leftBarline, m.rightBarline
    if isinstance(lb, bar.Repeat) and lb.direction == "start":
        prefix = "|:"
    if isinstance(rb, bar.Repeat) and rb.direction == "end":
        suffix = ":|"
    elif rb is not None and getattr(rb, "type", None) in ("final", "light-heavy"):
        suffix = "|]"
    elif rb is not None and getattr(rb, "type", None) in ("double", "light-light"):
        suffix = "||"
    return prefix, suffix


def _as_score(score: Any) -> Any:
    from music21 import stream

    if isinstance(score, stream.Opus):
        raise AbcError("got a music21 Opus (several tunes); pass one Score")
    if isinstance(score, stream.Score):
        return score
    if isinstance(score, stream.Part):
        s = stream.Score()
        s.insert(0, score)
        return s
    if isinstance(score, stream.Stream):
        s = stream.Score()
        p = stream.Part()
        for el in score.flatten().notesAndRests:
            p.insert(el.getOffsetBySite(score.flatten()), el)
        s.insert(0, p)
        return s
    raise AbcError(f"expected a music21 Score, got {type(score).__name__}")


def _first(stream_obj: Any, cls: Any) -> Any | None:
    for el in stream_obj.recurse().getElementsByClass(cls):
        return el
    return None


def score_to_interleaved_abc(
    score: Any,
    *,
    period: str | None = None,
    composer: str | None = None,
    instrumentation: str | None = None,
    unit_length: Fraction | str = Fraction(1, 8),
    overfull: str = "meter",
) -> str:
    """Write a music21 score as NotaGen-style interleaved ABC (one line per bar).

    ``period``/``composer``/``instrumentation`` become the ``%`` prompt lines
    (written in that order, before ``X:1``) when given.  ``unit_length`` is the
    ``L:`` value.  A bar whose content is longer than its time signature
    (a source encoding error or an unmarked cadenza) gets, with
    ``overfull="meter"`` (default), an inline meter of its real length for that
    bar only (``[M:9/8]``), or is cut at the bar length when no such meter
    exists (denominators up to 64) or with ``overfull="clip"``;
    ``overfull="keep"`` leaves it (it will then not validate).  Onsets are snapped to a
    musical grid (see ``_snap``), gaps inside a voice become rests, overlaps
    inside a voice are cut, and grace notes / chord symbols are dropped.
    Raises :class:`AbcError` when the score has no parts / bars.
    """
    from music21 import clef as m21clef
    from music21 import key as m21key
    from music21 import meter, stream

    if overfull not in ("meter", "clip", "keep"):
        raise AbcError(f"overfull must be 'meter', 'clip' or 'keep', not {overfull!r}")
    score = _as_score(score)
    unit = Fraction(unit_length)
    unit_ql = unit * 4
    parts = list(score.parts)
    if not parts:
        raise AbcError("score has no parts")

    measures: list[list[Any]] = []
    for p in parts:
        ms = list(p.getElementsByClass(stream.Measure))
        if not ms:
            try:
                ms = list(p.makeMeasures().getElementsByClass(stream.Measure))
            except Exception as exc:  # noqa: BLE001
                raise AbcError(f"part {p.partName!r} has no measures: {exc}") from exc
        measures.append(ms)
    n_bars = max((len(ms) for ms in measures), default=0)
    if n_bars == 0:
        raise AbcError("score has no bars")

    # voices
    voices: list[_Voice] = []
    for pi, (p, ms) in enumerate(zip(parts, measures)):
        n_v = max((len(m.getElementsByClass(stream.Voice)) or 1 for m in ms), default=1)
        name = _ascii(p.partName or p.id or f"Part {pi + 1}").replace('"', "'")
        if not name or name.isdigit():
            name = f"Part {pi + 1}"
        c = _first(p, m21clef.Clef)
        clef_name = _CLEF_NAMES.get(type(c).__name__) if c is not None else None
        for vi in range(n_v):
            voices.append(_Voice(pi, vi, name, clef_name))

    # global key / meter
    # opening key / meter: from the first bar (any part), not a later change
    firsts = [ms[0] for ms in measures if ms]
    ks0 = next((m.keySignature for m in firsts if m.keySignature is not None), None)
    if ks0 is None:
        ks0 = next((m.getContextByClass(m21key.KeySignature) for m in firsts), None)
    key_name, sharps = _key_name(ks0) if ks0 is not None else ("C", 0)
    ts0 = next((m.timeSignature for m in firsts if m.timeSignature is not None), None)
    if ts0 is None:
        ts0 = next((m.getContextByClass(meter.TimeSignature) for m in firsts), None)
    have_meter = ts0 is not None
    # no time signature at all: "M:none", and bars are never clipped
    meter_text = _meter_str(ts0) if ts0 is not None else "none"
    cur_key = key_name
    key_alters = _key_alters(sharps)
    beat = _frac(ts0.beatDuration.quarterLength) if ts0 is not None else Fraction(1)
    bar_ql = _frac(ts0.barDuration.quarterLength) if ts0 is not None else Fraction(4)

    lines: list[str] = []
    for label in (period, composer, instrumentation):
        if label is not None and _ascii(label):
            lines.append("%" + _ascii(label))
    lines += ["X:1", f"L:{unit.numerator}/{unit.denominator}", f"M:{meter_text}", f"K:{key_name}"]
    for n, v in enumerate(voices, start=1):
        extra = f" clef={v.clef}" if v.clef else ""
        lines.append(f'V:{n} nm="{v.name}"{extra}')

    nominal = meter_text  # the meter the score says
    text_meter = meter_text  # the meter the ABC text declares at this point
    for bi in range(n_bars):
        bar_ms = [ms[bi] if bi < len(ms) else None for ms in measures]
        # meter / key changes (taken from the first part that has one)
        key_inline = ""
        if bi > 0:
            for m in bar_ms:
                if m is None:
                    continue
                ts = m.timeSignature
                if ts is not None:
                    have_meter = True
                    nominal = _meter_str(ts)
                    beat = _frac(ts.beatDuration.quarterLength)
                    bar_ql = _frac(ts.barDuration.quarterLength)
                    break
            for m in bar_ms:
                if m is None:
                    continue
                ks = m.keySignature
                if ks is not None:
                    kn, sh = _key_name(ks)
                    if kn != cur_key:
                        cur_key = kn
                        key_alters = _key_alters(sh)
                        key_inline = f"[K:{kn}]"
                    break
        per_part = [_measure_voice_items(m) if m is not None else [[]] for m in bar_ms]
        ends = [end for pv in per_part for vitems in pv for _, end, _ in vitems]
        target = max(ends, default=Fraction(0))
        bar_meter = nominal
        if target <= 0:
            target = bar_ql
        elif have_meter and target > bar_ql and overfull != "keep":
            # overfull bar (an encoding error in the source, or an unmarked
            # cadenza): music21's ABC reader would re-bar it, so either give the
            # bar its own meter or cut every voice at the bar length
            stretched = _meter_for(target, nominal) if overfull == "meter" else None
            if stretched is not None:
                bar_meter = stretched
            else:
                target = bar_ql
        inline = ""
        if bar_meter != text_meter:
            inline = f"[M:{bar_meter}]"
            text_meter = bar_meter
        inline += key_inline
        ref = next((m for m in bar_ms if m is not None), None)
        prefix, suffix = _barline(ref, bi == n_bars - 1)
        if bi == n_bars - 1 and suffix == "|":
            suffix = "|]"
        segs = []
        for n, v in enumerate(voices, start=1):
            pv = per_part[v.part]
            vitems = pv[v.index] if v.index < len(pv) else []
            items = _lay_out(vitems, target)
            body = _bar_text(items, unit_ql, key_alters, beat)
            sep = " " if suffix.startswith(":") else ""
            segs.append(f"[V:{n}]{prefix}{inline}{body}{sep}{suffix}")
        lines.append("".join(segs))
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------
# native ABC tunes


def abc_tune_to_interleaved(
    abc_text: str,
    *,
    period: str | None = None,
    composer: str | None = None,
    instrumentation: str | None = None,
    tune_index: int = 0,
) -> str:
    """Rewrite a native (usually single-voice) ABC tune in the interleaved layout.

    The tune is parsed with music21 and written again with
    :func:`score_to_interleaved_abc` (titles, lyrics, chord symbols and
    decorations are dropped, as NotaGen's preprocessing does).  For a text with
    several ``X:`` tunes, ``tune_index`` picks one.
    """
    from music21 import converter, stream

    try:
        parsed = converter.parse(abc_text, format="abc")
    except Exception as exc:  # noqa: BLE001
        raise AbcError(f"music21 could not parse the ABC tune: {type(exc).__name__}: {exc}") from exc
    if isinstance(parsed, stream.Opus):
        scores = list(parsed.scores)
        if not scores:
            raise AbcError("ABC text holds no tunes")
        if not 0 <= tune_index < len(scores):
            raise AbcError(f"tune_index {tune_index} out of range ({len(scores)} tunes)")
        parsed = scores[tune_index]
    elif tune_index != 0:
        raise AbcError(f"tune_index {tune_index} out of range (1 tune)")
    return score_to_interleaved_abc(
        parsed, period=period, composer=composer, instrumentation=instrumentation
    )


# ----------------------------------------------------------------------------
# validation

_VOICE_TAG = re.compile(r"\[V:\s*([^\]\s]+)\s*\]")
_INLINE_FIELD = re.compile(r"\[([KMLQ]):([^\]]*)\]")
_HEADER_FIELD = re.compile(r"^([A-Za-z]):(.*)$")


@dataclass
class _Parsed:
    header: list[str]
    voice_defs: dict[str, str]  # id -> full V: line
    order: list[str]
    bars: list[dict[str, str]]  # one dict per body line: voice id -> segment


def _split(text: str) -> _Parsed:
    header: list[str] = []
    voice_defs: dict[str, str] = {}
    order: list[str] = []
    bars: list[dict[str, str]] = []
    in_body = False
    for ln, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("[V:"):
            in_body = True
            tags = list(_VOICE_TAG.finditer(line))
            if not tags or tags[0].start() != 0:
                raise AbcError(f"line {ln}: malformed voice tag")
            segs: dict[str, str] = {}
            for i, t in enumerate(tags):
                end = tags[i + 1].start() if i + 1 < len(tags) else len(line)
                vid = t.group(1)
                if vid in segs:
                    raise AbcError(f"line {ln}: voice {vid} appears twice")
                segs[vid] = line[t.end():end].strip()
            bars.append(segs)
            continue
        if in_body:
            if line.startswith("%"):
                continue
            raise AbcError(f"line {ln}: body line does not start with a [V:n] tag: {line[:40]!r}")
        if line.startswith("%"):
            header.append(line)
            continue
        m = _HEADER_FIELD.match(line)
        if not m:
            raise AbcError(f"line {ln}: not a header field: {line[:40]!r}")
        if m.group(1) == "V":
            vid = m.group(2).strip().split()[0] if m.group(2).strip() else ""
            if not vid:
                raise AbcError(f"line {ln}: V: line without a voice id")
            if vid in voice_defs:
                raise AbcError(f"line {ln}: voice {vid} defined twice")
            voice_defs[vid] = line
            order.append(vid)
        else:
            header.append(line)
    return _Parsed(header, voice_defs, order, bars)


def deinterleave(text: str, *, music21_compat: bool = True) -> str:
    """Rewrite interleaved ABC as ordinary multi-voice ABC (one section per voice).

    Inline ``[K:]``/``[M:]``/``[L:]``/``[Q:]`` fields become their own lines, and
    every voice section restates the opening ``K:``/``M:``/``L:`` so that key or
    meter changes in one voice do not leak into the next (music21 tracks those
    across the whole text).  With ``music21_compat`` two quirks of music21's ABC
    reader are worked around: it drops the first field line that follows a
    barline (so a harmless ``N:`` line is put in front of such fields), and it
    builds no bars for a two-bar voice ending in ``|]`` (so the final barline is
    written ``|``).  Raises :class:`AbcError` on malformed layout.
    """
    p = _split(text)
    head_fields = {ln[0]: ln for ln in p.header if _HEADER_FIELD.match(ln)}
    restate = [head_fields[f] for f in ("L", "M", "K") if f in head_fields]
    out = list(p.header)
    for k, vid in enumerate(p.order, start=1):
        # music21 only splits voices whose id starts with a digit: renumber 1..n
        definition = p.voice_defs[vid].split(":", 1)[1].strip().split(None, 1)
        out.append(f"V:{k}" + (" " + definition[1] if len(definition) > 1 else ""))
        out.extend(restate)
        for bi, segs in enumerate(p.bars):
            seg = segs.get(vid, "")
            fields = list(_INLINE_FIELD.finditer(seg))
            if fields:
                head = seg[: fields[0].start()]
                lines = [head] if head.strip() else []
                if music21_compat and bi > 0:
                    lines.append("N:field")
                pos = fields[0].start()
                for m in fields:
                    if seg[pos : m.start()].strip():
                        lines.append(seg[pos : m.start()])
                    lines.append(f"{m.group(1)}:{m.group(2).strip()}")
                    pos = m.end()
                lines.append(seg[pos:])
            else:
                lines = [seg]
            if music21_compat and bi == len(p.bars) - 1:
                lines[-1] = re.sub(r"\|\]\s*$", "|", lines[-1])
            # no blank lines: a blank line ends an ABC tune
            out.extend(ln.strip() for ln in lines if ln.strip())
    return "\n".join(out) + "\n"


def _count_barlines(seg: str) -> int:
    """Bars closed by one bar segment (1 for a well-formed interleaved segment)."""
    s = re.sub(r'"[^"]*"', "", seg)
    s = _INLINE_FIELD.sub("", s)
    s = s.strip()
    if s.startswith("|:") or s.startswith("::"):
        s = s[2:]
    elif s.startswith("|") and not s.startswith("||"):
        s = s[1:]
    return len(re.findall(r":*\|+\]?:*|::", s))


def validate_interleaved(
    text: str, *, expected_bars: int | None = None
) -> tuple[bool, str]:
    """Check an interleaved-ABC text; returns ``(ok, reason)`` and never raises.

    Checks: header has ``L:``, ``M:``, ``K:`` and at least one ``V:`` line; every
    body line holds every declared voice in order, each closing exactly one bar;
    music21 parses the (de-interleaved) text; every parsed voice has as many
    bars as the text has bar lines (and ``expected_bars`` when given); and the
    voices of each bar last equally long.
    """
    try:
        return _validate(text, expected_bars)
    except Exception as exc:  # noqa: BLE001 - must never raise
        return False, f"validation error: {type(exc).__name__}: {exc}"


def _validate(text: str, expected_bars: int | None) -> tuple[bool, str]:
    from music21 import converter, stream

    if not isinstance(text, str) or not text.strip():
        return False, "empty text"
    try:
        p = _split(text)
    except AbcError as exc:
        return False, str(exc)
    fields = {ln[0] for ln in p.header if not ln.startswith("%")}
    for f in ("L", "M", "K"):
        if f not in fields:
            return False, f"header has no {f}: field"
    if not p.order:
        return False, "no voice definitions (V:n lines)"
    if not p.bars:
        return False, "no bars"
    for bi, segs in enumerate(p.bars, start=1):
        if list(segs) != p.order:
            return False, f"bar {bi}: voices {list(segs)} != declared {p.order}"
        for vid, seg in segs.items():
            nb = _count_barlines(seg)
            if nb != 1:
                return False, f"bar {bi} voice {vid}: closes {nb} bars (expected 1): {seg[:40]!r}"
    n_bars = len(p.bars)
    if expected_bars is not None and n_bars != expected_bars:
        return False, f"text has {n_bars} bars, expected {expected_bars}"

    flat = deinterleave(text, music21_compat=True)
    try:
        parsed = converter.parse(flat, format="abc")
    except Exception as exc:  # noqa: BLE001
        return False, f"music21 parse failed: {type(exc).__name__}: {exc}"
    if isinstance(parsed, stream.Opus):
        scores = list(parsed.scores)
        if len(scores) != 1:
            return False, f"music21 read {len(scores)} tunes, expected 1"
        parsed = scores[0]
    parts = list(parsed.parts) if isinstance(parsed, stream.Score) else [parsed]
    if len(parts) != len(p.order):
        return False, f"music21 read {len(parts)} voices, text declares {len(p.order)}"
    durations: list[list[Fraction]] = []
    for vid, part in zip(p.order, parts):
        ms = list(part.getElementsByClass(stream.Measure))
        if ms:
            got = len(ms)
            durations.append([_frac(m.duration.quarterLength) for m in ms])
        else:  # music21 builds no Measure objects for a one-bar voice
            got = 1 if part.flatten().notesAndRests else 0
            durations.append([_frac(part.flatten().highestTime)])
        if got != n_bars:
            return False, f"voice {vid}: music21 read {got} bars, text has {n_bars}"
    for bi in range(n_bars):
        ds = {vid: d[bi] for vid, d in zip(p.order, durations)}
        if len(set(ds.values())) > 1:
            pretty = {k: float(v) for k, v in ds.items()}
            return False, f"bar {bi + 1}: voice durations differ {pretty}"
    return True, "ok"


# ----------------------------------------------------------------------------
# rest reduction (NotaGen): drop all-rest voice segments, restore them later

_PREFIX_BAR = re.compile(r"^\s*(\|:|::|\|(?![|\]]))")
_SUFFIX_BAR = re.compile(r"\s*(:*\|+\]?:*|::)\s*$")
_REST_ONLY = re.compile(r"(?:\s*[zx][0-9/]*-?)+\s*")
_TUPLET = re.compile(r"\((\d)(?::(\d?))?(?::(\d))?")
_EVENT = re.compile(
    r"(?P<body>\[[^\]:]*\]|[_^=]*[A-Ga-gzx][,']*)(?P<len>\d*/*\d*)(?P<tie>-?)"
)


def _length(text: str) -> Fraction:
    """ABC length suffix -> multiple of L ("" 1, "3" 3, "/" 1/2, "//" 1/4, "3/2" 3/2)."""
    if not text:
        return Fraction(1)
    m = re.fullmatch(r"(\d*)(/*)(\d*)", text)
    if not m:
        raise AbcError(f"bad note length {text!r}")
    num = int(m.group(1)) if m.group(1) else 1
    slashes = len(m.group(2))
    if not slashes:
        return Fraction(num)
    den = int(m.group(3)) if m.group(3) else 2**slashes
    return Fraction(num, den)


def _segment_units(seg: str) -> Fraction:
    """Duration of one voice's bar segment, in multiples of L (simple grammar only)."""
    body = _INLINE_FIELD.sub(" ", re.sub(r'"[^"]*"|![^!]*!|\{[^}]*\}', " ", seg))
    total = Fraction(0)
    scale, left = Fraction(1), 0
    pos = 0
    while pos < len(body):
        t = _TUPLET.match(body, pos)
        if t:
            p = int(t.group(1))
            q = int(t.group(2)) if t.group(2) else (3 if p in (2, 4, 8) else 2)
            scale, left = Fraction(q, p), int(t.group(3)) if t.group(3) else p
            pos = t.end()
            continue
        e = _EVENT.match(body, pos)
        if e and e.group("body"):
            units = _length(e.group("len")) * (scale if left > 0 else 1)
            if left > 0:
                left -= 1
            total += units
            pos = e.end()
            continue
        pos += 1
    return total


def rest_reduce(text: str) -> str:
    """Drop voice segments whose bar is rests only (NotaGen's rest reduction).

    Segments carrying inline fields are kept, and so is the first voice of a bar
    whose voices are all rests, so every body line keeps at least one voice.
    """
    _split(text)  # layout check; raises AbcError
    out: list[str] = []
    for line in text.splitlines():
        if not line.startswith("[V:"):
            out.append(line)
            continue
        tags = list(_VOICE_TAG.finditer(line))
        segs = [
            (t.group(0), line[t.end() : tags[i + 1].start() if i + 1 < len(tags) else len(line)])
            for i, t in enumerate(tags)
        ]
        keep = []
        for tag, seg in segs:
            core = _SUFFIX_BAR.sub("", _PREFIX_BAR.sub("", seg, count=1), count=1)
            if _INLINE_FIELD.search(seg) or not _REST_ONLY.fullmatch(core):
                keep.append(tag + seg)
        out.append("".join(keep) if keep else "".join(segs[0]))
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def rest_unreduce(text: str) -> str:
    """Restore the voices :func:`rest_reduce` dropped, as one full-bar rest each.

    The rest lasts as long as the first voice present in that bar and copies its
    barlines (so repeats stay aligned).
    """
    p = _split(text)
    out: list[str] = []
    bar = 0
    for line in text.splitlines():
        if not line.startswith("[V:"):
            out.append(line)
            continue
        segs = p.bars[bar]
        bar += 1
        ref = next(iter(segs.values()))
        prefix = _PREFIX_BAR.match(ref)
        suffix = _SUFFIX_BAR.search(ref)
        units = _segment_units(ref)
        rest = "z" + _len_str(units) if units > 0 else ""
        pieces = []
        for vid in p.order:
            if vid in segs:
                pieces.append(f"[V:{vid}]{segs[vid]}")
            else:
                pre = prefix.group(1) if prefix and prefix.group(1) in ("|:", "::") else ""
                suf = suffix.group(1) if suffix else "|"
                pieces.append(f"[V:{vid}]{pre}{rest}{suf}")
        out.append("".join(pieces))
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


# ----------------------------------------------------------------------------
# NotaGen patches


def patchify(text: str, patch_size: int = 16, *, add_bos_eos: bool = True) -> list[str]:
    """Cut text into ``patch_size``-character patches, NotaGen style.

    Each line (with its trailing newline) is cut separately and its last patch is
    padded with ``'\\x00'``.  With ``add_bos_eos`` the list is framed by the BOS
    patch (``'\\x01' * (n-1) + '\\x02'``) and EOS patch (``'\\x01' + '\\x02' * (n-1)``).
    Only ASCII characters 3..127 are allowed in ``text``.
    """
    if patch_size < 2:
        raise AbcError("patch_size must be >= 2")
    bad = sorted({ch for ch in text if ord(ch) > 127 or ord(ch) < 3})
    if bad:
        raise AbcError(f"text holds characters outside the 128-id ASCII vocabulary: {bad[:5]!r}")
    patches: list[str] = []
    if add_bos_eos:
        patches.append(BOS_CHAR * (patch_size - 1) + EOS_CHAR)
    for line in text.splitlines(keepends=True):
        for i in range(0, len(line), patch_size):
            chunk = line[i : i + patch_size]
            patches.append(chunk + PAD_CHAR * (patch_size - len(chunk)))
    if add_bos_eos:
        patches.append(BOS_CHAR + EOS_CHAR * (patch_size - 1))
    return patches


def unpatchify(patches: list[str]) -> str:
    """Inverse of :func:`patchify`: drop BOS/EOS patches and padding."""
    out = []
    for patch in patches:
        if not patch:
            continue
        n = len(patch)
        if patch == BOS_CHAR * (n - 1) + EOS_CHAR or patch == BOS_CHAR + EOS_CHAR * (n - 1):
            continue
        out.append(patch.replace(PAD_CHAR, ""))
    return "".join(out)
