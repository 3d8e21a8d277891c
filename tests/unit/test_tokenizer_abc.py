"""Interleaved-ABC writer (NotaGen layout), validation and 16-char patches."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.unit

music21 = pytest.importorskip("music21")

from pipeline.notagen.abc import (  # noqa: E402
    BOS_PATCH,
    EOS_PATCH,
    AbcError,
    abc_tune_to_interleaved,
    deinterleave,
    patchify,
    rest_reduce,
    rest_unreduce,
    score_to_interleaved_abc,
    unpatchify,
    validate_interleaved,
)

FOLK_TUNE = """X:1
T:Test Reel
M:4/4
L:1/8
K:D
|:A|dAFA dAFA|BGEG BGEG|(3ABc dc BAGF|1 EDEF D3:|2 EDEF D2|]
"""


def _body(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith("[V:")]


@pytest.fixture(scope="module")
def chorale():
    return music21.corpus.parse("bach/bwv66.6")


@pytest.fixture(scope="module")
def chorale_text(chorale):
    return score_to_interleaved_abc(
        chorale, period="Baroque", composer="Bach, Johann Sebastian", instrumentation="Choral"
    )


def test_chorale_is_interleaved_one_bar_per_line(chorale, chorale_text):
    lines = chorale_text.splitlines()
    assert lines[:3] == ["%Baroque", "%Bach, Johann Sebastian", "%Choral"]
    assert lines[3] == "X:1" and "L:1/8" in lines and "M:4/4" in lines
    assert any(ln.startswith("K:") for ln in lines)
    assert [ln for ln in lines if ln.startswith("V:")] == [
        'V:1 nm="Soprano"',
        'V:2 nm="Alto"',
        'V:3 nm="Tenor" clef=bass',
        'V:4 nm="Bass" clef=bass',
    ]
    body = _body(chorale_text)
    n_bars = len(chorale.parts[0].getElementsByClass("Measure"))
    assert len(body) == n_bars
    for line in body:
        assert re.findall(r"\[V:(\d+)\]", line) == ["1", "2", "3", "4"]
        assert line.endswith("|") or line.endswith("|]")


def test_chorale_parses_back_with_equal_bar_counts(chorale, chorale_text):
    n_bars = len(chorale.parts[0].getElementsByClass("Measure"))
    assert validate_interleaved(chorale_text, expected_bars=n_bars) == (True, "ok")
    back = music21.converter.parse(deinterleave(chorale_text), format="abc")
    assert len(back.parts) == 4
    for src, got in zip(chorale.parts, back.parts):
        assert len(got.getElementsByClass("Measure")) == n_bars
        want = [p.midi for n in src.flatten().notes for p in n.pitches]
        have = [p.midi for n in got.flatten().notes for p in n.pitches]
        assert have == want


def test_prompt_lines_optional_and_ascii(chorale):
    plain = score_to_interleaved_abc(chorale)
    assert plain.startswith("X:1\n")
    text = score_to_interleaved_abc(chorale, composer="Dvořák, Antonín")
    assert text.startswith("%Dvorak, Antonin\nX:1\n")


def test_broken_texts_fail_with_reason(chorale, chorale_text):
    body = _body(chorale_text)
    # a voice missing from one bar line
    missing = chorale_text.replace(body[2], body[2].split("[V:4]")[0])
    ok, reason = validate_interleaved(missing)
    assert not ok and "bar 3" in reason and "voices" in reason
    # a voice whose bar is one eighth short
    short = chorale_text.replace(body[1], body[1].replace("[V:2]F2", "[V:2]F", 1))
    ok, reason = validate_interleaved(short)
    assert not ok and "durations differ" in reason
    # two bars squeezed into one voice segment
    merged = chorale_text.replace(body[1], body[1].replace("[V:1]A2 B2 ", "[V:1]A2 B2|", 1))
    ok, reason = validate_interleaved(merged)
    assert not ok and "closes 2 bars" in reason
    # wrong expected bar count, missing header field, garbage: never raises
    ok, reason = validate_interleaved(chorale_text, expected_bars=3)
    assert not ok and "expected 3" in reason
    ok, reason = validate_interleaved(chorale_text.replace("K:", "Q:", 1))
    assert not ok and "K:" in reason
    for junk in ("", "hello world", "[V:1]abc|", None):
        ok, reason = validate_interleaved(junk)  # type: ignore[arg-type]
        assert not ok and reason


def test_writer_handles_ties_tuplets_chords_and_changes():
    from music21 import chord, key, meter, note, stream

    part = stream.Part()
    part.partName = "Piano"
    m1 = stream.Measure(number=1)
    m1.append([meter.TimeSignature("3/4"), key.KeySignature(2)])
    for p in ("D4", "E4", "F#4"):
        n = note.Note(p, quarterLength=1 / 3)
        m1.append(n)
    m1.append(chord.Chord(["D4", "F#4", "A4"], quarterLength=1))
    tied = note.Note("G#4", quarterLength=1)
    tied.tie = music21.tie.Tie("start")
    m1.append(tied)
    m2 = stream.Measure(number=2)
    m2.append([meter.TimeSignature("2/4"), key.KeySignature(-1)])
    end = note.Note("G#4", quarterLength=1)
    end.tie = music21.tie.Tie("stop")
    m2.append([end, note.Note("B-3", quarterLength=0.5), note.Rest(quarterLength=0.5)])
    part.append([m1, m2])
    score = stream.Score([part])
    text = score_to_interleaved_abc(score)
    body = _body(text)
    assert "(3:2:3" in body[0] and "[DFA]" in body[0] and "-|" in body[0]
    assert "[M:2/4]" in body[1] and "[K:F]" in body[1]
    assert validate_interleaved(text, expected_bars=2) == (True, "ok")
    back = music21.converter.parse(deinterleave(text), format="abc")
    pitches = [p.nameWithOctave for n in back.flatten().notes for p in n.pitches]
    assert pitches == ["D4", "E4", "F#4", "D4", "F#4", "A4", "G#4", "G#4", "B-3"]
    durs = [float(n.quarterLength) for n in back.flatten().notesAndRests]
    assert durs == pytest.approx([1 / 3, 1 / 3, 1 / 3, 1, 1, 1, 0.5, 0.5])
    bars = back.parts[0].getElementsByClass("Measure")
    assert [m.timeSignature.ratioString for m in bars if m.timeSignature] == ["3/4", "2/4"]


def test_overfull_bar_gets_its_own_meter_or_is_clipped():
    from music21 import meter, note, stream

    part = stream.Part()
    m1 = stream.Measure(number=1)
    m1.append(meter.TimeSignature("4/4"))
    m1.append([note.Note("C5", quarterLength=2), note.Note("D5", quarterLength=2.5)])  # 4.5
    m2 = stream.Measure(number=2)
    m2.append(note.Note("E5", quarterLength=4))
    part.append([m1, m2])
    score = stream.Score([part])
    text = score_to_interleaved_abc(score)
    assert _body(text)[0].startswith("[V:1][M:9/8]") and "[M:4/4]" in _body(text)[1]
    assert validate_interleaved(text, expected_bars=2) == (True, "ok")
    clipped = score_to_interleaved_abc(score, overfull="clip")
    assert _body(clipped)[0] == "[V:1]c4 d4|"
    assert validate_interleaved(clipped, expected_bars=2) == (True, "ok")
    ok, reason = validate_interleaved(score_to_interleaved_abc(score, overfull="keep"))
    assert not ok and "bars" in reason


def test_native_abc_tune_to_interleaved():
    text = abc_tune_to_interleaved(FOLK_TUNE, period="Folk", composer="Traditional", instrumentation="Fiddle")
    assert text.splitlines()[:3] == ["%Folk", "%Traditional", "%Fiddle"]
    body = _body(text)
    assert all(ln.startswith("[V:1]") and ln.count("[V:") == 1 for ln in body)
    ok, reason = validate_interleaved(text)
    assert ok, reason
    with pytest.raises(AbcError):
        abc_tune_to_interleaved(FOLK_TUNE, tune_index=3)


def test_rest_reduce_and_unreduce():
    from music21 import meter, note, stream

    parts = []
    for name, pitches in (("Flute", ["C5", "D5", "E5"]), ("Horn", ["G4", None, "C4"])):
        part = stream.Part()
        part.partName = name
        for k, p in enumerate(pitches):
            m = stream.Measure(number=k + 1)
            if k == 0:
                m.append(meter.TimeSignature("3/4"))
            m.append(note.Note(p, quarterLength=3) if p else note.Rest(quarterLength=3))
            part.append(m)
        parts.append(part)
    text = score_to_interleaved_abc(stream.Score(parts))
    assert _body(text)[1] == "[V:1]d6|[V:2]z6|"
    reduced = rest_reduce(text)
    assert _body(reduced)[1] == "[V:1]d6|"
    assert len(_body(reduced)) == 3
    assert rest_unreduce(reduced) == text
    assert validate_interleaved(rest_unreduce(reduced), expected_bars=3) == (True, "ok")


def test_patchify_round_trip(chorale_text):
    patches = patchify(chorale_text)
    assert patches[0] == BOS_PATCH == "\x01" * 15 + "\x02"
    assert patches[-1] == EOS_PATCH == "\x01" + "\x02" * 15
    assert all(len(p) == 16 for p in patches)
    # every line is padded separately: no patch holds text after a newline
    for p in patches[1:-1]:
        stripped = p.rstrip("\x00")
        assert "\n" not in stripped[:-1]
    n_expected = sum(-(-len(ln) // 16) for ln in chorale_text.splitlines(keepends=True))
    assert len(patches) == n_expected + 2
    assert unpatchify(patches) == chorale_text
    assert unpatchify(patchify("abc", patch_size=4)) == "abc"
    with pytest.raises(AbcError):
        patchify("caf\u00e9")


def test_tokenize_rows_and_the_store(tmp_path):
    """abc_tokenize's work (pipeline/notagen/tokenize.py): a native ABC tune is prompted, checked and
    patchified; a MIDI-only piece and a missing file are quarantined; the store keeps every text."""
    from pipeline.notagen.tokenize import tokenize_rows, write_store
    from pipeline.params.notagen import AbcTokenizeParams

    (tmp_path / "t.abc").write_text("X:1\nT:t\nL:1/8\nM:4/4\nK:G\nGABc d2 B2|c2 A2 G4|]\n")
    rows = [
        {"id": "a", "split": "train", "score": "t.abc", "composer": "bach", "period": "baroque", "n_parts": 1},
        {"id": "b", "split": "train", "midi": "b.mid"},
        {"id": "c", "split": "val", "score": "missing.abc"},
    ]
    p = AbcTokenizeParams(composer_names={"bach": "Bach, Johann Sebastian"})
    results = tokenize_rows(rows, p, str(tmp_path))
    assert [r["ok"] for r in results] == [True, False, False]
    assert [r.get("reason") for r in results[1:]] == ["no_score", "missing_file"]
    assert results[0]["text"].startswith("%Baroque\n%Bach, Johann Sebastian\n%Voice\n")
    stats, info = write_store(tmp_path / "store", rows, results, p.patch_size)
    assert info["vocab_size"] == 128 and info["patch_size"] == 16 and len(info["bos_patch"]) == 16
    assert stats["splits"]["train"]["patches"] == results[0]["label"]["n_patches"]
    texts = (tmp_path / "store" / "train" / "texts.jsonl").read_text()
    assert '"id": "a"' in texts and (tmp_path / "store" / "tokenizer.json").is_file()
