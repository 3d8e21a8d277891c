"""music21 scores: parse a corpus piece, read its descriptive labels, write it as MIDI."""

from __future__ import annotations

import io
import shutil
import warnings
from pathlib import Path

from pipeline.data.midi import Rejected
from pipeline.data.score_meters import signature_messages
from pipeline.data.sources import Candidate, abc_tunes


def parse_candidate(c: Candidate):
    """Returns (music21 score, score text or None). ABC tunes keep their own text."""
    from music21 import converter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if c.tune is not None:
                text = dict(abc_tunes(Path(c.path)))[c.tune]
                return converter.parse(text, format="abc"), text
            return converter.parse(c.path), None
        except Exception as e:
            raise Rejected("unparseable_score", f"{type(e).__name__}: {e}") from None


def score_labels(score) -> dict:
    """Parts, key mode and first time signature: cheap facts the probes can use."""
    from music21 import key, meter

    parts = len(score.parts) if hasattr(score, "parts") and len(score.parts) else 1
    k = next(iter(score.recurse().getElementsByClass(key.Key)), None)
    if k is None:
        try:
            k = score.analyze("key")
        except Exception:
            k = None
    ts = next(iter(score.recurse().getElementsByClass(meter.TimeSignature)), None)
    composer = score.metadata.composer if score.metadata is not None else None
    return {
        "n_parts": parts,
        "key_mode": k.mode if k is not None else "unknown",
        "time_signature": ts.ratioString if ts is not None else "unknown",
        "score_composer": composer or None,
    }


TICKS_PER_QUARTER = 480


def score_to_midi_bytes(score) -> bytes:
    """Our own score -> MIDI writer: notes in score order (repeats not expanded), tempo marks, time
    and key signatures (``score_meters``), one track per part with its program. music21's exporter
    takes seconds per quartet movement and writes 10,080 ticks per quarter, which pretty_midi then
    refuses."""
    import mido
    from music21 import tempo

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            flat = score.flatten()
            marks = [(float(m.offset), m.getQuarterBPM()) for m in flat.getElementsByClass(tempo.MetronomeMark)]
            tracks, end_tick = [], 0
            parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
            for ch_i, part in enumerate(parts[:15]):
                channel = ch_i if ch_i < 9 else ch_i + 1  # skip the drum channel
                inst = part.getInstrument(returnDefault=True)
                program = inst.midiProgram if inst is not None and inst.midiProgram is not None else 0
                events = []
                for n in part.stripTies(inPlace=False).flatten().notes:
                    start = float(n.offset)
                    end = start + float(n.duration.quarterLength)
                    vel = int(n.volume.velocity or 80) if n.volume is not None else 80
                    for pitch in n.pitches:
                        if end > start and 0 <= pitch.midi <= 127:
                            events.append((int(round(start * TICKS_PER_QUARTER)), 1, pitch.midi, vel))
                            events.append((int(round(end * TICKS_PER_QUARTER)), 0, pitch.midi, 0))
                track = mido.MidiTrack([mido.Message("program_change", channel=channel, program=program, time=0)])
                last = 0
                for tick, on, pitch, vel in sorted(events):  # note-offs before note-ons at a tick
                    kind = "note_on" if on else "note_off"
                    track.append(mido.Message(kind, channel=channel, note=pitch, velocity=vel, time=tick - last))
                    last = tick
                tracks.append(track)
                end_tick = max(end_tick, last)
            meta = [
                (int(round(off * TICKS_PER_QUARTER)), mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm or 120.0)))
                for off, bpm in sorted(marks) or [(0.0, 120.0)]
            ]
            meta += signature_messages(score, TICKS_PER_QUARTER, end_tick)
            conductor = mido.MidiTrack()
            last = 0
            for tick, msg in sorted(meta, key=lambda tm: tm[0]):  # stable: tempo first at a tick
                conductor.append(msg.copy(time=tick - last))
                last = tick
            tracks.insert(0, conductor)
            mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_QUARTER, tracks=tracks)
            buf = io.BytesIO()
            mid.save(file=buf)
            return buf.getvalue()
    except Exception as e:
        raise Rejected("midi_export_failed", f"{type(e).__name__}: {e}") from None


def keep_score(c: Candidate, text: str | None, dest_dir: Path) -> str:
    """Keep the score for the ABC tokenizer: an ABC tune's text, else the corpus file itself."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    if text is not None:
        dest = dest_dir / f"{c.id}.abc"
        dest.write_text(text)
    else:
        dest = dest_dir / f"{c.id}{Path(c.path).suffix}"
        shutil.copyfile(c.path, dest)
    return dest.name
