"""GnM events from MIDI: upstream's facts on small hand-made files, the vocabulary, guard, decode."""

from __future__ import annotations

import json

import meter_fixtures as mf
import mido
import pytest
import torch

from pipeline.gnm.decode import to_notes, write_midi
from pipeline.gnm.encode import NoBarsError, PitchRangeError, as_upstream, bar_indices, events
from pipeline.gnm.generation import GrammarGuard
from pipeline.gnm.vocab import Vocab, VocabError
from pipeline.sample.processors import GenerationState

pytestmark = pytest.mark.unit


def midi(path, notes, *, tpq=480, tempos=((0, 120),), sigs=((0, 4, 4),), end=None, channel=0):
    """notes: (start, dur, pitch) in ticks of ``tpq``; tempos (tick, bpm); sigs (tick, num, den)."""
    msgs = [(t, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(b))) for t, b in tempos]
    msgs += [(t, 0, mido.MetaMessage("time_signature", numerator=n, denominator=d)) for t, n, d in sigs]
    for s, d, p in notes:
        msgs += [
            (s + d, 1, mido.Message("note_off", note=p, channel=channel)),
            (s, 2, mido.Message("note_on", note=p, velocity=80, channel=channel)),
        ]
    msgs.sort(key=lambda m: (m[0], m[1]))
    mid, track, now = mido.MidiFile(ticks_per_beat=tpq), mido.MidiTrack(), 0
    for t, _, m in msgs:
        track.append(m.copy(time=t - now))
        now = t
    track.append(mido.MetaMessage("end_of_track", time=max(0, (end or now) - now)))
    mid.tracks.append(track)
    mid.save(str(path))
    return path


def test_sequence_grammar_order_and_beats(tmp_path):
    f = midi(tmp_path / "a.mid", [(0, 480, 60), (0, 480, 67), (0, 960, 64), (955, 480, 72), (1920, 480, 62)])
    ev = events(f, "bach")
    assert ev[:5] == ["Composer_Bach", "Tempo_120", "BOS_None", "Bar_None", "Time_Signature_4/4"]
    assert ev[5:12] == [
        "Beat_0",
        "Note_Pitch_67",
        "Note_Duration_480",
        "Note_Pitch_64",
        "Note_Duration_960",
        "Note_Pitch_60",
        "Note_Duration_480",
    ]
    assert ev[12] == "Beat_23"  # floor: 5 ticks before beat 2 is still grid 23
    assert ev[-1] == "EOS_None" and bar_indices(ev) == [3, 15]
    assert events(f)[0] == "Composer_None"
    ups, bars = as_upstream(ev)
    assert ups[1] == {"name": "Tempo", "value": 120} and ups[2]["value"] is None and bars[0] == 3


def test_tempo_average_and_tie(tmp_path):
    assert events(midi(tmp_path / "a.mid", [(0, 480, 60)], tempos=((0, 100),)))[1] == "Tempo_80"
    f = midi(tmp_path / "b.mid", [(0, 960, 60)], tempos=((0, 60), (480, 180)))
    assert events(f)[1] == "Tempo_120"  # (60 + 180) / 2 = 120


def test_tpq_scaling_overlap_and_duration_rounding(tmp_path):
    f = midi(tmp_path / "a.mid", [(0, 48, 60), (96, 30, 62)], tpq=96)  # 48 ticks @96 = 240 @480
    ev = events(f)
    assert "Note_Duration_240" in ev and "Beat_12" in ev and "Note_Duration_160" in ev  # 150 -> 160
    g = midi(tmp_path / "b.mid", [(0, 60, 60), (480, 100, 61)])  # half to even: 60 -> 80, 100 -> 80
    assert [t for t in events(g) if t.startswith("Note_Duration")] == ["Note_Duration_80"] * 2


def test_metre_mapping_and_pickup(tmp_path):
    five = events(midi(tmp_path / "a.mid", [(0, 480, 60), (2400, 480, 62)], sigs=((0, 5, 4),)))
    assert [t for t in five if t.startswith("Time_Signature")][:2] == ["Time_Signature_2/4", "Time_Signature_3/4"]
    nine = events(midi(tmp_path / "b.mid", [(0, 480, 60)], sigs=((0, 9, 8),), end=1920))
    assert "Time_Signature_4/4" in nine
    # a 1/4 pickup before 3/4: labelled 3/4, right-aligned (grid 24, 30)
    pick = events(
        midi(tmp_path / "c.mid", [(0, 240, 60), (240, 240, 62), (480, 480, 64)], sigs=((0, 1, 4), (480, 3, 4)))
    )
    assert pick[3:8] == ["Bar_None", "Time_Signature_3/4", "Beat_24", "Note_Pitch_60", "Note_Duration_240"]
    assert "Beat_30" in pick
    # upstream bug kept by default: a single-metre 3/4 piece's first bar becomes a shifted 4/4 bar
    only = midi(tmp_path / "d.mid", [(0, 480, 60), (1440, 480, 62)], sigs=((0, 3, 4),))
    assert events(only)[4:6] == ["Time_Signature_4/4", "Beat_12"]
    assert events(only, pickup="fixed")[4:6] == ["Time_Signature_3/4", "Beat_0"]


def test_bad_input_is_named(tmp_path):
    with pytest.raises(PitchRangeError, match="out of range"):
        events(midi(tmp_path / "a.mid", [(0, 480, 20)]))
    empty = mido.MidiFile()
    empty.tracks.append(mido.MidiTrack([mido.MetaMessage("end_of_track", time=0)]))
    empty.save(str(tmp_path / "e.mid"))
    with pytest.raises(NoBarsError, match="no bars"):
        events(tmp_path / "e.mid")
    (tmp_path / "junk.mid").write_bytes(b"not midi")
    with pytest.raises(ValueError, match="unreadable"):
        events(tmp_path / "junk.mid")


def test_vocabulary_order_matches_upstream():
    v = Vocab.build(
        ["Composer_None", "Tempo_120", "Tempo_40", "Tempo_80", "Tempo_160", "BOS_None", "Bar_None", "EOS_None"]
        + [f"Beat_{g}" for g in range(48)]
        + [f"Time_Signature_{s}" for s in ("2/4", "3/4", "4/4", "3/8", "6/8")]
    )
    assert len(v) == 251 and v.pad_id == 250  # the full reachable upstream vocabulary
    assert v.tokens[:3] == ["BOS_None", "Bar_None", "Beat_0"] and v.tokens[3] == "Beat_1"
    assert v.id("Composer_Bach") == 50 and v.id("EOS_None") == 56
    assert v.id("Note_Pitch_100") == 153 and v.id("Note_Pitch_99") == 240  # sorted as strings
    assert [v.id(f"Tempo_{t}") for t in (120, 160, 40, 80)] == [241, 242, 243, 244]
    assert v.id("Time_Signature_6/8") == 249
    with pytest.raises(VocabError, match="unknown composer"):
        v.composer_id("haydn")


def test_grammar_guard_masks_backward_beats_and_gives_up():
    v = Vocab.build(
        ["Composer_None", "Tempo_80", "BOS_None", "Bar_None", "EOS_None"] + [f"Beat_{g}" for g in range(48)]
    )
    g = GrammarGuard(v, 2, max_bars=2, temperature=1.0)
    seq = ["Composer_None", "Tempo_80", "BOS_None", "Bar_None", "Beat_12", "Beat_20", "Bar_None"]
    tokens = torch.tensor([v.encode(seq)] * 2)

    def step(pos, logits=None):
        state = GenerationState(tokens, pos, torch.tensor([1, 1]), torch.tensor([True, True]))
        return g(torch.zeros(2, len(v)) if logits is None else logits, state)

    assert (step(2).argmax(-1) == v.id("BOS_None")).all()  # BOS forced after the first sampled token
    out = step(5)
    assert out[0, v.id("Beat_11")] == float("-inf") and out[0, v.id("Beat_12")] == 0
    assert out[0, v.id("PAD_None")] == float("-inf")
    logits = torch.zeros(2, len(v))
    logits[1, v.id("Beat_3")] = 50.0  # row 1 wants to go back with ~all its mass: give up
    out = step(6, logits)
    assert g.gave_up.tolist() == [False, True] and out[1].argmax() == v.id("EOS_None")
    assert out[0].argmax() != v.id("EOS_None")
    assert (step(7).argmax(-1) == v.id("EOS_None")).all()  # bar cap (2 bars) reached


def test_decode_roundtrip(tmp_path):
    f = midi(tmp_path / "a.mid", [(0, 480, 60), (480, 960, 64), (1920, 480, 67)], tempos=((0, 80),))
    ev = events(f)
    info = write_midi(ev, tmp_path / "out.mid")
    assert info["notes"] == 3 and info["tempo"] == 80
    assert events(tmp_path / "out.mid")[1:] == ev[1:]
    assert to_notes(ev)[0][1] == (480, 1440, 64)


METER_PIECES = ("waltz", "jig", "mixed", "waltz_seg", "jig_seg", "mixed_seg")


@pytest.mark.parametrize("name", METER_PIECES)
def test_non_4_4_ingest_pieces_match_upstream(name):
    """3/4, 6/8 and mixed-metre files from the ingest writer (and segments cut from them) give
    exactly the events upstream's midi_to_sequence wrote for them (tests/unit/meter_fixtures.py)."""
    ref = json.loads((mf.DATA / "gnm_upstream.json").read_text())[name]
    ev = events(mf.DATA / f"{name}.mid")
    assert ev == ref["events"] and bar_indices(ev) == ref["bar_indices"]


def test_ingest_metres_reach_the_time_signature_tokens():
    def metres(name, **kw):
        return [t.removeprefix("Time_Signature_") for t in events(mf.DATA / f"{name}.mid", **kw) if "Time_Sig" in t]

    assert metres("waltz") == ["3/4"] * 8 + ["2/4"]  # the 1-beat pickup is a right-aligned 3/4 bar
    assert metres("jig") == ["6/8"] * 8 + ["4/4"]  # a 5/8 last bar is upstream's 4/4
    assert metres("mixed") == ["4/4", "3/4", "6/8", "2/4", "2/4", "3/4", "4/4"]  # 5/4 -> 2/4 + 3/4
    # a segment cut mid-waltz starts on 3/4; only upstream's pickup rule turns its first bar to 4/4
    assert metres("waltz_seg")[:2] == ["4/4", "3/4"] and metres("waltz_seg", pickup="fixed")[0] == "3/4"
