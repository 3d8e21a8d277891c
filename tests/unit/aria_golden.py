"""Golden Aria token ids, recorded with the ariautils-exact reader (pipeline/aria/midi.py).

    .venv/bin/python tests/unit/aria_golden.py --write   # (re)record tests/unit/data/aria_golden.json

First recorded with the mido-based reader; re-recorded when the reader was made to read as
ariautils does (the default ids of every case equal ariautils' own there: the differential
test, tests/unit/test_aria_ariautils.py, runs ariautils' references for these same cases).
A re-record keeps the stored corpus MIDI bytes (music21 versions write them differently).

Cases: every valid fixture of midi_fixtures.py, a few music21-corpus pieces written with the
ingest stage's own score writer (stored in the JSON as base64 so the test needs no music21 and
no seconds of score parsing), and seeded random files written with mido (rebuilt in the test).
For each case we keep the default token ids, the ids with pedal tokens, the ids of a slice
(which re-times through the tempo map) and a digest of the notes' musical fields.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import sys
from pathlib import Path

import mido

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]

import midi_fixtures as mf  # noqa: E402

GOLDEN = HERE / "data" / "aria_golden.json"
CORPUS = (
    "bach/bwv66.6",
    "joplin/maple_leaf_rag",
    "chopin/mazurka06-2",
    "mozart/k155/movement1",
    "haydn/opus1no1/movement1",
    "cpebach/h186",
)
FUZZ_SEEDS = range(12)


# ---------------------------------------------------------------- seeded random files
def fuzz_file(d: Path, seed: int) -> Path:
    """A messy but well-formed file: several tracks and channels, programs at tick 0, chords
    (equal starts and ends), sustain pedal, tempo changes, drums; odd seeds are type 0."""
    rng = random.Random(seed)
    tpb = rng.choice([96, 384, 480, 960])
    channels = rng.sample([0, 1, 2, 3, 4, 9], k=rng.randint(1, 4))
    programs = {ch: rng.choice([0, 0, 4, 19, 24, 33, 40, 48, 56, 65, 73, 81, 90]) for ch in channels}
    conductor = [mf.tempo(0, rng.choice([400_000, 500_000, 612_345]))]
    for _ in range(rng.randint(0, 4)):
        conductor.append(mf.tempo(rng.randint(1, 40 * tpb), rng.randint(250_000, 1_200_000)))
    tracks = {ch: ([mf.program(0, programs[ch], ch)] if ch != 9 else []) for ch in channels}
    for ch in channels:
        t = rng.randint(0, 2 * tpb)
        used = []  # (pitch, start, end): same-pitch notes never overlap in these files
        for _ in range(rng.randint(5, 60)):
            chord = rng.choice([1, 1, 2, 3, 4])
            dur = rng.choice([tpb // 4, tpb // 2, tpb, 2 * tpb, 3 * tpb + 7])
            pitches = rng.sample(range(36, 90) if ch != 9 else range(35, 82), k=chord)
            for p in pitches:
                if any(q == p and s < t + dur and t < e for q, s, e in used):
                    continue
                used.append((p, t, t + dur))
                tracks[ch] += mf.note(t, t + dur, p, rng.randint(1, 127), ch)
            t += rng.choice([0, tpb // 4, tpb // 3, tpb // 2, tpb, 5 * tpb])
        if ch != 9 and rng.random() < 0.6:
            for start in sorted(rng.sample(range(0, max(t, 2)), k=min(6, max(t, 2)))):
                tracks[ch] += [mf.pedal(start, 127, ch), mf.pedal(start + rng.randint(1, tpb), 0, ch)]
    if seed % 2:  # type 0: everything in one track
        merged = conductor + [e for ch in channels for e in tracks[ch]]
        return _write(d / f"fuzz{seed}.mid", [merged], tpb, kind=0)
    return _write(d / f"fuzz{seed}.mid", [conductor] + [tracks[ch] for ch in channels], tpb, 1)


def _write(path: Path, tracks, tpb: int, kind: int) -> Path:
    mid = mido.MidiFile(type=kind, ticks_per_beat=tpb)
    for events in tracks:
        track, now = mido.MidiTrack(), 0
        # Offs before ons on a tick (a note ending where the next starts), then in written order.
        for tick, msg in sorted(events, key=lambda e: (e[0], _on(e[1]))):
            track.append(msg.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        mid.tracks.append(track)
    mid.save(str(path))
    return path


def _on(msg) -> int:
    return int(msg.type == "note_on" and msg.velocity > 0)


# ---------------------------------------------------------------- cases and records
def corpus_midi(name: str) -> bytes:
    from music21 import corpus

    from pipeline.data.scores import score_to_midi_bytes

    return score_to_midi_bytes(corpus.parse(name))


def case_files(d: Path, golden: dict | None = None) -> dict[str, Path]:
    """name -> MIDI path; corpus files come from the golden JSON when given (no music21)."""
    files = {fn.__name__: fn(d) for fn in mf.ALL_VALID}
    for name in CORPUS:
        path = d / (name.replace("/", "_") + ".mid")
        data = base64.b64decode(golden["midi"][name]) if golden else corpus_midi(name)
        path.write_bytes(data)
        files[name] = path
    files.update({f"fuzz{s}": fuzz_file(d, s) for s in FUZZ_SEEDS})
    return files


def digest(rows) -> str:
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


def record(path: Path, tokenize_piece, read, slice_notes) -> dict:
    """The fields the golden test compares (``read``: path -> Piece; ``tokenize_piece``:
    (piece, pedal: bool) -> ids). Pedals are compared as a set: their order means nothing."""
    piece = read(path)
    notes = [[n.start_ms, n.end_ms, n.off_ms, n.pitch, n.velocity, n.family] for n in piece.notes]
    pedals = sorted([p.start_ms, p.end_ms] for p in piece.pedals)
    out = {
        "ids": short(tokenize_piece(piece, False)),
        "pedal_ids": digest(tokenize_piece(piece, True)),
        "notes": digest(notes),
        "pedals": digest(pedals),
        "n_notes": len(notes),
    }
    if len(piece.notes) > 12:
        out["slice_ids"] = short(tokenize_piece(slice_notes(piece, 5, len(piece.notes) // 2), False))
    return out


def short(ids: list[int]) -> list[int] | str:
    """Small sequences in full (a failing test shows where they differ), long ones digested."""
    return ids if len(ids) <= 300 else f"{len(ids)} ids, sha {digest(ids)}"


def records(d: Path, golden: dict | None = None, read=None, slice_notes=None) -> dict:
    """Every case's record, read with ``read`` (default: today's reader)."""
    from pipeline.aria.tokenizer import AbsTokenizer, read_notes
    from pipeline.data.notes import slice_notes as slice_now

    plain, pedal = AbsTokenizer(), AbsTokenizer(include_pedal=True)

    def ids(piece, with_pedal: bool):
        tok = pedal if with_pedal else plain
        return tok.encode(tok.tokenize_piece(piece))

    read, slice_notes = read or read_notes, slice_notes or slice_now
    return {name: record(p, ids, read, slice_notes) for name, p in case_files(d, golden).items()}


def main() -> None:
    import tempfile

    if "--write" not in sys.argv:
        sys.exit(__doc__)
    stored = json.loads(GOLDEN.read_text())["midi"] if GOLDEN.exists() else {}
    midi = {name: stored.get(name) or base64.b64encode(corpus_midi(name)).decode() for name in CORPUS}
    with tempfile.TemporaryDirectory() as d:
        recs = records(Path(d), {"midi": midi})
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps({"midi": midi, "cases": recs}, separators=(",", ":")) + "\n")
    print(f"wrote {GOLDEN} ({len(recs)} cases, {GOLDEN.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
