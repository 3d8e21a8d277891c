"""Synthesis path: prompt planning, pair checks, stitching, MIDI + prompt -> audio, the CLI."""

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import torch

from pipeline.cli import main
from pipeline.codec import Codec, CodecConfig
from pipeline.codec import save as save_codec
from pipeline.params.data import AcousticCondition
from pipeline.valle.checkpoint import CodecMismatch, save_valle
from pipeline.valle.data import PairError, check_pair
from pipeline.valle.held_out import baseline_condition
from pipeline.valle.midi_tokens import notes_to_tokens, tokens_to_notes
from pipeline.valle.model import Valle, ValleConfig
from pipeline.valle.plan import NoPromptError, plan
from pipeline.valle.synthesis import PromptTooShort, SynthesisOptions, joint_tokens, stitch, synthesize

pytestmark = pytest.mark.unit


def _rows():
    rows = []
    for rec, piece, cond, split in (
        ("A-dry", "A", "dry", "test"),
        ("A-hall", "A", "hall", "test"),
        ("B-hall", "B", "hall", "train"),
        ("C-dry", "C", "dry", "test"),
    ):
        for k in range(3):
            rows.append(
                {
                    "id": f"{rec}-{k:03d}",
                    "recording_id": rec,
                    "piece_id": piece,
                    "condition": cond,
                    "split": split,
                    "start": 5.0 * k,
                    "duration": 5.0,
                    "midi": f"{rec}-{k}.mid",
                }
            )
    return rows


def test_prompt_is_another_piece_in_the_other_condition():
    split, jobs = plan(_rows(), recordings=3, max_segments=5, seed=0)
    assert split == "test" and sum(len(j["segments"]) for j in jobs) == 5
    for j in jobs:
        tgt, pr = j["segments"][0], j["prompt"]
        assert pr["recording_id"] != tgt["recording_id"]
        if j["relation"] == "other_piece_other_condition":
            assert pr["piece_id"] != tgt["piece_id"] and pr["condition"] != tgt["condition"]
    by = {j["recording_id"]: j for j in jobs}
    if "A-dry" in by:
        assert by["A-dry"]["prompt"]["recording_id"] == "B-hall"
    only = [r for r in _rows() if r["recording_id"] in ("A-dry", "A-hall")]
    _, jobs = plan(only, 1, 5, 0)
    assert jobs[0]["relation"] == "same_piece_other_condition"
    with pytest.raises(NoPromptError):
        plan([r for r in _rows() if r["recording_id"] == "A-dry"], 1, 5, 0)


def test_real_recordings_prompt_with_a_baseline_in_the_first_fluidsynth_condition():
    """render_audio.real_recordings: every recording is condition 'real', which FluidSynth cannot
    render; the baseline takes the first configured condition (named in the index), not a KeyError."""
    real = [r | {"condition": "real"} for r in _rows()]
    _, jobs = plan(real, recordings=1, max_segments=2, seed=0)
    assert jobs[0]["relation"] == "other_piece_same_condition"
    conditions = {"hall": AcousticCondition(soundfont="default"), "dry": AcousticCondition(soundfont="default")}
    assert baseline_condition("real", conditions) == "hall"
    assert baseline_condition("dry", conditions) == "dry"
    with pytest.raises(ValueError, match="render_audio.conditions is empty"):
        baseline_condition("real", {})


def test_pairs_are_checked_and_cut():
    notes = [(0, 96, 60, 81), (192 * 3, 96, 62, 81)]  # onsets 0 s and 3 s
    midi = notes_to_tokens(notes)
    codes = np.zeros((4, 200), dtype=np.int64)  # 4 s at 50 frames/s
    item = check_pair(midi, codes, 50.0, 4, max_frames=100, max_tail_s=4.0)  # cut at 2 s
    assert item.codes.shape == (4, 100) and tokens_to_notes(item.midi) == notes[:1]
    with pytest.raises(PairError, match="length_mismatch"):
        check_pair(midi, codes[:, :50], 50.0, 4, max_frames=1000, max_tail_s=4.0)  # note after the audio
    with pytest.raises(PairError, match="length_mismatch"):
        check_pair(midi, np.zeros((4, 1000)), 50.0, 4, max_frames=1000, max_tail_s=4.0)  # 20 s of audio
    with pytest.raises(PairError, match="codebooks"):
        check_pair(midi, codes[:2], 50.0, 4, max_frames=1000, max_tail_s=4.0)
    with pytest.raises(PairError, match="no_notes"):
        check_pair(notes_to_tokens([]), codes, 50.0, 4, max_frames=1000, max_tail_s=4.0)


def test_joint_tokens_and_stitch():
    tok = joint_tokens([(0, 1000, 60, 81), (700, 10, 61, 81)], [(0, 50, 64, 81)], prompt_ticks=576)
    assert tokens_to_notes(tok) == [(0, 576, 60, 81), (576, 50, 64, 81)]  # cut at the prompt's end
    sr = 100
    out = stitch([(0.0, 1.0, np.ones(120)), (1.0, 1.0, np.ones(80))], sr, 0.1)
    assert len(out) == 210 and out[50] == 1.0 and out[150] == 1.0 and out[195] == 0.0
    assert np.allclose(out[100:110], 1.0, atol=0.12)  # fade-out + fade-in overlap sums to ~1


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    codec = Codec(CodecConfig.from_name("tiny")).eval()
    model = Valle(ValleConfig(d_model=32, nhead=2, n_layers=1, audio_bins=codec.bins)).eval()
    model.codec_info = {"sample_rate": codec.sample_rate, "frame_rate": codec.frame_rate}
    return model, codec


def test_synthesize_and_named_errors(tiny):
    model, codec = tiny
    prompt = np.random.default_rng(0).normal(size=(2, 44100 * 2)).astype(np.float32) * 0.1  # stereo 44.1k
    notes = [(0, 96, 60, 81), (96, 96, 64, 81)]
    wave, info = synthesize(model, codec, notes, 1.0, prompt, 44100, notes, SynthesisOptions(max_length_factor=1.0))
    assert info["prompt_frames"] == 100 and info["frames"] <= 50
    assert len(wave) == info["frames"] * 320
    with pytest.raises(PromptTooShort):
        synthesize(model, codec, notes, 1.0, prompt[:, :4410], 44100, notes, SynthesisOptions())
    other = Valle(ValleConfig(d_model=32, nhead=2, n_layers=1, n_quantizers=2, audio_bins=codec.bins))
    with pytest.raises(CodecMismatch, match="codebooks"):
        synthesize(other, codec, notes, 1.0, prompt, 44100, notes, SynthesisOptions())


def _midi_file(path, seconds, tempo=90.0):
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    inst = pretty_midi.Instrument(0)
    t = 0.0
    while t < seconds - 0.3:
        inst.notes.append(pretty_midi.Note(80, 60 + int(t * 3) % 12, t, t + 0.25))
        t += 0.25
    pm.instruments.append(inst)
    pm.write(str(path))


def test_cli_synthesize(tiny, tmp_path, capsys):
    model, codec = tiny
    save_valle(
        model,
        tmp_path / "valle" / "model.safetensors",
        codec={"sample_rate": codec.sample_rate, "frame_rate": codec.frame_rate},
    )
    save_codec(codec, tmp_path / "codec")
    _midi_file(tmp_path / "target.mid", 3.0)
    _midi_file(tmp_path / "prompt.mid", 2.0)
    sf.write(tmp_path / "prompt.wav", np.random.default_rng(1).normal(size=(44100 * 2, 2)) * 0.05, 44100)
    args = [
        "synthesize",
        str(tmp_path / "target.mid"),
        "--prompt-wav",
        str(tmp_path / "prompt.wav"),
        "--prompt-midi",
        str(tmp_path / "prompt.mid"),
        "--checkpoint",
        str(tmp_path / "valle"),
        "--codec",
        str(tmp_path / "codec"),
        "--segment-seconds",
        "2",
        "--out",
        str(tmp_path / "o.wav"),
        "--force",  # the prompt checks below rerun onto the same output
    ]
    assert main(args) == 0
    audio, sr = sf.read(tmp_path / "o.wav")
    assert sr == 16000 and audio.ndim == 1
    sf.write(tmp_path / "short.wav", np.zeros(4410), 44100)
    assert main(args[:3] + [str(tmp_path / "short.wav")] + args[4:]) == 2
    assert "the audio prompt is 0.10 s" in capsys.readouterr().err
    sf.write(tmp_path / "long.wav", np.zeros(44100 * 9), 44100)
    assert main(args[:3] + [str(tmp_path / "long.wav")] + args[4:]) == 2
    assert "MIDI lasts" in capsys.readouterr().err
