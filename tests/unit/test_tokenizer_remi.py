"""GnM-style REMI tokenizer: prefix tokens, tempo classes, save/reload, round trip."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit

pretty_midi = pytest.importorskip("pretty_midi")
pytest.importorskip("miditok")
pytest.importorskip("symusic")

from pipeline.gnm.remi import (  # noqa: E402
    RemiError,
    RemiTokenizer,
    average_bpm,
    composer_token,
    snap_tempo,
    tempo_class,
)

PARAMS = {
    "beat_res": {"0_4": 8, "4_12": 4},
    "num_velocities": 1,
    "use_time_signatures": True,
    "use_tempos": False,
    "pitch_range": [21, 109],
    "composers": ["bach", "beethoven", "chopin", "mozart"],
}


def _write_midi(path, *, tempo=100.0, pitches=(60, 64, 67, 72), bass=48):
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    melody = pretty_midi.Instrument(program=0, name="melody")
    step = 60.0 / tempo / 2  # eighth notes
    for k in range(16):
        p = pitches[k % len(pitches)]
        melody.notes.append(pretty_midi.Note(90, p, k * step, (k + 1) * step))
    lower = pretty_midi.Instrument(program=32, name="bass")
    lower.notes.append(pretty_midi.Note(90, bass, 0.0, 8 * step))
    pm.instruments += [melody, lower]
    pm.write(str(path))
    return 17  # notes written


@pytest.fixture(scope="module")
def tok():
    return RemiTokenizer(PARAMS)


def test_prefix_present_and_decoded_away(tok, tmp_path):
    midi = tmp_path / "a.mid"
    n_notes = _write_midi(midi, tempo=100.0)
    ids = tok.encode(midi, composer="Bach")
    names = tok.tokens(ids)
    assert names[0] == "Composer_bach"
    assert names[1] == "TempoClass_80"  # 100 BPM: tie between 80 and 120 -> slower
    assert names[2] == "BOS_None"
    assert names[-1] == "EOS_None"
    assert names[3] == "Bar_None"
    assert sum(n.startswith("Pitch_") for n in names) == n_notes
    assert not any(n.startswith("Velocity_") for n in names)  # num_velocities=1 -> none

    composer, cls, body = tok.split_prefix(ids)
    assert (composer, cls) == ("bach", 80)
    assert all(not tok.id_to_token[i].startswith(("Composer_", "TempoClass_")) for i in body)

    out = tmp_path / "back.mid"
    score = tok.decode(ids, out)
    assert out.is_file()
    assert score.note_num() == n_notes  # round trip keeps every note
    assert [round(t.qpm) for t in score.tempos] == [80]  # tempo restored from class

    # Composer_None for pre-training
    assert tok.tokens(tok.encode(midi))[0] == "Composer_None"


def test_round_trip_note_count_and_pitches(tok, tmp_path):
    import symusic

    midi = tmp_path / "b.mid"
    _write_midi(midi, tempo=150.0, pitches=(62, 65, 69, 74, 77))
    src = symusic.Score(str(midi))
    score = tok.decode(tok.encode(midi, composer="chopin"))
    got = sorted(int(p) for t in score.tracks for p in t.notes.numpy()["pitch"])
    want = sorted(int(p) for t in src.tracks for p in t.notes.numpy()["pitch"])
    assert got == want


@pytest.mark.parametrize(
    ("bpm", "cls"),
    [
        (20, 40),
        (40, 40),
        (59, 40),
        (61, 80),
        (99, 80),
        (100, 80),
        (101, 120),
        (120, 120),
        (139, 120),
        (141, 160),
        (240, 160),
        (0, 120),
    ],
)
def test_tempo_snapping(bpm, cls):
    assert snap_tempo(bpm) == cls


def test_tempo_class_is_time_weighted(tmp_path):
    import symusic

    score = symusic.Score(480)
    track = symusic.Track(name="x", program=0, is_drum=False)
    track.notes.append(symusic.Note(0, 480 * 16, 60, 80))  # 16 beats long
    score.tracks.append(track)
    score.tempos.append(symusic.Tempo(0, 60.0))  # 12 beats at 60
    score.tempos.append(symusic.Tempo(480 * 12, 180.0))  # 4 beats at 180
    assert average_bpm(score) == pytest.approx((60 * 12 + 180 * 4) / 16)  # 90
    assert tempo_class(score) == 80
    path = tmp_path / "t.mid"
    score.dump_midi(str(path))
    assert tempo_class(path) == 80
    no_tempo = symusic.Score(480)
    no_tempo.tracks.append(track)
    assert tempo_class(no_tempo) == 120  # MIDI default


def test_save_reload_equal_vocab_hash(tok, tmp_path):
    path = tok.save(tmp_path / "remi")
    assert path.name == "tokenizer.json" and path.is_file()
    again = RemiTokenizer.load(path)
    assert again.vocab_hash() == tok.vocab_hash()
    assert again.vocab == tok.vocab
    assert set(again.composers) == {"None", "bach", "beethoven", "chopin", "mozart"}
    midi = tmp_path / "c.mid"
    _write_midi(midi)
    assert again.encode(midi, composer="mozart") == tok.encode(midi, composer="mozart")
    # a different config gives a different hash
    assert RemiTokenizer({**PARAMS, "num_velocities": 32}).vocab_hash() != tok.vocab_hash()


def test_out_of_range_file_is_rejected(tok, tmp_path):
    midi = tmp_path / "low.mid"
    _write_midi(midi, bass=12)  # below A0 = 21
    with pytest.raises(RemiError, match="pitch out of range"):
        tok.encode(midi)
    lenient = RemiTokenizer({**PARAMS, "out_of_range": "drop_notes"})
    names = lenient.tokens(lenient.encode(midi))
    assert sum(n.startswith("Pitch_") for n in names) == 16  # the low note is dropped


def test_unknown_composer_and_bad_ids(tok):
    with pytest.raises(RemiError, match="unknown composer"):
        tok.composer_id("Palestrina")
    with pytest.raises(RemiError, match="not in the vocabulary"):
        tok.decode([len(tok) + 5])
    assert composer_token(None) == "Composer_None"
    assert composer_token("C.P.E. Bach") == "Composer_c-p-e-bach"
