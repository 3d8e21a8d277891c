"""NotaGen rendering (pipeline/notagen/render.py): interleaved ABC -> MusicXML (abc2xml) -> MIDI
(music21), named ScoreRenderErrors, badly formed repeats; and the score table's per-K pick."""

from __future__ import annotations

import logging

import pytest

pytestmark = pytest.mark.unit

from pipeline.notagen.render import ScoreRenderError, to_score, write_piece  # noqa: E402

# abc_dpo samples_2 row 12 of a default run: single voice, bars longer than the 4/8 meter.
# music21's ABC reader splits such bars and re-inserts one TimeSignature object in several
# measures; its MIDI writer then failed ("TimeSignature 4/8 ... is already found in this Stream").
OVERFULL = (
    'X:1\nL:1/8\nM:4/8\nK:B\nV:1 nm="Part 1"\n'
    + "".join(
        f"[V:1]{b}|\n"
        for b in (
            "A",
            "BBA",
            "AA B2 B2",
            "AGF AG",
            "DF C2",
            "EF z2",
            "B2 B2",
            "E2 zE",
            "B2 FG",
            "G2 ^G2",
            "B2 G2",
            "A2 F2",
            "BB GB",
            "G B/",
            "GG B2",
            "A2 G",
            "ED F2",
            "E2 A2",
            "G2 ^B2",
            "c2 AG",
            "E EG",
            "B2 G,A,",
            "B,2",
            "B4 G|",
            "G3/2E3/2G",
            "B2 F2",
            "GF E3/2B/",
            "GF F2",
            "G F G3G",
            "GG F3",
            "E2 F E3G",
            "FE A,",
            "A2 G2",
            "A A|",
            "E2 z2",
        )
    )
    + "[V:1]G4|]\n"
)
TWO_VOICES = (
    'X:1\nL:1/8\nM:2/4\nK:C\nV:1 nm="Violin"\nV:2 nm="Cello" clef=bass\n'
    "[V:1]c2 d2|[V:2]C,4|\n[V:1][M:3/4]e2 f2 g2|[V:2][M:3/4]z6|\n[V:1]B3// c2 z3/4 d2|[V:2]G,6|]\n"
)
# ':|' with no '|:' then a '|:' never closed: music21 cannot expand the repeats (a real folk tune)
OPEN_REPEAT = "X:1\nL:1/8\nM:2/4\nK:D\nV:1\n[V:1]d2 ed|\n[V:1]c4 :|\n[V:1]|:A2 B2|\n[V:1]d4|]\n"


def _notes(path):
    from music21 import converter

    return [n for n in converter.parse(str(path)).recurse().notes]


def test_overfull_bars_render(tmp_path):
    files = write_piece(tmp_path, "k2_0", "as generated", OVERFULL, audio=False)
    assert files == {
        "abc": "k2_0.abc",
        "interleaved": "k2_0.interleaved.abc",
        "musicxml": "k2_0.musicxml",
        "midi": "k2_0.mid",
    }
    assert (tmp_path / "k2_0.abc").read_text() == "as generated"
    assert "<score-partwise" in (tmp_path / "k2_0.musicxml").read_text()
    assert len(_notes(tmp_path / "k2_0.mid")) >= 70  # every note kept (a few tied across MIDI bars)


def test_voices_inline_meter_and_durations():
    score = to_score(TWO_VOICES)
    assert len(score.parts) == 2
    upper = [(n.nameWithOctave, float(n.quarterLength)) for n in score.parts[0].recurse().notes]
    # '3//' is 3/4 of the unit (abc standard; music21's ABC reader read 3/2 of it)
    assert upper[5] == ("B4", 0.375)
    assert score.parts[0].recurse().getElementsByClass("TimeSignature")[-1].ratioString == "3/4"


def test_badly_formed_repeats_played_once(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="pipeline.notagen.render"):
        files = write_piece(tmp_path, "r", OPEN_REPEAT, OPEN_REPEAT, audio=False)
    assert files["midi"] == "r.mid"
    assert "repeats not expanded" in caplog.text
    assert [n.nameWithOctave for n in _notes(tmp_path / "r.mid")][:3] == ["D5", "E5", "D5"]


def test_failures_are_named(tmp_path):
    with pytest.raises(ScoreRenderError, match=r"^ABC -> MusicXML \(abc2xml\)"):
        write_piece(tmp_path, "empty", "", "", audio=False)
    assert write_piece(tmp_path, "cut", "cut off", None) == {"abc": "cut.abc"}


def test_pick_prefers_valid_then_falls_back():
    from pipeline.clamp.sample_cards import pick

    rows = [{"complete": c} for c in (True, True, False, True)]
    scores = [0.9, 0.5, 0.99, 0.7]
    ok = {1: (True, "ok")}
    check = lambda i: ok.get(i, (False, "misaligned"))  # noqa: E731
    assert pick(rows, scores, 1, check) == [(1, "best valid sample")]
    assert pick(rows, scores, 2, check) == [(1, "best valid sample"), (0, "fallback, fails the checks: misaligned")]
    assert pick(rows, scores, 1, lambda i: (False, "plagiarism")) == [(0, "fallback, fails the checks: plagiarism")]
    assert pick([{"complete": False}], [1.0], 1, check) == []
