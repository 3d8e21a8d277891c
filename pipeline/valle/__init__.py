"""MIDI-VALLE's VALL-E: MIDI compound tokens + an audio prompt -> codec codes (AR codebook 0, NAR rest).

Entry points other families and users call: ``midi_tokens(midi_path)`` and ``load(path)``.
"""

from pipeline.valle.midi_tokens import MidiTokenError, midi_tokens


def load(path, **kwargs):
    """Load a VALL-E checkpoint (ours, or MIDI-VALLE's trainer / flat file); see ``pipeline.valle.checkpoint``."""
    from pipeline.valle.checkpoint import load_valle

    return load_valle(path, **kwargs)


__all__ = ["MidiTokenError", "load", "midi_tokens"]
