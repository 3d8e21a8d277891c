"""MIDI-VALLE compound tokens: hand-checked rows for fixture files built with mido."""

import io
import json

import meter_fixtures as mf
import mido
import numpy as np
import pytest

from pipeline.valle import MidiTokenError, midi_tokens
from pipeline.valle.midi_tokens import VOCAB, tokens_to_notes

pytestmark = pytest.mark.unit


def _track(events, program=0, channel=0):
    """events: (abs_tick, 'on'|'off', pitch, velocity) -> a MidiTrack with delta times."""
    track = mido.MidiTrack([mido.Message("program_change", program=program, channel=channel, time=0)])
    now = 0
    for tick, kind, pitch, vel in sorted(events, key=lambda e: e[0]):
        track.append(
            mido.Message(
                "note_on" if kind == "on" else "note_off", note=pitch, velocity=vel, channel=channel, time=tick - now
            )
        )
        now = tick
    return track


def _note(on, dur, pitch, vel):
    return [(on, "on", pitch, vel), (on + dur, "off", pitch, 0)]


def _write(tmp_path, tpq, tracks, name="x.midi"):
    mid = mido.MidiFile(ticks_per_beat=tpq)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0)])  # no notes: dropped
    mid.tracks.append(meta)
    mid.tracks.extend(tracks)
    path = tmp_path / name
    mid.save(str(path))
    return path


def test_hand_checked_rows_tpq_220(tmp_path):
    ev = []
    ev += _note(0, 110, 64, 2)  # onset 0, 48 ticks, velocity 2 -> bin 3
    ev += _note(0, 220, 60, 80)  # same onset: pitch ascends -> this row first
    ev += _note(1320, 220, 76, 127)  # 96*1320/220 = 576: bar 1, position 192, IOI 576 -> 383
    ev += _note(1321, 5, 55, 64)  # also lands on 576, keeps original-time order (after 76)
    ev += _note(2000, 100, 20, 90)  # pitch 20 out of range: no row, no IOI effect
    ev += _note(2200, 4400, 108, 1)  # 960 ticks; 20 beats -> clipped to 1152
    # zero-length pair at 2640 is ignored; the note-on stays open and the next off closes it
    ev += [(2640, "on", 62, 100), (2640, "off", 62, 0), (2860, "off", 62, 0)]
    drums = _track(_note(0, 220, 36, 100), channel=9)  # drum sub-track: skipped (upstream crashes)
    other = _track(_note(0, 220, 50, 50))  # second MIDI track: not used
    path = _write(tmp_path, 220, [_track(ev) + drums[1:], other])
    expected = np.array(
        [
            [1, 1, 1, 1, 1, 1],
            [43, 44, 99, 388, 4, 4],  # 60-17, 80//2+4, 96+3, 0+388, 0+4, 0+4
            [47, 5, 51, 388, 4, 4],  # 64, vel 2 -> 5, 48+3
            [59, 67, 99, 771, 196, 5],  # 76, 127 -> 67, IOI clipped 383, pos 192, bar 1
            [38, 36, 5, 388, 196, 5],  # 55, 64 -> 36, dur round(2.18)=2 -> 5, IOI 0
            [91, 4, 1155, 771, 196, 6],  # 108, vel 1 -> 4, dur 1152 -> 1155, IOI 384 -> 383, bar 2
            [45, 54, 99, 580, 4, 7],  # 62 at 1152: IOI 192 -> 580, bar 3
            [2, 2, 2, 2, 2, 2],
        ]
    )
    got = midi_tokens(path)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)
    assert (got.max(axis=0) < np.array(VOCAB)).all()


def test_resampling_duration_on_its_own_and_half_up(tmp_path):
    # tpq 480: start 2 dur 6 -> start 0 dur 1; start 12 dur 11 -> start 2 dur 2 (spec examples)
    a = _write(tmp_path, 480, [_track(_note(2, 6, 60, 64) + _note(12, 11, 61, 64))], "a.midi")
    np.testing.assert_array_equal(midi_tokens(a)[1:-1, [2, 3, 4]], [[4, 388, 4], [5, 390, 6]])
    # tpq 192: tick 1 -> 0.5 -> 1 (ties round up); duration 1 -> 0.5 -> 1
    b = _write(tmp_path, 192, [_track(_note(1, 1, 60, 64))], "b.midi")
    np.testing.assert_array_equal(midi_tokens(b)[1, [2, 4]], [4, 5])


def test_tpq_96_is_not_resampled_and_round_trips(tmp_path):
    notes = [(0, 50, 60, 81), (384 * 2 + 7, 1, 72, 3), (384 * 2 + 7, 1152, 48, 127)]
    ev = sum((_note(on, d, p, v) for on, d, p, v in notes), [])
    tokens = midi_tokens(_write(tmp_path, 96, [_track(ev)]))
    assert tokens_to_notes(tokens) == sorted(notes, key=lambda n: (n[0], n[2]))


def test_no_notes_is_a_named_error(tmp_path):
    path = _write(tmp_path, 96, [_track(_note(0, 96, 10, 64))])
    with pytest.raises(MidiTokenError, match="no_notes"):
        midi_tokens(path)
    with pytest.raises(MidiTokenError, match="unreadable"):
        midi_tokens(b"not a midi file")


@pytest.mark.parametrize("name", ["waltz", "jig", "mixed", "waltz_seg", "jig_seg", "mixed_seg"])
def test_non_4_4_ingest_pieces_match_upstream(name):
    """3/4, 6/8 and mixed-metre files from the ingest writer and segments cut from them (pretty_midi,
    tpq 220): the rows upstream's ExpressionTok wrote for them (tests/unit/meter_fixtures.py)."""
    ref = np.array(json.loads((mf.DATA / "valle_upstream.json").read_text())[name], dtype=np.int64)
    np.testing.assert_array_equal(midi_tokens(mf.DATA / f"{name}.mid"), ref)


def test_time_signatures_never_change_the_rows():
    """Bars stay 384-tick 4/4 bars: the mixed piece without its signatures gives the same rows."""
    mid = mido.MidiFile(mf.DATA / "mixed.mid")
    bare = mido.MidiFile(ticks_per_beat=mid.ticks_per_beat)
    for track in mid.tracks:
        new, carry = mido.MidiTrack(), 0
        for m in track:
            if m.type in ("time_signature", "key_signature"):
                carry += m.time  # dropped: its delta time moves to the next message
                continue
            new.append(m.copy(time=m.time + carry))
            carry = 0
        bare.tracks.append(new)
    buf = io.BytesIO()
    bare.save(file=buf)
    assert "time_signature" not in {m.type for t in bare.tracks for m in t}
    np.testing.assert_array_equal(midi_tokens(buf.getvalue()), midi_tokens(mf.DATA / "mixed.mid"))
