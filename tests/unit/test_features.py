"""Handcrafted features: four normalised histograms of the right sizes; note chunking."""

import numpy as np
import pytest

from pipeline.aria.chunks import note_chunks
from pipeline.data.notes import Note, Piece
from pipeline.eval.features import DIM, SIZES, feature_blocks, handcrafted, handcrafted_many

pytestmark = pytest.mark.unit


def piece(pitches, step_ms=250, dur_ms=240, chord=1):
    notes = [
        Note(i // chord * step_ms, i // chord * step_ms + dur_ms, p, 80, "piano", 0) for i, p in enumerate(pitches)
    ]
    return Piece(notes)


def test_blocks_have_the_documented_sizes_and_sum_to_one():
    blocks = feature_blocks(piece([60, 62, 64, 65, 67, 69, 71, 72] * 3))
    assert (
        {k: len(v) for k, v in blocks.items()}
        == SIZES
        == {"pitch_class": 12, "interval": 25, "duration": 8, "onset_density": 10}
    )
    for name, v in blocks.items():
        assert v.dtype == np.float32 and np.all(v >= 0), name
        assert v.sum() == pytest.approx(1.0, abs=1e-6), name
    x = handcrafted(piece([60, 64, 67]))
    assert x.shape == (DIM,) == (55,)
    assert handcrafted_many([piece([60]), piece([62, 64])]).shape == (2, DIM)


def test_histograms_count_what_they_say():
    b = feature_blocks(piece([60, 62, 64, 65, 67, 69, 71, 72]))  # C major scale, 4 notes per second
    pc = b["pitch_class"]
    assert np.count_nonzero(pc) == 7 and pc[0] == pytest.approx(2 / 8)  # C twice
    iv = b["interval"]  # steps +2 +2 +1 +2 +2 +2 +1
    assert iv[12 + 2] == pytest.approx(5 / 7) and iv[12 + 1] == pytest.approx(2 / 7)
    assert b["duration"][3] == 1.0  # 240 ms: the [200, 400) ms bin
    assert b["onset_density"][4] == 1.0  # two 1-s windows with 4 onsets each: the [4, 6) bin
    leap = feature_blocks(piece([40, 80]))["interval"]
    assert leap[-1] == 1.0  # a leap beyond an octave lands in the end bin


def test_skyline_intervals_ignore_inner_chord_notes():
    # chords of 3 notes per onset: the top line goes 67 -> 69, inner notes do not count
    b = feature_blocks(piece([60, 64, 67, 62, 65, 69], chord=3))
    assert b["interval"][12 + 2] == 1.0


def test_degenerate_pieces_give_zero_histograms_not_nans():
    b = feature_blocks(piece([60]))
    assert b["interval"].sum() == 0 and b["pitch_class"].sum() == pytest.approx(1.0)
    drums = Piece([Note(0, 100, 36, 90, "drum", 9), Note(500, 600, 38, 90, "drum", 9)])
    x = handcrafted(drums)
    assert np.isfinite(x).all() and x[:12].sum() == 0 and x[-10:].sum() == pytest.approx(1.0)


def test_note_chunks_drop_a_short_remainder_unless_it_is_alone():
    p = piece(list(range(40, 40 + 70)))
    assert [len(c.notes) for c in note_chunks(p, 30)] == [30, 30]  # 10-note remainder < 15: dropped
    assert [len(c.notes) for c in note_chunks(p, 40)] == [40, 30]
    assert [len(c.notes) for c in note_chunks(piece([60, 62]), 300)] == [2]
    assert len(note_chunks(p, 10, max_chunks=3)) == 3
    assert note_chunks(p, 30)[1].notes[0].start_ms == 0  # each chunk re-timed from its first note
