"""MIDI -> GnM score events, exactly as upstream's ``midi2events_score`` writes them.

``events(midi_path, composer=None)`` returns the event strings (``Composer_None``, ``Tempo_80``,
``BOS_None``, ``Bar_None``, ``Time_Signature_4/4``, ``Beat_12``, ``Note_Pitch_60``,
``Note_Duration_480``, ..., ``EOS_None``). Facts kept (docs/gnm.md, spec section 1):

* all tracks/channels merged (drums too), ticks scaled to 480 TPQ as floats, never rounded;
* notes paired by (channel, pitch); a re-strike while sounding overwrites the start;
* one global tempo: tick-weighted mean BPM snapped to 40/80/120/160 (tie -> smaller);
* bars follow the time signature (2/4 3/4 4/4 3/8 6/8 kept; 5/4 -> 2/4+3/4, 6/4 -> 3/4+3/4,
  12/8 -> 6/8+6/8, anything else 4/4 of 1920 ticks); one new signature per bar at most;
* grid = floor(local/bar_ticks * n_grids) (12 per quarter), durations round-half-even to
  40 (x/4) or 80 (x/8) ticks, >= 1 unit, <= bar length; pitch descending within an onset;
* the first-bar pickup rule, upstream bug included (``pickup="upstream"``, the default, keeps
  the ids/logits of released weights meaningful); ``pickup="fixed"`` only treats a short first
  bar as a pickup when a later time signature exists, i.e. a single-metre 3/4 piece is left alone.
* pitches outside 21..108 -> :class:`PitchRangeError` (upstream silently drops the file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PITCH_RANGE = (21, 108)
TEMPO_CLASSES = (40, 80, 120, 160)
KEPT_METRES = ((2, 4), (3, 4), (4, 4), (3, 8), (6, 8))
SPLIT_METRES = {(5, 4): ((2, 4), (3, 4)), (6, 4): ((3, 4), (3, 4)), (12, 8): ((6, 8), (6, 8))}
PICKUP_METRES = {(5, 4): (3, 4), (6, 4): (3, 4), (12, 8): (6, 8)}
TPQ = 480


class GnmEventError(ValueError):
    """A MIDI file cannot be turned into GnM events (the message names the reason)."""


class PitchRangeError(GnmEventError):
    """A note pitch lies outside 21..108 (upstream drops such files)."""


class NoBarsError(GnmEventError):
    """The file has no bars (no messages after tick 0)."""


@dataclass
class _Note:
    start: float
    duration: float
    pitch: int


def composer_name(composer: str | None) -> str:
    """Upstream's composer value: the category name capitalised, or the literal ``None``."""
    if composer is None or str(composer).strip() in ("", "None", "none"):
        return "None"
    return str(composer).strip().capitalize()


def snap_tempo(bpm: float) -> int:
    return min(TEMPO_CLASSES, key=lambda t: abs(t - bpm))  # first minimum: ties go to the smaller


def _messages(path: Path) -> tuple[list, float]:
    import mido

    try:
        mid = mido.MidiFile(str(path))
    except FileNotFoundError:
        raise GnmEventError(f"no such MIDI file: {path}") from None
    except Exception as exc:  # noqa: BLE001 - mido raises many kinds on corrupt files
        raise GnmEventError(f"unreadable MIDI file {path.name}: {exc}") from exc
    if not mid.ticks_per_beat or mid.ticks_per_beat <= 0:
        raise GnmEventError(f"{path.name}: bad time division {mid.ticks_per_beat}")
    factor = TPQ / mid.ticks_per_beat if mid.ticks_per_beat != TPQ else 1.0
    out = []
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            out.append((tick * factor, msg))
    out.sort(key=lambda m: m[0])  # stable: track order within a tick
    return out, (out[-1][0] if out else 0)


def global_tempo(messages: list, max_tick: float) -> int:
    tempo, last, weighted, total = 500000, 0, 0.0, 0.0
    for tick, msg in messages:
        if msg.type == "set_tempo":
            weighted += 60000000 / tempo * (tick - last)
            total += tick - last
            tempo, last = msg.tempo, tick
    if max_tick > last:
        weighted += 60000000 / tempo * (max_tick - last)
        total += max_tick - last
    return snap_tempo(weighted / total if total > 0 else 120)


def _notes(messages: list) -> list[_Note]:
    sounding: dict[tuple[int, int], float] = {}
    notes = []
    for tick, msg in messages:
        if msg.type == "note_on" and msg.velocity > 0:
            sounding[(msg.channel, msg.note)] = tick  # a re-strike overwrites the start
        elif msg.type == "note_off" or msg.type == "note_on":
            start = sounding.pop((msg.channel, msg.note), None)
            if start is not None:
                notes.append(_Note(start, tick - start, msg.note))
    notes.sort(key=lambda n: n.start)
    return notes


def _bar_shape(num: int, den: int) -> tuple[int, int]:
    """(ticks, grids) of one bar; denominators other than 8 count as quarters."""
    return (num * 240, num * 6) if den == 8 else (num * 480, num * 12)


def _full_ticks(num: int, den: int) -> int:
    return num * 480 if den == 4 else num * 240 if den == 8 else 1920


@dataclass
class _Bar:
    start: float
    end: float
    num: int
    den: int
    ticks: int
    grids: int
    pickup_offset: int | None = None  # None: not a pickup bar


def _bars(time_sigs: list[tuple[float, int, int]], max_tick: float, pickup: str) -> list[_Bar]:
    bars: list[_Bar] = []
    tick, k = 0, 0
    cur = time_sigs[0]
    while tick < max_tick:
        if k < len(time_sigs) and tick >= time_sigs[k][0]:  # at most one new signature per bar
            cur, k = time_sigs[k], k + 1
        num, den = cur[1], cur[2]
        metres = ((num, den),) if (num, den) in KEPT_METRES else SPLIT_METRES.get((num, den), ((4, 4),))
        orig_ticks, orig_grids = _bar_shape(num, den)
        for eff in metres:
            ticks, grids = _bar_shape(*eff)
            bar = _Bar(tick, tick + ticks, eff[0], eff[1], ticks, grids)
            has_next = k < len(time_sigs)
            if tick == 0 and orig_ticks < 1920 and (pickup == "upstream" or has_next):
                nxt = (time_sigs[k][1], time_sigs[k][2]) if has_next else (4, 4)
                if orig_ticks < _full_ticks(*nxt):
                    lab = nxt if nxt in KEPT_METRES else PICKUP_METRES.get(nxt, (4, 4))
                    ticks, grids = _bar_shape(*lab)
                    bar = _Bar(tick, tick + orig_ticks, lab[0], lab[1], ticks, grids, grids - orig_grids)
            bars.append(bar)
            tick = bar.end
            if tick >= max_tick:
                break
    return bars


def _bar_tokens(bar: _Bar, notes: list[_Note]) -> list[str]:
    by_grid: dict[int, list[tuple[int, int]]] = {}
    for n in notes:
        if not bar.start <= n.start < bar.end:
            continue
        local = n.start - bar.start
        if bar.pickup_offset is not None:
            length = bar.end - bar.start
            grid = int(local / length * (bar.grids - bar.pickup_offset)) + bar.pickup_offset
            allowed = length
        else:
            grid = int(local / bar.ticks * bar.grids)
            allowed = bar.ticks
        grid = min(grid, bar.grids - 1)
        unit = 40 if bar.den == 4 else 80
        dur = min(max(round(n.duration / unit) * unit, unit), int(allowed))
        by_grid.setdefault(grid, []).append((n.pitch, int(dur)))
    out = ["Bar_None", f"Time_Signature_{bar.num}/{bar.den}"]
    for grid in sorted(by_grid):
        out.append(f"Beat_{grid}")
        for pitch, dur in sorted(by_grid[grid], key=lambda pd: -pd[0]):  # stable: ties keep order
            if not PITCH_RANGE[0] <= pitch <= PITCH_RANGE[1]:
                raise PitchRangeError(
                    f"pitch out of range: {pitch} outside {PITCH_RANGE[0]}..{PITCH_RANGE[1]} (upstream drops the file)"
                )
            out += [f"Note_Pitch_{pitch}", f"Note_Duration_{dur}"]
    return out


def events(midi_path: str | Path, composer: str | None = None, *, pickup: str = "upstream") -> list[str]:
    """The event strings upstream writes for ``midi_path`` with ``Composer_<composer>``.

    ``composer`` is a category name (``"bach"`` and ``"Bach"`` both give ``Composer_Bach``) or
    None (``Composer_None``, pretraining). Raises :class:`GnmEventError` subclasses.
    """
    if pickup not in ("upstream", "fixed"):
        raise ValueError(f"pickup must be 'upstream' or 'fixed', not {pickup!r}")
    path = Path(midi_path)
    messages, max_tick = _messages(path)
    time_sigs = [(t, m.numerator, m.denominator) for t, m in messages if m.type == "time_signature"]
    if not time_sigs or time_sigs[0][0] != 0:
        time_sigs.insert(0, (0, 4, 4))
    bars = _bars(time_sigs, max_tick, pickup)
    if not bars:
        raise NoBarsError(f"{path.name}: no bars (the file has no messages after tick 0)")
    notes = _notes(messages)
    out = [f"Composer_{composer_name(composer)}", f"Tempo_{global_tempo(messages, max_tick)}", "BOS_None"]
    for bar in bars:
        out += _bar_tokens(bar, notes)
    out.append("EOS_None")
    return out


def bar_indices(tokens: list[str]) -> list[int]:
    """Positions of the ``Bar_None`` tokens (upstream's second pickle field; the first is 3)."""
    return [i for i, t in enumerate(tokens) if t == "Bar_None"]


def as_upstream(tokens: list[str]) -> tuple[list[dict], list[int]]:
    """Upstream's pickled form: ([{name, value}], bar_indices) with its value types."""
    out = []
    for t in tokens:
        name, value = t.rsplit("_", 1)
        if value == "None":
            v = None if name in ("BOS", "Bar", "EOS") else "None"
        elif name in ("Tempo", "Beat", "Note_Pitch", "Note_Duration"):
            v = int(value)
        else:
            v = value
        out.append({"name": name, "value": v})
    return out, bar_indices(tokens)
