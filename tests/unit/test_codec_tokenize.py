"""codec_tokenize's per-segment checks: every bad input is a named quarantine reason; good
segments give codes [n_q, frames] and MIDI-VALLE rows from all parts merged onto one piano."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from pipeline.codec import Codec, CodecConfig
from pipeline.codec.tokenize import SegmentRejected, check_audio, midi_rows, piano_midi, tokenize_one
from pipeline.params.codec import CodecTokenizeParams

pytestmark = pytest.mark.unit
SR = 16000


def spec(seconds=1.0, sr=SR, **kw):
    return {
        "id": "seg",
        "audio": "x.flac",
        "start": 0.0,
        "duration": seconds,
        "sample_rate": sr,
        "split": "train",
        "condition": "piano_dry",
        "midi": "seg.mid",
        **kw,
    }


def tone(seconds=1.0, amp=0.3):
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def write_midi(path, parts, end_pad=0.0):
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for prog, notes in parts:
        inst = pretty_midi.Instrument(program=prog)
        inst.notes = [pretty_midi.Note(80, p, s, e) for p, s, e in notes]
        pm.instruments.append(inst)
    pm.write(str(path))
    return path


def test_audio_checks_name_their_reason():
    p = CodecTokenizeParams()
    check_audio(tone(), spec(), p.silence_rms_db, p.max_clipped_fraction)
    with pytest.raises(SegmentRejected, match="silent"):
        check_audio(np.zeros(SR, np.float32), spec(), p.silence_rms_db, p.max_clipped_fraction)
    with pytest.raises(SegmentRejected, match="clipped"):
        check_audio(np.clip(tone(amp=3.0), -1, 1), spec(), p.silence_rms_db, p.max_clipped_fraction)
    with pytest.raises(SegmentRejected, match="short_audio"):
        check_audio(tone(0.5), spec(1.0), p.silence_rms_db, p.max_clipped_fraction)


def test_parts_are_merged_onto_one_piano(tmp_path):
    path = write_midi(tmp_path / "a.mid", [(40, [(72, 0.0, 0.5)]), (0, [(60, 0.0, 0.5), (64, 0.5, 1.0)])])
    data, end = piano_midi(path)
    rows = midi_rows(path, audio_seconds=1.2, max_mismatch_s=0.5)
    assert end == pytest.approx(1.0) and rows.shape == (3 + 2, 6)
    assert rows[0].tolist() == [1] * 6 and rows[-1].tolist() == [2] * 6
    assert sorted(rows[1:-1, 0].tolist()) == [60 - 17, 64 - 17, 72 - 17]  # every part, not only track 0
    merged = pretty_midi.PrettyMIDI(__import__("io").BytesIO(data))
    assert [i.program for i in merged.instruments] == [0]


def test_midi_checks_name_their_reason(tmp_path):
    with pytest.raises(SegmentRejected, match="length_mismatch"):
        midi_rows(write_midi(tmp_path / "long.mid", [(0, [(60, 0.0, 5.0)])]), 2.0, 1.0)
    with pytest.raises(SegmentRejected, match="no_notes"):
        midi_rows(write_midi(tmp_path / "empty.mid", [(0, [])]), 2.0, 1.0)
    with pytest.raises(SegmentRejected, match="no_notes"):  # only out-of-range pitches
        midi_rows(write_midi(tmp_path / "high.mid", [(0, [(120, 0.0, 0.5)])]), 2.0, 1.0)
    (tmp_path / "bad.mid").write_bytes(b"not midi")
    with pytest.raises(SegmentRejected, match="unreadable_midi"):
        midi_rows(tmp_path / "bad.mid", 2.0, 1.0)


def test_tokenize_one(tmp_path):
    codec = Codec(CodecConfig(n_filters=2, dimension=8, bins=16, n_q=2)).eval()
    sf.write(tmp_path / "x.flac", tone(1.0), SR)
    write_midi(tmp_path / "seg.mid", [(0, [(60, 0.0, 0.5), (67, 0.25, 0.9)])])
    p = CodecTokenizeParams()
    ok = tokenize_one(codec, spec(audio=str(tmp_path / "x.flac")), p, tmp_path)
    assert ok["ok"] and ok["codes"].shape == (2, 50) and ok["midi"].shape == (4, 6)
    assert ok["label"]["frames"] == 50 and ok["label"]["notes"] == 2
    bad_rate = tokenize_one(codec, spec(audio=str(tmp_path / "x.flac"), sr=22050), p, tmp_path)
    assert not bad_rate["ok"] and bad_rate["reason"] == "sample_rate"
    missing = tokenize_one(codec, spec(audio=str(tmp_path / "nope.flac")), p, tmp_path)
    assert missing["reason"] == "unreadable"
    sf.write(tmp_path / "quiet.flac", np.zeros(SR, np.float32), SR)
    assert tokenize_one(codec, spec(audio=str(tmp_path / "quiet.flac")), p, tmp_path)["reason"] == "silent"
