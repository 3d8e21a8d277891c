"""Differential test: our Aria reader + tokenizer against ariautils' own outputs.

References (tests/unit/data/aria_ariautils/references.json) were made by running ariautils
(EleutherAI/aria-utils, commit in the file) on ariautils' test assets, on seeded fuzz files
(make_fuzz.py) and on the golden cases of aria_golden.py; see that folder's README.md.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import aria_golden as ag
import mido
import numpy as np
import pytest

from pipeline.aria.tempo import AriaClock
from pipeline.aria.tokenizer import AbsTokenizer, read_notes
from pipeline.data.notes import DRUM

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

DATA = Path(__file__).parent / "data" / "aria_ariautils"
REFS = json.loads((DATA / "references.json").read_text())["files"]


@pytest.fixture(scope="module")
def golden_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("golden")
    ag.case_files(d, json.loads(ag.GOLDEN.read_text()))
    return d


def as_json(tok):
    return list(tok) if isinstance(tok, tuple) else tok


def in_vocab(body: list) -> list:
    """ariautils' body without its ("drum", n) tokens outside 35..81 (and their onsets): they
    have no id, and we leave them out (tokenizer.py); everything else must be equal."""
    out, skip = [], False
    for t in body:
        if skip:
            skip = False
        elif isinstance(t, list) and t[0] == "drum" and not 35 <= t[1] <= 81:
            skip = True
        else:
            out.append(t)
    return out


@pytest.mark.parametrize("key", sorted(REFS))
def test_tokens_and_times_equal_ariautils(key, golden_dir):
    ref = REFS[key]
    path = golden_dir / key.removeprefix("golden/") if key.startswith("golden/") else DATA / "midi" / key
    piece = read_notes(path)
    seq = AbsTokenizer().tokenize(path)
    k = seq.index("<S>")
    assert sorted(as_json(t) for t in seq[:k]) == ref["prefix"]  # ariautils shuffles the prefix
    body = [as_json(t) for t in seq[k:]]
    want = in_vocab(ref["body"])
    first = next((i for i, (a, b) in enumerate(zip(body, want)) if a != b), None)
    assert body == want, f"first difference at body token {first}"
    times = [[n.start_ms, None if n.family == DRUM else n.duration_ms] for n in piece.notes]
    assert times == ref["times"]


def test_references_cover_assets_fuzz_and_golden_cases():
    keys = set(REFS)
    assert {f"assets/{n}.mid" for n in ("arabesque", "basic", "pop", "transcription")} <= keys
    assert {k for k in keys if k.startswith("fuzz/")} == {f"fuzz/{p.name}" for p in (DATA / "midi/fuzz").iterdir()}
    assert sum(k.startswith("golden/") for k in keys) == 27


def test_fuzz_files_are_the_generators_and_cover_the_hard_cases(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_fuzz", DATA / "make_fuzz.py")
    make_fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_fuzz)
    made = make_fuzz.make_all(tmp_path)
    for p in made:
        assert p.read_bytes() == (DATA / "midi/fuzz" / p.name).read_bytes(), p.name
    files = {p.stem: mido.MidiFile(p) for p in made}

    def msgs(f):
        return [m for tr in f.tracks for m in tr]

    pedal_only = [tr for tr in files["pedal_own_track_0"].tracks if any(m.type == "control_change" for m in tr)]
    assert len(pedal_only) == 1 and not any(m.type == "note_on" for m in pedal_only[0])
    assert files["long_hires_0"].ticks_per_beat == 10_080 and files["long_hires_0"].length > 250
    assert sum(m.type == "set_tempo" for m in msgs(files["dense_tempo_0"])) >= 300
    assert any(m.type == "note_on" and m.velocity == 0 for m in msgs(files["overlaps_0"]))
    assert any(m.type == "note_on" and m.channel == 9 for m in msgs(files["drums_and_piano_0"]))
    assert files["overlaps_0"].type == 0


def test_clock_arrays_equal_the_scalar_walk():
    """AriaClock's vectorised paths give ``ms`` exactly, quirks included, on random maps."""
    rng = random.Random(0)
    for _ in range(200):
        n = rng.choice([1, 1, 2, 3, 10, 60])
        ticks = sorted(rng.choice([0, rng.randint(0, 5000)]) for _ in range(n))
        clock = AriaClock(rng.choice([96, 480, 10_080]), tuple((t, rng.randint(200_000, 1_500_000)) for t in ticks))
        t0 = np.array([rng.randint(0, 6000) for _ in range(50)])
        t1 = t0 + np.array([rng.choice([0, 1, rng.randint(0, 3000)]) for _ in range(50)])
        assert clock.ms_many(t0, t1).tolist() == [clock.ms(a, b) for a, b in zip(t0.tolist(), t1.tolist())]
        origin = int(t0[0])
        assert clock.ms_from_many(origin, t1).tolist() == [clock.ms(origin, b) for b in t1.tolist()]


def test_clock_quirks():
    two_at_zero = AriaClock(480, ((0, 500_000), (0, 1_000_000)))
    # from 480: back to tick 0 at the first tempo (-500 ms), then 0..960 at the last (+2000 ms)
    assert two_at_zero.ms(480, 960) == -500 + 2000
    assert two_at_zero.ms(0, 480) == 1000
    late_single = AriaClock(480, ((960, 500_000),))
    assert late_single.ms(0, 960) == 0 and late_single.ms(0, 961) == 1001  # 0 ms up to the tempo event


# ---------------------------------------------------------------- the byte reader vs mido
def smf(body: bytes) -> bytes:
    return (
        b"MThd" + (6).to_bytes(4, "big") + b"\x00\x00\x00\x01\x01\xe0" + b"MTrk" + len(body).to_bytes(4, "big") + body
    )


@pytest.mark.parametrize(
    "body",
    [
        b"\x00\x90\x3c\x40\x00\xff\x01\x00\x10\x3c\x00\x00\xff\x2f\x00",  # running status across a meta event
        b"\x00\x90\x3c\x40\x00\xf0\x01\xf7\x10\x3c\x00\x00\xff\x2f\x00",  # sysex sets running status (to sysex)
        b"\x00\x90\x3c\x40\x81\x00\x80\x3c\x00\x00\xf8\x00\xff\x2f\x00",  # two-byte delta, a realtime byte
        b"\x00\xf4\x00\x90\x3c\x40",  # undefined status byte
        b"\x00\x90\x3c\xc0",  # data byte > 127
        b"\x00\x3c\x40",  # running status with no status yet
        b"\x00\x90\x3c",  # truncated
    ],
)
def test_byte_reader_accepts_and_refuses_what_mido_does(tmp_path, body):
    path = tmp_path / "x.mid"
    path.write_bytes(smf(body))
    try:
        mid = mido.MidiFile(path)
    except (OSError, EOFError, KeyError, ValueError):
        with pytest.raises(ValueError, match="x.mid"):
            read_notes(path)
        return
    ons = {}
    want = []
    for m in mid.tracks[0]:
        ons.setdefault("t", 0)
        ons["t"] += m.time
        if m.type == "note_on" and m.velocity:
            ons[m.note] = ons["t"]
        elif m.type in ("note_off", "note_on") and m.note in ons:
            want.append((ons.pop(m.note), ons["t"], m.note))
    if not want:  # e.g. the sysex case: mido reads "10 3c 00" as a sysex, so 60 is never closed
        with pytest.raises(ValueError, match="no notes"):
            read_notes(path)
        return
    piece = read_notes(path)
    assert [(n.ticks[0], n.ticks[2], n.pitch) for n in piece.notes] == want
