"""CLaMP 2's MIDI text format (MTF): a MIDI file as the text its M3 encoder reads (spec clamp-mtf.md).

Upstream (clamp2 ``process_data/batch_midi2mtf.py``, M3-compatible mode; the FMD package's
``MIDIasMTFLoader`` is the same) writes ``ticks_per_beat N``, then one line per message of mido's
merged track: the values of ``msg.dict()`` joined by spaces, unicode-escaped. Kept on purpose
because the released weights saw them: text-like meta messages and sysex are dropped together
with their delta times (later events shift earlier), ticks stay raw at the file's resolution,
a velocity-0 ``note_on`` stays a ``note_on``, and drums get no special case.
"""

from __future__ import annotations

from pathlib import Path

import mido

# meta types upstream drops in M3-compatible mode (names, lyrics, markers: no musical content)
DROPPED_META = frozenset(
    {
        "text",
        "copyright",
        "track_name",
        "instrument_name",
        "lyrics",
        "marker",
        "cue_marker",
        "device_name",
        "sequencer_specific",
    }
)
HEADER = "ticks_per_beat"


def message_line(msg: mido.Message | mido.MetaMessage) -> str:
    """One MTF line: the message's field values in mido's order, non-ASCII escaped."""
    return " ".join(str(v) for v in msg.dict().values()).encode("unicode_escape").decode("utf-8")


def kept(msg: mido.Message | mido.MetaMessage) -> bool:
    return msg.type not in DROPPED_META if msg.is_meta else msg.type != "sysex"


def mtf(midi_path: str | Path) -> str:
    """Upstream's MTF text of a type-0 or type-1 MIDI file (lines joined by newlines, none at the end)."""
    path = Path(midi_path)
    if not path.is_file():
        raise FileNotFoundError(f"no such MIDI file: {path}")
    try:
        mid = mido.MidiFile(str(path))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as e:
        raise ValueError(f"{path}: not a MIDI file mido can read ({type(e).__name__}: {e})") from e
    if mid.type == 2:
        raise ValueError(f"{path}: type-2 MIDI (independent sequences) has no merged track; CLaMP 2 cannot encode it")
    lines = [f"{HEADER} {mid.ticks_per_beat}"]
    lines += [message_line(m) for m in mid.merged_track if kept(m)]
    return "\n".join(lines)
