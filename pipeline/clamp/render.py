"""Interleaved ABC -> MusicXML, MIDI and audio (FluidSynth), for the report's sample cards.

music21 reads the de-interleaved text (``pipeline.notagen.abc_check.deinterleave``); a piece it
cannot read is reported with the reason, never a crash.
"""

from __future__ import annotations

from pathlib import Path

import soundfile as sf

from pipeline.data.render import render_midi, resolve_soundfont
from pipeline.notagen.abc_check import deinterleave
from pipeline.params.data import AcousticCondition


def render_abc(text: str, stem: Path, root: Path, sample_rate: int, seconds: float) -> dict:
    """Write ``stem``.abc/.musicxml/.mid/.flac; returns the written names or ``error``."""
    from music21 import converter, stream

    stem.parent.mkdir(parents=True, exist_ok=True)
    out = {"abc": stem.with_suffix(".abc").name}
    stem.with_suffix(".abc").write_text(text)
    try:
        score = converter.parse(deinterleave(text), format="abc")
        if isinstance(score, stream.Opus):
            score = score.scores[0]
        score.write("musicxml", fp=str(stem.with_suffix(".musicxml")))
        score.write("midi", fp=str(stem.with_suffix(".mid")))
        out |= {"musicxml": stem.with_suffix(".musicxml").name, "midi": stem.with_suffix(".mid").name}
        audio = render_midi(stem.with_suffix(".mid").read_bytes(), AcousticCondition(gain=0.5),
                            resolve_soundfont("default", root), sample_rate, seconds)
        sf.write(stem.with_suffix(".flac"), audio, sample_rate)
        out["audio"] = stem.with_suffix(".flac").name
    except Exception as e:  # noqa: BLE001 - a sample that does not render is reported, not fatal
        out["error"] = f"{type(e).__name__}: {e}"[:300]
    return out
