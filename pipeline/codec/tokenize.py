"""One segment -> (codec codes [n_q, frames], MIDI-VALLE tokens [notes + 2, 6]) or a quarantine reason
(``tokenize_one``).

Checks, each a named reason in ``rejected.jsonl``: ``sample_rate`` (not the codec's),
``unreadable`` audio, ``short_audio`` (the file holds less than the cut says), ``silent`` (RMS
below ``silence_rms_db``), ``clipped`` (more than ``max_clipped_fraction`` of samples at full
scale), ``no_notes`` / ``too_long`` / ``unreadable_midi`` (from the MIDI tokenizer),
``length_mismatch`` (MIDI notes sound past the audio's end by more than
``max_length_mismatch_s``).

Our segments come from multi-part scores rendered on one piano, so every pitched part is merged
into one piano track (pretty_midi, 120 bpm, 220 ticks/quarter: ATEPP's segment convention) before
tokenizing; upstream's tokenizer keeps only the first track, which for a single-track piano MIDI
is the same thing.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from pipeline.codec.segments import load_segment

CLIP_LEVEL = 0.999


class SegmentRejected(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def check_audio(wave: np.ndarray, spec: dict, silence_rms_db: float, max_clipped_fraction: float) -> None:
    expected = int(round(spec["duration"] * spec["sample_rate"]))
    if len(wave) < expected - 1:
        raise SegmentRejected("short_audio", f"{len(wave)} samples, the cut says {expected}")
    rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))) if len(wave) else 0.0
    rms_db = 20 * math.log10(max(rms, 1e-12))
    if rms_db < silence_rms_db:
        raise SegmentRejected("silent", f"RMS {rms_db:.1f} dBFS < {silence_rms_db} dBFS")
    clipped = float(np.mean(np.abs(wave) >= CLIP_LEVEL))
    if clipped > max_clipped_fraction:
        raise SegmentRejected("clipped", f"{clipped:.2%} of samples at full scale (> {max_clipped_fraction:.2%})")


def piano_midi(path: Path) -> tuple[bytes, float]:
    """(every pitched part merged onto one piano track as MIDI bytes, last note end in seconds)."""
    import pretty_midi

    from pipeline.data.segment import load_pm

    try:
        pm = load_pm(path)
    except Exception as e:
        raise SegmentRejected("unreadable_midi", f"{path}: {type(e).__name__}: {e}") from None
    notes = sorted(
        (n for inst in pm.instruments if not inst.is_drum for n in inst.notes), key=lambda n: (n.start, n.pitch, n.end)
    )
    if not notes:
        raise SegmentRejected("no_notes", f"{path}: no pitched notes")
    out = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    piano = pretty_midi.Instrument(program=0, name="piano")
    piano.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in notes]
    out.instruments.append(piano)
    buf = io.BytesIO()
    out.write(buf)
    return buf.getvalue(), max(n.end for n in notes)


def midi_rows(path: Path, audio_seconds: float, max_mismatch_s: float) -> np.ndarray:
    from pipeline.valle import MidiTokenError, midi_tokens

    data, end = piano_midi(path)
    if end > audio_seconds + max_mismatch_s:
        raise SegmentRejected("length_mismatch", f"MIDI notes end at {end:.2f} s, the audio at {audio_seconds:.2f} s")
    try:
        return midi_tokens(data)
    except MidiTokenError as e:
        raise SegmentRejected(e.reason if e.reason != "unreadable" else "unreadable_midi", str(e)) from None


def tokenize_one(codec, spec: dict, p, root: Path) -> dict:
    """``{"ok": True, "codes", "midi", "label"}`` or ``{"ok": False, "reason", "detail"}`` (with id, split,
    condition); ``p``: the ``codec_tokenize`` params."""
    import torch

    base = {"id": spec["id"], "split": spec["split"], "condition": spec["condition"]}
    try:
        if spec["sample_rate"] != codec.sample_rate:
            raise SegmentRejected("sample_rate", f"{spec['sample_rate']} Hz, the codec takes {codec.sample_rate} Hz")
        try:
            wave = load_segment(spec)
        except ValueError as e:
            raise SegmentRejected("unreadable", str(e)) from None
        check_audio(wave, spec, p.silence_rms_db, p.max_clipped_fraction)
        midi = midi_rows(root / spec["midi"], len(wave) / spec["sample_rate"], p.max_length_mismatch_s)
        codes = codec.encode(torch.from_numpy(wave)[None, None])[0].numpy()
    except SegmentRejected as e:
        return {**base, "ok": False, "reason": e.reason, "detail": e.detail[:300]}
    label = {
        k: spec.get(k) for k in ("id", "recording_id", "piece_id", "condition", "split", "start", "duration", "midi")
    }
    return {
        **base,
        "ok": True,
        "codes": codes,
        "midi": midi,
        "label": label | {"frames": int(codes.shape[1]), "notes": int(len(midi) - 2)},
    }
