"""Interleaved-ABC writer (NotaGen style) from a ``music21`` stream (no xml2abc).

Layout of the output::

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
start of the bar in every voice.  One voice's bar is written by
:mod:`pipeline.notagen.abc_bar`; pitch, length and key spelling live in
:mod:`pipeline.notagen.abc_notation`.

Bars longer than their time signature get an inline meter of their own (or are
cut).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pipeline.notagen.abc_bar import _bar_text, _lay_out, _measure_voice_items
from pipeline.notagen.abc_notation import (
    AbcError,
    _ascii,
    _frac,
    _key_alters,
    _key_name,
    _meter_str,
)

_CLEF_NAMES = {"BassClef": "bass", "AltoClef": "alto", "TenorClef": "tenor"}


@dataclass
class _Voice:
    part: int
    index: int  # music21 voice index inside the part's measures
    name: str
    clef: str | None


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
    return score_to_interleaved_abc(parsed, period=period, composer=composer, instrumentation=instrumentation)
