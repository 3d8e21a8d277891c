"""One MIDI track's events read the way ariautils reads them (mido's parser + its note pairing).

Why not symusic: its notes are already paired (oldest note-on first, unmatched note-ons
dropped) and re-sorted, so two facts ariautils depends on are gone: which note-ons a
note-off closes, and the order of note-offs on one tick (the order of simultaneous notes).
This loop reads the raw bytes with mido's rules (running status, meta events do not set
it, sysex does; data bytes > 127 are errors) and pairs notes as ariautils does:
- a note-on (velocity > 0) opens a note keyed by (pitch, channel);
- a note-off (or velocity-0 note-on) closes every open note of its key that started on
  another tick; if some close and some started on this tick, those stay open, otherwise
  the key is forgotten (so a note whose only note-off is on its own onset tick is lost);
- notes come out in the order they are closed; notes never closed are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Lengths (data bytes) of the system messages mido knows; others are "undefined status".
_SYSTEM_DATA = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0, 0xFE: 0}
_TWO_DATA = (0xA0, 0xE0)  # aftertouch, pitch bend; 0xD0 (channel pressure) has one


class TrackError(ValueError):
    """Bytes mido would refuse to read (the caller names the file and track)."""


@dataclass
class TrackEvents:
    notes: list = field(default_factory=list)  # (start, end, pitch, velocity, channel), in closing order
    tempos: list = field(default_factory=list)  # (tick, µs per beat)
    pedals: list = field(default_factory=list)  # (tick, channel, value) of CC64
    programs: list = field(default_factory=list)  # (tick, channel, program)


def _vlq(d: bytes, i: int) -> tuple[int, int]:
    v = 0
    while True:
        b = d[i]
        i += 1
        v = (v << 7) | (b & 0x7F)
        if b < 0x80:
            return v, i


def scan_track(d: bytes) -> TrackEvents:
    """Events of one MTrk chunk's body. Raises TrackError where mido would raise."""
    try:
        return _scan(d)
    except IndexError:
        raise TrackError("truncated event at the end of the track") from None


def _scan(d: bytes) -> TrackEvents:  # noqa: C901 - one flat loop is what makes this fast
    out = TrackEvents()
    notes, pedals = out.notes, out.pedals
    open_notes: dict[int, list] = {}
    n, i, tick, last = len(d), 0, 0, -1
    while i < n:
        b = d[i]
        i += 1
        if b < 0x80:
            tick += b
        else:  # a multi-byte delta time
            v = b & 0x7F
            b = d[i]
            i += 1
            while b >= 0x80:
                v = (v << 7) | (b & 0x7F)
                b = d[i]
                i += 1
            tick += (v << 7) | b
        status = d[i]
        i += 1
        if status < 0x80:  # running status: this byte is the first data byte
            if last < 0:
                raise TrackError("running status without a previous status byte")
            first, status = status, last
        else:
            if status != 0xFF:
                last = status
            first = -1
        kind = status & 0xF0
        if kind == 0x90 or kind == 0x80 or kind == 0xB0:
            if first < 0:
                first = d[i]
                i += 1
            second = d[i]
            i += 1
            if first > 127 or second > 127:
                raise TrackError("data byte must be in range 0..127")
            ch = status & 0x0F
            if kind == 0xB0:
                if first == 64:
                    pedals.append((tick, ch, second))
                continue
            key = first | ch << 7
            if kind == 0x90 and second:
                opened = open_notes.get(key)
                if opened is None:
                    open_notes[key] = [(tick, second)]
                else:
                    opened.append((tick, second))
                continue
            opened = open_notes.pop(key, None)
            if opened is None:
                continue  # a note-off with nothing open
            if len(opened) == 1:  # the usual case: closed, or forgotten if it began on this tick
                if opened[0][0] != tick:
                    notes.append((opened[0][0], tick, first, opened[0][1], ch))
                continue
            close = [o for o in opened if o[0] != tick]
            for start, vel in close:
                notes.append((start, tick, first, vel, ch))
            if close and len(close) < len(opened):
                open_notes[key] = [o for o in opened if o[0] == tick]
        elif status == 0xFF:
            meta = d[i]
            length, i = _vlq(d, i + 1)
            if meta == 0x51:
                if length < 3:
                    raise TrackError(f"set_tempo with {length} data bytes")
                out.tempos.append((tick, d[i] << 16 | d[i + 1] << 8 | d[i + 2]))
            i += length
            if i > n:
                raise IndexError
        elif status == 0xF0 or status == 0xF7:
            length, i = _vlq(d, i)  # a running-status data byte is dropped, as mido does
            i += length
            if i > n:
                raise IndexError
        elif kind == 0xF0:
            if status not in _SYSTEM_DATA:
                raise TrackError(f"undefined status byte 0x{status:02x}")
            i = _skip_data(d, i, _SYSTEM_DATA[status] - (first >= 0), first)
        else:
            size = 2 if kind in _TWO_DATA else 1
            if kind == 0xC0:
                prog = first if first >= 0 else d[i]
                if prog > 127:
                    raise TrackError("data byte must be in range 0..127")
                out.programs.append((tick, status & 0x0F, prog))
            i = _skip_data(d, i, size - (first >= 0), first)
    return out


def _skip_data(d: bytes, i: int, count: int, first: int) -> int:
    """Skip ``count`` data bytes, checking them (and a running-status byte) like mido."""
    if any(b > 127 for b in d[i : i + count]) or first > 127:
        raise TrackError("data byte must be in range 0..127")
    if i + count > len(d):
        raise IndexError
    return i + count
