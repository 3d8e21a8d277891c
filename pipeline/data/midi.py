"""Reading and validating MIDI files: every file is parsed, bad ones get a reason."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import asdict, dataclass

import mido
import numpy as np
import pretty_midi

from pipeline.params.data import IngestLimits


class Rejected(Exception):
    """A file that must not enter the corpus; ``reason`` is a short code for the report."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class MidiStats:
    duration_s: float
    n_notes: int
    n_tempo_events: int
    n_tracks: int
    programs: list[int]
    has_drums: bool
    content_hash: str

    def to_dict(self) -> dict:
        return asdict(self)


def parse_midi(data: bytes) -> tuple[mido.MidiFile, pretty_midi.PrettyMIDI]:
    """Parse bytes strictly; anything mido or pretty_midi cannot read is ``unreadable``."""
    if len(data) < 14 or not data.startswith(b"MThd"):
        raise Rejected("unreadable", "not a MIDI file (missing MThd header)")
    try:
        mid = mido.MidiFile(file=io.BytesIO(data))
    except EOFError:
        raise Rejected("unreadable", "truncated: the file ends inside a track") from None
    except Exception as e:  # mido raises OSError, ValueError, KeyError...
        raise Rejected("unreadable", f"{type(e).__name__}: {e}") from None
    if not mid.tracks:  # valid MIDI; pretty_midi would fail on it with "max() arg is an empty sequence"
        raise Rejected("no_notes", "the file has no tracks (0-track MIDI)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    except Exception as e:
        raise Rejected("unreadable", f"{type(e).__name__}: {e}") from None
    return mid, pm


def note_content_hash(pm: pretty_midi.PrettyMIDI) -> str:
    """Hash of (onset ms, pitch, drum) for all notes: equal music, equal hash, whatever the
    file layout (tracks, channels, ticks per beat)."""
    rows = [(int(round(n.start * 1000)), n.pitch, int(inst.is_drum)) for inst in pm.instruments for n in inst.notes]
    arr = np.array(sorted(rows), dtype=np.int64).reshape(-1, 3)
    return hashlib.sha256(arr.tobytes()).hexdigest()[:20]


def inspect_midi(data: bytes, limits: IngestLimits) -> MidiStats:
    """Validate one file against the limits in params; raise ``Rejected`` with a reason."""
    if len(data) > limits.max_file_mb * 1e6:
        raise Rejected("too_large", f"{len(data) / 1e6:.1f} MB > {limits.max_file_mb} MB")
    mid, pm = parse_midi(data)
    tempos = [m.tempo for t in mid.tracks for m in t if m.type == "set_tempo"]
    if len(tempos) > limits.max_tempo_events:
        raise Rejected("too_many_tempo_events", f"{len(tempos)} > {limits.max_tempo_events}")
    for t in tempos:
        bpm = mido.tempo2bpm(t) if t > 0 else float("inf")
        if not limits.min_bpm <= bpm <= limits.max_bpm:
            raise Rejected("absurd_tempo", f"{bpm:.1f} bpm outside [{limits.min_bpm}, {limits.max_bpm}]")
    n_notes = sum(len(i.notes) for i in pm.instruments)
    if n_notes == 0:
        raise Rejected("no_notes", "the file has no notes")
    if n_notes < limits.min_notes:
        raise Rejected("too_few_notes", f"{n_notes} < {limits.min_notes}")
    if n_notes > limits.max_notes:
        raise Rejected("too_many_notes", f"{n_notes} > {limits.max_notes}")
    duration = float(pm.get_end_time())
    if duration > limits.max_duration_s:
        raise Rejected("too_long", f"{duration:.0f} s > {limits.max_duration_s} s")
    if duration < limits.min_duration_s:
        raise Rejected("too_short", f"{duration:.2f} s < {limits.min_duration_s} s")
    return MidiStats(
        duration_s=round(duration, 3),
        n_notes=n_notes,
        n_tempo_events=len(tempos),
        n_tracks=len(mid.tracks),
        programs=sorted({i.program for i in pm.instruments if not i.is_drum}),
        has_drums=any(i.is_drum for i in pm.instruments),
        content_hash=note_content_hash(pm),
    )
