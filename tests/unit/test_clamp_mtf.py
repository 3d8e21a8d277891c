"""CLaMP 2's MIDI path against upstream's own outputs (tests/unit/data/clamp_mtf.json, made by
running clamp2 @ a3ebc75 under mido 1.3.0: tests/unit/data/clamp_mtf_make.py): MTF text, M3 patch
ids, and the music feature under tiny weights both models load (spec clamp-mtf.md)."""

import json
from pathlib import Path

import mido
import numpy as np
import pytest
import torch
from clamp_mtf_weights import fill

import pipeline.clamp
from pipeline.clamp import mtf
from pipeline.clamp.patches import encode, segments

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

UPSTREAM = json.loads((Path(__file__).parent / "data" / "clamp_mtf.json").read_text())
PIECES = sorted(UPSTREAM["pieces"])


@pytest.fixture
def midi(tmp_path):
    def write(name: str) -> Path:
        p = tmp_path / f"{name}.mid"
        p.write_bytes(bytes.fromhex(UPSTREAM["pieces"][name]["midi_hex"]))
        return p

    return write


@pytest.fixture(scope="module")
def upstream_weights(tmp_path_factory):
    """The six-key .pth train_clamp2.py writes, holding the tiny weights upstream's model ran with."""
    path = tmp_path_factory.mktemp("clamp2") / "clamp2.pth"
    state = fill([(k, shape) for k, shape in UPSTREAM["state_keys"]])
    torch.save(
        {"model": state, "optimizer": {}, "lr_sched": {}, "epoch": 1, "best_epoch": 1, "min_eval_loss": 0.5}, path
    )
    return path


@pytest.mark.parametrize("name", PIECES)
def test_mtf_text_equals_upstream(midi, name):
    assert mtf(midi(name)) == UPSTREAM["pieces"][name]["mtf"]


@pytest.mark.parametrize("name", PIECES)
def test_patch_ids_equal_upstreams_patchilizer(name):
    want = np.array(UPSTREAM["pieces"][name]["patches"])
    got = encode(UPSTREAM["pieces"][name]["mtf"], 64)
    assert got.shape == want.shape and (got == want).all()


def test_features_equal_upstream_extraction(midi, upstream_weights):
    scorer = pipeline.clamp.load(upstream_weights)
    assert scorer.meta["kind"] == "clamp" and scorer.cfg.patch_length == UPSTREAM["tiny"]["patch_length"]
    for name in PIECES:
        got = scorer.music_features(pipeline.clamp.mtf(midi(name)))
        np.testing.assert_allclose(got, UPSTREAM["pieces"][name]["feature"], rtol=1e-4, atol=2e-6, err_msg=name)
    # the ABC path under the same weights, and a batch mixing both formats
    abc = UPSTREAM["abc"]
    np.testing.assert_allclose(scorer.music_features(abc["text"]), abc["feature"], rtol=1e-4, atol=2e-6)
    batch = scorer.music_features_batch([abc["text"], UPSTREAM["pieces"]["chorale_bwv286"]["mtf"]])
    np.testing.assert_allclose(batch[1], UPSTREAM["pieces"]["chorale_bwv286"]["feature"], rtol=1e-4, atol=2e-6)


def test_the_chorale_spans_several_overlapping_windows():
    n = len(UPSTREAM["pieces"]["chorale_bwv286"]["patches"])
    assert n > 2 * UPSTREAM["tiny"]["patch_length"] and n % UPSTREAM["tiny"]["patch_length"]


def test_dropped_messages_take_their_delta_times_with_them(midi):
    text = mtf(midi("conductor_multitrack"))
    assert "Conductor" not in text and "coda" not in text and "lyrics" not in text
    assert "\nset_tempo 600000 20\n" in text  # 200 ticks after the meter change, less the dropped text's 60
    raw = mtf(midi("raw_running_status_sysex"))
    assert "sysex" not in raw and "sequencer_specific" not in raw
    assert "\ncontrol_change 5 0 7 100\n" in raw  # the sysex before it carried 10 of its 15 ticks
    assert "\nnote_on 0 0 64 100\nnote_on 0 0 67 80\n" in raw  # running status resolved by the parser
    assert raw.count("end_of_track") == 1 and not raw.endswith("\n")


def test_mtf_patches_join_lines_of_one_type_within_the_patch():
    text = "ticks_per_beat 96\n" + "note_on 0 0 60 64\n" * 4 + "note_off 0 0 60 0\nnote 1\n"
    segs = segments(text)
    # "note_on 0 0 60 64\n" is 18 chars; each join adds 10 while the patch stays <= 62. Upstream's
    # type test is a prefix test: "note 1" joins the patch "note_off" opened (kept on purpose)
    assert segs == ["ticks_per_beat 96\n", "note_on 0 0 60 64" + "\t0 0 60 64" * 3 + "\n", "note_off 0 0 60 0\t1\n"]
    assert segments(text, patch_size=30)[1:3] == ["note_on 0 0 60 64\t0 0 60 64\n"] * 2  # two lines a patch
    # the bound: a joined patch of 62 characters (with its newline) fits 64 ids with BOS and EOS; 63 does not join
    first = "cc " + "1" * 29 + "\n"  # 33 characters
    fits, over = (
        segments(f"ticks_per_beat 1\n{first}cc {'2' * 28}\n"),
        segments(f"ticks_per_beat 1\n{first}cc {'2' * 29}\n"),
    )
    assert len(fits) == 2 and len(fits[1]) == 62 and len(over) == 3
    assert encode(f"ticks_per_beat 1\n{first}cc {'2' * 28}\n", 64)[2, -1] == 2
    assert segments("ticks_per_beat 1\nunknown_meta 97 (" + "1, " * 30 + "1) 0")[1][:13] == "unknown_meta "
    ids = encode("ticks_per_beat 1\nunknown_meta 97 (" + "1, " * 30 + "1) 0", 64)
    assert ids.shape == (4, 64) and 2 not in ids[2]  # a line past the patch loses its end marker
    assert segments("X:1\nticks_per_beat 1\n") == ["X:1\n"]  # MTF only when the first line says so


def test_bad_midi_gets_one_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.mid"):
        mtf(tmp_path / "missing.mid")
    (tmp_path / "junk.mid").write_bytes(b"MThd not really")
    with pytest.raises(ValueError, match=r"junk\.mid: not a MIDI file"):
        mtf(tmp_path / "junk.mid")
    two = mido.MidiFile(type=2)
    two.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60)]))
    two.save(tmp_path / "two.mid")
    with pytest.raises(ValueError, match=r"two\.mid: type-2"):
        mtf(tmp_path / "two.mid")


def test_mtf_is_a_stable_entry_point():
    assert "mtf" in pipeline.clamp.__all__ and pipeline.clamp.mtf is mtf and callable(mtf)
