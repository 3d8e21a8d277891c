"""FluidSynth rendering of MIDI to audio under a named acoustic condition.

A condition (soundfont x reverb/chorus x gain) makes an audio prompt carry recording
information, which is what a MIDI + audio-prompt model like VALL-E conditions on.
"""

from __future__ import annotations

import io
from pathlib import Path

import mido
import numpy as np

from pipeline.params.data import AcousticCondition

TAIL_S = 1.0  # let notes and reverb ring out after the last event


class RenderError(RuntimeError):
    pass


def load_fluidsynth():
    try:
        import fluidsynth
    except ImportError as e:
        raise RenderError(
            "libfluidsynth is not installed (pyfluidsynth: "
            f"{e}). Install it with `apt-get install libfluidsynth3` (Debian/Ubuntu; "
            "`make setup` does this when run as root) or `brew install fluid-synth` (macOS)."
        ) from None
    return fluidsynth


# ``fluidr3``: FluidR3_GM (fuller pianos), from Debian/Ubuntu ``fluid-soundfont-gm`` (``make setup``
# installs it as root) or Fedora/Arch's soundfont packages.
FLUIDR3_PATHS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM2-2.sf2",
)


def resolve_soundfont(name: str, root: Path) -> Path:
    """``default`` is the General MIDI TimGM6mb.sf2 that pretty_midi ships; ``fluidr3`` the
    system's FluidR3_GM.sf2; else a path."""
    if name == "default":
        import pretty_midi

        path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    elif name == "fluidr3":
        path = next((Path(p) for p in FLUIDR3_PATHS if Path(p).is_file()), Path(FLUIDR3_PATHS[0]))
        if not path.is_file():
            raise RenderError(
                "soundfont 'fluidr3' not found (looked in " + ", ".join(FLUIDR3_PATHS) + "): "
                "install it with `apt-get install fluid-soundfont-gm` (`make setup` does this as "
                "root) or set the condition's soundfont to 'default' or a .sf2 path"
            )
    else:
        path = Path(name) if Path(name).is_absolute() else root / name
    if not path.is_file():
        raise RenderError(
            f"soundfont {name!r} not found at {path}; set render_audio.conditions."
            "<name>.soundfont to an existing .sf2 file or 'default'"
        )
    return path


def render_midi(
    data: bytes, cond: AcousticCondition, soundfont: Path, sample_rate: int, max_seconds: float
) -> np.ndarray:
    """Mono float32 audio in [-1, 1] of at most ``max_seconds`` (+ a short tail)."""
    fluidsynth = load_fluidsynth()
    synth = fluidsynth.Synth(gain=cond.gain, samplerate=float(sample_rate))
    try:
        synth.setting("synth.reverb.active", 1 if cond.reverb > 0 else 0)
        synth.setting("synth.chorus.active", 1 if cond.chorus else 0)
        if cond.reverb > 0:
            synth.set_reverb(roomsize=cond.room_size, damping=0.3, width=0.8, level=cond.reverb)
        sfid = synth.sfload(str(soundfont))
        if sfid < 0:
            raise RenderError(f"FluidSynth could not load soundfont {soundfont}")
        for ch in range(16):
            if cond.program is None:
                synth.program_select(ch, sfid, 128 if ch == 9 else 0, 0)
            else:  # every part, drums included, on one instrument (a piano recording)
                synth.program_select(ch, sfid, 0, cond.program)
        chunks, t, limit = [], 0.0, max_seconds
        for msg in mido.MidiFile(file=io.BytesIO(data)):  # iterating yields delta seconds
            if msg.time > 0:
                step = min(msg.time, limit - t)
                if step > 0:
                    chunks.append(synth.get_samples(int(round(step * sample_rate))))
                t += msg.time
            if t >= limit:
                break
            if not (cond.program is not None and msg.type == "program_change"):
                _send(synth, sfid, msg)
        for ch in range(16):
            synth.cc(ch, 123, 0)  # all notes off, then the release tail
        chunks.append(synth.get_samples(int(TAIL_S * sample_rate)))
    finally:
        synth.delete()
    stereo = np.concatenate([c for c in chunks if len(c)]).astype(np.float32).reshape(-1, 2)
    return (stereo.mean(axis=1) / 32768.0).clip(-1.0, 1.0)


def _send(synth, sfid: int, msg) -> None:
    if msg.type == "note_on":
        if msg.velocity > 0:
            synth.noteon(msg.channel, msg.note, msg.velocity)
        else:
            synth.noteoff(msg.channel, msg.note)
    elif msg.type == "note_off":
        synth.noteoff(msg.channel, msg.note)
    elif msg.type == "program_change":
        synth.program_select(msg.channel, sfid, 128 if msg.channel == 9 else 0, msg.program)
    elif msg.type == "control_change":
        synth.cc(msg.channel, msg.control, msg.value)
    elif msg.type == "pitchwheel":
        synth.pitch_bend(msg.channel, msg.pitch)
