"""What every tab shows for a generated MIDI: a piano roll, FluidSynth audio and the files to download.

Generic: it reads MIDI files and never a family's package (the families wrote them already).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_RATE = 22_050
MAX_AUDIO_S = 120.0  # a runaway generation still renders in a few seconds


@dataclass
class Result:
    midi: Path
    roll: Path | None = None  # None: the MIDI has no notes to draw
    audio: Path | None = None
    files: list[Path] = field(default_factory=list)  # downloads: MIDI first, then ABC/MusicXML/...


def piano_roll(midi: Path) -> Path | None:
    from pipeline.report.figures import plot_piano_roll

    return plot_piano_roll(midi, midi.with_suffix(".roll.png"), midi.name, max_seconds=MAX_AUDIO_S)


def fluidsynth_audio(midi: Path) -> Path:
    """``<midi>.fluidsynth.wav``: General MIDI programs from pretty_midi's TimGM6mb, a little room."""
    import numpy as np
    import soundfile as sf

    from pipeline.data.render import render_midi, resolve_soundfont
    from pipeline.params.data import AcousticCondition

    cond = AcousticCondition(reverb=0.2)
    audio = render_midi(midi.read_bytes(), cond, resolve_soundfont("default", midi.parent), SAMPLE_RATE, MAX_AUDIO_S)
    out = midi.with_suffix(".fluidsynth.wav")
    tmp = out.with_name(out.name + ".tmp.wav")
    sf.write(str(tmp), np.clip(audio, -1, 1), SAMPLE_RATE, subtype="PCM_16")
    os.replace(tmp, out)  # a half-written wav is never served
    return out


def describe(midi: Path, extra: list[Path] = ()) -> Result:
    """Piano roll + FluidSynth audio of ``midi``; ``extra`` files (ABC, MusicXML) join the downloads."""
    return Result(midi, piano_roll(midi), fluidsynth_audio(midi), files=[midi, *[p for p in extra if p.is_file()]])
