"""Non-4/4 pieces for the metre tests: a 3/4 waltz with a pickup, a 6/8 jig with a pickup and
a short last bar, and a mixed-metre piece (4/4 3/4 6/8 2/4 5/4 4/4, key change in bar 3).

``tests/unit/data/meters/<name>.mid`` is what the ingest writer makes of each score;
``<name>_seg.mid`` a segment cut from mid-piece (``slice_midi``, written by pretty_midi as the
segment stage does). ``gnm_upstream.json`` and ``valle_upstream.json`` hold the events and
tokens that upstream's own converters (GnM 386a004 ``midi2events_score.midi_to_sequence``;
MIDI-VALLE 27d698b ``ExpressionTok`` with miditok 3.0.2 + symusic 0.4.5, as ``midi_tokenize.py``
calls it) wrote for those files, run in a scratch venv. ``write_fixtures`` remakes the MIDI files.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data" / "meters"
SEGMENT = {"waltz": (4.0, 9.0), "jig": (3.5, 8.0), "mixed": (2.2, 6.0)}  # seconds cut for <name>_seg.mid

WALTZ = """X:1
T:Pickup waltz
M:3/4
L:1/8
Q:1/4=96
K:G
D2|G2 B2 d2|c2 A2 F2|G4 B2|A4 D2|
G2 B2 d2|e2 c2 A2|G2 F2 A2|G4|]
"""

JIG = """X:2
T:Six-eight
M:6/8
L:1/8
Q:3/8=60
K:Dm
A|d2e fed|c2A A2G|F2A dcA|B2G E2A|
d2e fed|c2A A2d|cAG FED|D3 D2|]
"""

MIXED = "tinyNotation: 4/4 c4 d e f 3/4 g a b 6/8 c'8 b a g f e 2/4 d4 e 5/4 f4 g a b c' 4/4 c'1"


def score(name: str):
    """The music21 score of one fixture piece (ABC inline metre changes are mangled by music21's
    ABC reader, hence tinyNotation for the mixed piece)."""
    from music21 import converter, key, stream

    if name == "waltz":
        return converter.parse(WALTZ, format="abc")
    if name == "jig":
        return converter.parse(JIG, format="abc")
    part = converter.parse(MIXED)
    list(part.getElementsByClass(stream.Measure))[2].insert(0, key.Key("d"))
    return part


def write_fixtures(dest: Path = DATA) -> None:
    from pipeline.data.scores import score_to_midi_bytes
    from pipeline.data.segment import load_pm, slice_midi

    dest.mkdir(parents=True, exist_ok=True)
    for name, (start, end) in SEGMENT.items():
        (dest / f"{name}.mid").write_bytes(score_to_midi_bytes(score(name)))
        slice_midi(load_pm(dest / f"{name}.mid"), start, end).write(str(dest / f"{name}_seg.mid"))


if __name__ == "__main__":
    write_fixtures()
