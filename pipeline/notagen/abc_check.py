"""Validation of interleaved ABC, and :func:`deinterleave` for music21's reader.

``validate_interleaved`` checks the text the way the training data needs it:
every body line holds every declared voice, every voice has the same bar count
(and the expected count when given), the voices of a bar last equally long, and
music21 parses it back.  music21's ABC reader does not understand inline
``[V:n]`` voices or inline ``[K:]``/``[M:]`` fields, so validation first
rewrites the text into ordinary multi-voice ABC with :func:`deinterleave` (one
``V:n`` section per voice, inline fields on their own lines, two reader quirks
worked around) and parses that with ``music21.converter.parse(..., format='abc')``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from pipeline.notagen.abc_notation import AbcError, _frac

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
                segs[vid] = line[t.end() : end].strip()
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


def validate_interleaved(text: str, *, expected_bars: int | None = None) -> tuple[bool, str]:
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
