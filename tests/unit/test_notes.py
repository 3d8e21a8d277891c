"""The one MIDI reader (pipeline.data.notes): inputs, family filter, named errors, re-timing.

Token-level equality with the mido reader it replaced is in test_tokenizer_aria.py (golden)."""

from __future__ import annotations

import struct

import midi_fixtures as mf
import mido
import pytest

from pipeline.data.notes import (
    CorruptMidiError,
    MidiError,
    Piece,
    read_midi_file,
    read_piece,
    rebase,
    slice_notes,
)

pytestmark = pytest.mark.unit


def test_path_bytes_and_midifile_read_alike(tmp_path):
    path = mf.tempo_changes(tmp_path)
    a, b, c = read_piece(path), read_piece(path.read_bytes()), read_piece(mido.MidiFile(path))
    assert a.notes == b.notes == c.notes and a.clock == b.clock == c.clock
    assert [(n.start_ms, n.end_ms) for n in a.notes] == [(0, 500), (1000, 1250), (1250, 2500), (2500, 3000)]


def test_every_family_is_kept_unless_dropped(tmp_path):
    path = mf.multi_instrument(tmp_path)  # strings, piano, drums, vibraphone ("chromatic")
    assert {n.family for n in read_piece(path).notes} == {"strings", "piano", "drum", "chromatic"}
    assert "chromatic" not in {n.family for n in read_piece(path, {"chromatic"}).notes}
    with pytest.raises(MidiError, match="no notes after removing"):
        read_piece(mf.only_ignored(tmp_path), {"synth_effect"})  # program 100


def test_type0_file_keeps_one_track_per_channel(tmp_path):
    events = [mf.program(0, 40, 1)] + mf.note(0, 100, 60, ch=0) + mf.note(0, 50, 64, ch=1)
    piece = read_piece(mf.write(tmp_path / "t0.mid", [events]))
    # same onset: the earlier note-off first (the order a note-off-driven reader meets them)
    assert [(n.pitch, n.family, n.end_ms) for n in piece.notes] == [(64, "strings", 50), (60, "piano", 100)]
    assert piece.notes[0].track != piece.notes[1].track


@pytest.mark.parametrize(
    "builder,error,match",
    [
        (mf.truncated, CorruptMidiError, "truncated"),
        (mf.bad_header, CorruptMidiError, "no MThd header"),
        (mf.empty, MidiError, "contains no notes"),
    ],
)
def test_bad_files_are_named_errors(tmp_path, builder, error, match):
    path = builder(tmp_path)
    with pytest.raises(error, match=match) as err:
        read_piece(path)
    assert str(path) in str(err.value) and isinstance(err.value, ValueError)


def test_smpte_division_is_a_named_error(tmp_path):
    good = mf.long_piece(tmp_path, n=3).read_bytes()
    smpte = good[:12] + struct.pack(">H", 0xE728) + good[14:]  # -25 fps, 40 ticks per frame
    with pytest.raises(MidiError, match="unsupported time division"):
        read_piece(smpte)


def test_read_midi_file_names_what_it_reads(tmp_path):
    with pytest.raises(FileNotFoundError, match="prompt MIDI not found"):
        read_midi_file(tmp_path / "nope.mid", "prompt MIDI")
    (tmp_path / "zero.mid").write_bytes(b"")
    with pytest.raises(MidiError, match="prompt MIDI .*zero.mid is empty"):
        read_midi_file(tmp_path / "zero.mid", "prompt MIDI")
    with pytest.raises(CorruptMidiError, match="bad_header.mid is corrupt, not a readable MIDI file"):
        read_midi_file(mf.bad_header(tmp_path), "prompt MIDI")


def test_a_slice_is_timed_as_if_read_alone(tmp_path):
    piece = read_piece(mf.tempo_changes(tmp_path))
    part = slice_notes(piece, 1, 2)
    assert [(n.start_ms, n.end_ms) for n in part.notes] == [(0, 250), (250, 1500)]
    untimed = Piece(
        [n.__class__(n.start_ms + 7, n.end_ms + 7, n.pitch, n.velocity, n.family, n.track) for n in piece.notes]
    )
    assert [n.start_ms for n in rebase(untimed).notes] == [0, 1000, 1250, 2500]
    with pytest.raises(ValueError, match="empty slice"):
        slice_notes(piece, 9, 1)
