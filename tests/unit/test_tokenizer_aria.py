"""Aria "abs" tokenizer: vocabulary layout, golden sequences on fixture MIDIs, round trips."""

from __future__ import annotations

import json
import random

import aria_golden as ag
import midi_fixtures as mf
import mido
import numpy as np
import pytest

from pipeline.aria.tokenizer import (
    AbsTokenizer,
    Piece,
    TokenizerError,
    augment,
    pitch_shift,
    read_notes,
    slice_notes,
    snap,
    tempo_scale,
    velocity_shift,
)

pytestmark = pytest.mark.unit

P = ("prefix", "instrument", "piano")


@pytest.fixture(scope="module")
def tok() -> AbsTokenizer:
    return AbsTokenizer()


def piano(pitch, vel, onset, dur):
    return [("piano", pitch, vel), ("onset", onset), ("dur", dur)]


# ---------------------------------------------------------------- vocabulary
def test_vocab_size_and_section_boundaries(tok):
    v = tok.vocab
    assert tok.vocab_size == len(v) == len(set(v)) == 17_727
    assert v[:6] == ["<S>", "<E>", "<P>", "<U>", "<D>", "<T>"]
    assert (tok.bos_id, tok.eos_id, tok.pad_id, tok.unk_id, tok.dim_id) == (0, 1, 2, 3, 4)
    assert v[6] == P
    assert v[15] == ("prefix", "instrument", "synth_lead")
    assert v[16] == ("prefix", "instrument", "drum")
    assert v[17] == ("prefix", "composer", "bach")
    assert v[29] == ("prefix", "form", "sonata")
    assert v[37:39] == [("prefix", "genre", "jazz"), ("prefix", "genre", "classical")]
    assert v[39] == ("piano", 0, 0) and v[40] == ("piano", 0, 10) and v[52] == ("piano", 1, 0)
    assert v[39 + 128 * 13] == ("organ", 0, 0)
    assert v[16_678] == ("synth_lead", 127, 120)
    assert v[16_679] == ("drum", 35) and v[16_725] == ("drum", 81)
    assert v[16_726] == ("dur", 0) and v[17_226] == ("dur", 5000)
    assert v[17_227] == ("onset", 0) and v[17_726] == ("onset", 4990)
    assert all(tok.tok_to_id[t] == i for i, t in enumerate(v))


def test_optional_extras_go_at_the_end(tok):
    ped = AbsTokenizer(include_pedal=True)
    both = AbsTokenizer(include_pedal=True, include_delimiter=True)
    delim = AbsTokenizer(include_delimiter=True)
    assert ped.vocab[:17_727] == tok.vocab and ped.vocab[17_727:] == ["<PED_ON>", "<PED_OFF>"]
    assert both.vocab[17_727:] == ["<PED_ON>", "<PED_OFF>", "<X>"]
    assert delim.vocab[17_727:] == ["<X>"]
    hashes = {t.config_hash() for t in (tok, ped, both, delim)}
    assert len(hashes) == 4 and AbsTokenizer().config_hash() == tok.config_hash()
    assert len(tok.config_hash()) == 16 and AbsTokenizer(include_drums=False).vocab == tok.vocab
    with pytest.raises(ValueError, match="unknown"):
        AbsTokenizer(time_step=20)


def test_encode_decode(tok):
    seq = [P, "<S>", ("piano", 60, 80), ["onset", 0], ("dur", 500), "<E>", ("piano", 60, 81)]
    ids = tok.encode(seq)
    assert ids[0] == 6 and ids[-1] == tok.unk_id
    assert tok.decode(ids[:-1]) == [P, "<S>", ("piano", 60, 80), ("onset", 0), ("dur", 500), "<E>"]
    assert tok.decode([np.int64(39), 10**6]) == [("piano", 0, 0), "<U>"]


# ---------------------------------------------------------------- snapping
@pytest.mark.parametrize(
    "value,expected", [(5, 0), (15, 20), (25, 20), (35, 40), (1235, 1240), (2495, 2490), (4996, 4990), (4994, 4990)]
)
def test_snap_onset_grid_tie_rule(tok, value, expected):
    assert snap(value, tok.onset_grid) == expected


def test_snap_depends_on_grid_and_velocity_rules(tok):
    assert snap(2495, tok.dur_grid) == 2500  # the binary-search path differs on the 501-grid
    assert [snap(v, tok.velocity_grid) for v in (75, 85, 127)] == [70, 90, 120]
    assert [tok.q_velocity(v) for v in (0, 1, 5, 6, 127)] == [0, 10, 10, 10, 120]
    assert [tok.q_duration(ms) for ms in (0, 4, 5, 7000)] == [10, 10, 10, 5000]


# ---------------------------------------------------------------- golden sequences
GOLDEN = {
    # 65 starts after the last tempo change, so ariautils measures its duration as
    # (1920 - 2400) ticks at 240 bpm + (2640 - 1920) at 60 bpm = -250 + 1500 ms (see tempo.py).
    "tempo_changes": [
        P,
        "<S>",
        *piano(60, 80, 0, 500),
        *piano(62, 80, 1000, 250),
        *piano(64, 80, 1250, 1250),
        *piano(65, 80, 2500, 1250),
        "<E>",
    ],
    # 64 closes before 60 on the same start tick, so it comes first (stable sort).
    "sustain_pedal": [
        P,
        "<S>",
        *piano(64, 60, 0, 50),
        *piano(60, 60, 0, 1500),
        *piano(72, 60, 200, 1300),
        *piano(67, 60, 1500, 200),
        *piano(62, 60, 2100, 900),
        *piano(48, 60, 2150, 850),
        "<E>",
    ],
    "multi_instrument": [
        P,
        ("prefix", "instrument", "strings"),
        ("prefix", "instrument", "drum"),
        "<S>",
        ("strings", 55, 100),
        ("onset", 0),
        ("dur", 1000),
        *piano(72, 50, 0, 500),
        ("drum", 36),
        ("onset", 0),
        ("drum", 42),
        ("onset", 250),
        # drum 20 (outside 35..81): ariautils writes ("drum", 20), which has no id; left out
        "<E>",
    ],
    "ignored_first": [P, "<S>", *piano(64, 80, 0, 100), "<E>"],
    "long_gaps": [
        P,
        "<S>",
        *piano(60, 80, 0, 100),
        "<T>",
        "<T>",
        *piano(62, 80, 2340, 100),
        "<T>",
        *piano(64, 80, 0, 100),
        *piano(65, 80, 10, 5000),
        "<E>",
    ],
    "velocities": [
        P,
        "<S>",
        *piano(60, 10, 0, 50),
        *piano(61, 120, 100, 50),
        *piano(62, 70, 200, 50),
        *piano(63, 90, 300, 50),
        *piano(64, 10, 400, 50),
        *piano(65, 60, 500, 50),
        "<E>",
    ],
    # ariautils' pairing: a note-off closes every open note of its pitch that started on another
    # tick (60+60 end together, so do the two 64s struck on one tick); 62's note-off on its own
    # onset tick makes ariautils forget it; 65 is never switched off.
    "overlapping": [
        P,
        "<S>",
        *piano(60, 80, 0, 300),
        *piano(60, 90, 100, 200),
        *piano(64, 70, 2000, 400),
        *piano(64, 100, 2000, 400),
        "<E>",
    ],
    # 1 tick = 5.2083 ms: 62.5 ms -> 62 -> 60; 5208 ms -> <T> + 210.
    "tpb96_no_tempo": [
        P,
        "<S>",
        *piano(60, 80, 0, 500),
        *piano(62, 80, 250, 60),
        *piano(64, 80, 520, 160),
        "<T>",
        *piano(65, 80, 210, 100),
        "<E>",
    ],
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_sequences(tok, tmp_path, name):
    assert tok.tokenize(getattr(mf, name)(tmp_path)) == GOLDEN[name]


# ---------------------------------------------------------------- recorded records
# Re-recorded with the ariautils-exact reader (tests/unit/aria_golden.py), whose default tokens
# on these same cases equal ariautils' own (test_aria_ariautils.py); this guards the rest.
MIDO_GOLDEN = json.loads(ag.GOLDEN.read_text())


@pytest.fixture(scope="module")
def golden_now(tmp_path_factory):
    return ag.records(tmp_path_factory.mktemp("golden"), MIDO_GOLDEN)


@pytest.mark.parametrize("name", sorted(MIDO_GOLDEN["cases"]))
def test_same_tokens_and_notes_as_recorded(golden_now, name):
    """Token ids (plain, with pedal, of a re-timed slice) and the notes' musical fields equal
    the recorded ones on the fixtures, music21-corpus pieces and seeded random files."""
    assert golden_now[name] == MIDO_GOLDEN["cases"][name]


def test_golden_covers_type0_pedals_tempo_maps_and_drums(tmp_path):
    """The random files exercise what the reader must get right: type-0 files (channels share
    a track), sustain pedal, tempo changes, drums, chords."""
    files = [mido.MidiFile(ag.fuzz_file(tmp_path, s)) for s in ag.FUZZ_SEEDS]
    msgs = [[m for tr in f.tracks for m in tr] for f in files]
    assert {f.type for f in files} == {0, 1}
    assert sum(any(m.type == "control_change" and m.control == 64 for m in ms) for ms in msgs) >= 4
    assert sum(sum(m.type == "set_tempo" for m in ms) > 1 for ms in msgs) >= 4
    assert sum(any(m.type == "note_on" and m.channel == 9 for m in ms) for ms in msgs) >= 2
    assert sum(case["n_notes"] for case in MIDO_GOLDEN["cases"].values()) > 8000


def test_overlapping_notes_paired_as_ariautils_pairs_them(tmp_path):
    """Where note-ons and note-offs are not one to one (symusic would pair them one to one)."""
    piece = read_notes(mf.overlapping(tmp_path))
    assert [(n.pitch, n.start_ms, n.end_ms, n.velocity) for n in piece.notes] == [
        (60, 0, 300, 80),
        (60, 100, 300, 90),
        (64, 2000, 2400, 70),
        (64, 2000, 2400, 100),
    ]


def test_accepts_midifile_piece_and_no_eos(tok, tmp_path):
    path = mf.tempo_changes(tmp_path)
    expected = GOLDEN["tempo_changes"]
    assert tok.tokenize(mido.MidiFile(path)) == expected
    assert tok.tokenize(read_notes(path), add_eos_tok=False) == expected[:-1]


def test_read_notes_piece(tmp_path):
    piece = read_notes(mf.sustain_pedal(tmp_path))
    held = piece.notes[1]
    assert (held.pitch, held.start_ms, held.end_ms, held.off_ms) == (60, 0, 1500, 400)
    assert {n.family for n in piece.notes} == {"piano"} and piece.notes[0].track == 0
    assert [(p.start_ms, p.end_ms) for p in piece.pedals] == [(100, 1500), (2000, 3000)]
    multi = read_notes(mf.multi_instrument(tmp_path))
    assert [n.family for n in multi.notes] == ["strings", "piano", "drum", "drum", "drum"]


def test_drums_can_be_excluded(tmp_path):
    toks = AbsTokenizer(include_drums=False).tokenize(mf.multi_instrument(tmp_path))
    assert toks == GOLDEN["multi_instrument"][:2] + GOLDEN["multi_instrument"][3:-5] + ["<E>"]


def test_pedal_tokens_when_enabled(tmp_path):
    ped = AbsTokenizer(include_pedal=True)
    toks = ped.tokenize(mf.sustain_pedal(tmp_path))
    assert toks[2:8] == [*piano(64, 60, 0, 50), *piano(60, 60, 0, 400)]  # durations not folded
    assert toks[8:10] == ["<PED_ON>", ("onset", 100)]
    assert toks.count("<PED_ON>") == toks.count("<PED_OFF>") == 2
    assert toks[-3:] == ["<PED_OFF>", ("onset", 3000), "<E>"]
    assert ped.tokenize(ped.detokenize(toks)) == toks
    assert tokens_valid(ped, toks)


def test_metadata_prefixes(tok, tmp_path):
    meta = {"composer": "Chopin", "form": "Etude", "genre": "JAZZ", "period": "romantic"}
    toks = tok.tokenize(mf.ignored_first(tmp_path), metadata=meta)
    assert toks[:5] == [
        P,
        ("prefix", "composer", "chopin"),
        ("prefix", "form", "étude"),
        ("prefix", "genre", "jazz"),
        "<S>",
    ]
    toks = tok.tokenize(mf.ignored_first(tmp_path), metadata={"composer": "Schumann"})
    assert toks[:2] == [P, "<S>"]


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "builder,match",
    [
        (mf.only_ignored, "no notes after removing ignored instruments"),
        (mf.empty, "no notes"),
        (mf.truncated, "truncated.mid"),
        (mf.bad_header, "bad_header.mid"),
    ],
)
def test_errors_name_the_file(tok, tmp_path, builder, match):
    path = builder(tmp_path)
    with pytest.raises(TokenizerError, match=match) as err:
        tok.tokenize(path)
    assert str(path) in str(err.value) and isinstance(err.value, ValueError)


# ---------------------------------------------------------------- round trip
def tokens_valid(t: AbsTokenizer, toks) -> bool:
    return t.unk_id not in t.encode(toks) and all(
        k != "other" or g[0] in t.vocab[:6] or g[0][0] == "prefix" for k, g in t.groups(toks)
    )


@pytest.mark.parametrize("builder", mf.ALL_VALID, ids=lambda b: b.__name__)
def test_round_trip_is_identity_after_first_quantization(tok, tmp_path, builder):
    first = tok.tokenize(builder(tmp_path))
    second = tok.tokenize(tok.detokenize(first))
    assert tok.tokenize(tok.detokenize(second)) == second
    assert second == first  # these fixtures have no order-changing ties


def test_detokenize_channels_programs_and_clock(tok, tmp_path):
    mid = tok.detokenize(GOLDEN["multi_instrument"])
    assert mid.ticks_per_beat == 500
    tempos = [m.tempo for tr in mid.tracks for m in tr if m.type == "set_tempo"]
    programs = {m.channel: m.program for tr in mid.tracks for m in tr if m.type == "program_change"}
    channels = [m.channel for tr in mid.tracks for m in tr if m.type == "note_on"]
    assert tempos == [500_000] and programs == {0: 40, 1: 0} and sorted(set(channels)) == [0, 1, 9]
    piano_ons = [(m.time, m.velocity) for m in mid.tracks[1] if m.type == "note_on"]
    assert piano_ons == [(0, 50)]
    assert abs(mid.length - 1.0) < 1e-6  # strings note ends at 1000 ms


# ---------------------------------------------------------------- <D> and slices
def test_dim_token_placement(tok, tmp_path):
    path = mf.long_piece(tmp_path)
    plain = tok.tokenize(path)
    assert "<D>" not in plain and len(plain) > 150
    for seed in range(25):
        toks = tok.tokenize(path, add_dim_tok=True, rng=random.Random(seed))
        i = toks.index("<D>")
        assert toks.count("<D>") == 1 and toks[:i] + toks[i + 1 :] == plain
        assert 90 - 2 <= len(plain) - i <= 110  # moved left at most 2 to a note boundary
        assert tok.kind(toks[i + 1]) not in ("onset", "dur")
    assert len(plain) - tok.tokenize(path, add_dim_tok=True).index("<D>") in (100, 101, 102)
    short = tok.tokenize(mf.long_piece(tmp_path, n=40), add_dim_tok=True)  # 123 tokens
    assert "<D>" not in short


def test_slice_notes_rebases_exactly(tok, tmp_path):
    piece = read_notes(mf.tempo_changes(tmp_path))
    part = slice_notes(piece, 2, 2)
    assert isinstance(part, Piece) and len(part) == 2
    assert [(n.start_ms, n.end_ms) for n in part.notes] == [(0, 1250), (1250, 2500)]  # as a file of its own
    expected = [P, "<S>", *piano(64, 80, 0, 1250), *piano(65, 80, 1250, 1250), "<E>"]
    assert tok.tokenize(part) == expected
    with pytest.raises(ValueError):
        slice_notes(piece, 4, 3)


# ---------------------------------------------------------------- augmentation
def test_pitch_and_velocity_shift(tok):
    seq = GOLDEN["multi_instrument"]
    up = pitch_shift(seq, 3)
    assert up[4] == ("strings", 58, 100) and up[7] == ("piano", 75, 50) and up[10] == ("drum", 36)
    assert pitch_shift([P, "<S>", *piano(126, 80, 0, 10), "<E>"], 5) == [P, "<S>", "<E>"]
    loud = velocity_shift(seq, 1)
    assert loud[4] == ("strings", 55, 110) and loud[7] == ("piano", 72, 60)
    edge = [*piano(60, 120, 0, 10), *piano(61, 10, 0, 10)]
    assert velocity_shift(edge, 1)[0] == ("piano", 60, 120)
    assert velocity_shift(edge, -1)[3] == ("piano", 61, 10)


def test_tempo_scale_tokens_and_piece(tok, tmp_path):
    seq = GOLDEN["long_gaps"]
    assert tempo_scale(seq, 1.0) == seq
    slow = tempo_scale(seq, 2.0)
    # Tokens hold 12,340 ms -> 24,680 (4 <T> + 4680); 15,000 -> 30,000; 15,010 -> 30,020.
    assert slow == [
        P,
        "<S>",
        *piano(60, 80, 0, 200),
        *["<T>"] * 4,
        *piano(62, 80, 4680, 200),
        "<T>",
        "<T>",
        *piano(64, 80, 0, 200),
        *piano(65, 80, 20, 5000),
        "<E>",
    ]
    # A Piece keeps unquantized times: 12,343 ms -> 24,686 -> onset 4690.
    piece = tempo_scale(read_notes(mf.long_gaps(tmp_path)), 2.0)
    assert tok.tokenize(piece) == slow[:10] + [("onset", 4690)] + slow[11:]


def test_augment_is_deterministic_and_valid(tok, tmp_path):
    seq = tok.tokenize(mf.multi_instrument(tmp_path))
    runs = [augment(seq, random.Random(seed)) for seed in range(30)]
    assert runs[0] == augment(seq, random.Random(0))
    assert augment(seq, np.random.default_rng(1)) == augment(seq, np.random.default_rng(1))
    assert len({tuple(r) for r in runs}) > 5
    for out in runs:
        assert tokens_valid(tok, out) and out[-1] == "<E>"
        notes = {t[0]: t for t in out if tok.kind(t) == "note"}  # mixup may reorder them
        shift = notes["strings"][1] - 55
        assert abs(shift) <= 5 and notes["piano"][1] - 72 == shift
        assert notes["strings"][2] - 100 == notes["piano"][2] - 50 in (-10, 0, 10)
        drums = [t for t in out if tok.kind(t) == "drum"]
        assert drums and {d[1] for d in drums} == {36, 42}
    piece = augment(read_notes(mf.long_piece(tmp_path)), random.Random(3))
    assert isinstance(piece, Piece) and tokens_valid(tok, tok.tokenize(piece))
