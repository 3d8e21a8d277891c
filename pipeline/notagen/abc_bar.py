"""One voice's bar: music21 measure events -> ABC notes, rests, chords, tuplets, ties.

Onsets and ends are snapped to a grid, gaps inside a voice become rests, overlaps
and overfull bars are cut, grace notes and chord symbols are dropped.  Simple
tuplet groups are written ``(p:q:r``; anything else gets fractional lengths
(``c2/3``), and lengths no single note value holds are written as tied pieces.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pipeline.notagen.abc_notation import (
    _AccState,
    _frac,
    _len_str,
    _pitch_str,
    _plain,
    _snap,
    _split_ql,
)


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
        written_ok = all(_plain(items[g].dur * Fraction(ratio[0], ratio[1])) for g in range(i, j))
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


def _bar_text(items: list[_Item], unit_ql: Fraction, key_alters: dict[str, int], beat: Fraction) -> str:
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
