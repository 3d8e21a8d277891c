"""``ostinato synthesize`` and ``ostinato prompt cut``: every input and output is checked before the
models load (missing files, silent or clipped prompts, MIDI without notes named by role, outputs
that exist or lie inside a DVC output), several targets per call, upstream's flag names, and a
matched prompt pair cut from a render that synthesize then accepts. ``data check FILE``."""

import gzip
import json

import mido
import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import torch

from pipeline.cli import build_parser, main
from pipeline.codec import Codec, CodecConfig
from pipeline.codec import save as save_codec
from pipeline.valle.checkpoint import save_valle
from pipeline.valle.model import Valle, ValleConfig

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]


def midi_file(path, seconds, pitch=60):
    pm = pretty_midi.PrettyMIDI(initial_tempo=100.0)
    inst = pretty_midi.Instrument(0)
    t = 0.0
    while t < seconds - 0.3:
        inst.notes.append(pretty_midi.Note(80, pitch + int(t * 3) % 12, t, t + 0.25))
        t += 0.25
    pm.instruments.append(inst)
    pm.write(str(path))
    return path


def noise(path, seconds, sr=22050, amp=0.05, seed=1):
    sf.write(path, np.random.default_rng(seed).normal(size=(int(seconds * sr), 2)) * amp, sr)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    codec = Codec(CodecConfig.from_name("tiny")).eval()
    model = Valle(ValleConfig(d_model=32, nhead=2, n_layers=1, audio_bins=codec.bins)).eval()
    info = {"sample_rate": codec.sample_rate, "frame_rate": codec.frame_rate}
    save_valle(model, d / "valle" / "model.safetensors", codec=info)
    save_codec(codec, d / "codec")
    return d / "valle", d / "codec"


@pytest.fixture
def case(tmp_path, models, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OSTINATO_ROOT", str(tmp_path))
    midi_file(tmp_path / "a.mid", 1.5)
    midi_file(tmp_path / "b.mid", 1.2, pitch=48)
    midi_file(tmp_path / "p.mid", 2.0)
    noise(tmp_path / "p.wav", 2.0)
    return tmp_path


def args(*extra, ckpt=None, codec=None, wav="p.wav", mid="p.mid"):
    return ["synthesize", *extra, "--prompt-wav", str(wav), "--prompt-midi", str(mid)] + [
        "--checkpoint",
        str(ckpt),
        "--codec",
        str(codec),
        "--segment-seconds",
        "2",
    ]


def refused(argv, capsys, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err
    return err


def test_refusals_come_before_the_models_load(case, capsys):
    # an empty checkpoint folder: loading it would fail, so each error below was raised before the load
    (case / "empty").mkdir()
    (case / "silent.wav").write_bytes(b"")
    sf.write(case / "silent.wav", np.zeros((44100, 1)), 22050)
    kw = {"ckpt": case / "empty", "codec": case / "empty"}
    refused(args("a.mid", wav="missing.wav", **kw), capsys, "--prompt-wav missing.wav", "no such file")
    refused(args("nope.mid", **kw), capsys, "MIDI nope.mid", "no such file")
    refused(args("a.mid", wav="silent.wav", **kw), capsys, "silent.wav", "silent", "-inf dBFS")
    # no notes: the file is named, and which role it plays
    empty = pretty_midi.PrettyMIDI()
    empty.instruments.append(pretty_midi.Instrument(0))
    empty.write(str(case / "empty.mid"))
    zero = mido.MidiFile(type=1)
    zero.save(str(case / "zero.mid"))
    refused(args("empty.mid", **kw), capsys, "target MIDI empty.mid", "no_notes")
    refused(args("zero.mid", **kw), capsys, "target MIDI zero.mid")
    refused(args("a.mid", mid="empty.mid", **kw), capsys, "prompt MIDI (first 3 s) empty.mid", "no_notes")
    # outputs
    refused(args("a.mid", "b.mid", "--out", "x.wav", **kw), capsys, "--out names one file", "2 MIDI")
    refused(args("a.mid", "--out", "x.mp3", **kw), capsys, "x.mp3", ".wav or .flac")
    (case / "dvc.yaml").write_text("stages:\n  segment:\n    cmd: x\n    outs:\n      - data/segment\n")
    refused(args("a.mid", "--out-dir", "data/segment/midi", **kw), capsys, "inside the DVC output data/segment")
    refused(args("a.mid", "--out-dir", "data/mine", **kw), capsys, "inside data/, which holds DVC outputs only")
    assert not (case / "data").exists()
    # a checkout elsewhere: its own dvc.yaml is found from the output path
    (case / "other").mkdir()
    (case / "other/dvc.yaml").write_text("stages:\n  ingest:\n    cmd: x\n    outs:\n      - data/ingest\n")
    refused(args("a.mid", "--out-dir", "other/data/ingest/x", **kw), capsys, "inside the DVC output data/ingest")
    refused(args("a.mid", mid="p.mid|q.mid", **kw), capsys, "--midi-prompts p.mid|q.mid", "one prompt per call")


def test_every_option_has_help_and_upstream_names_are_listed():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    parsers = {
        "synthesize": sub["synthesize"],
        "prompt cut": sub["prompt"]._actions[-1].choices["cut"],
        "data check": sub["data"]._actions[-1].choices["check"],
    }
    for name, p in parsers.items():
        missing = [a.option_strings or a.dest for a in p._actions if a.help is None]
        assert not missing, f"{name}: options without help: {missing}"
    text = sub["synthesize"].format_help()
    assert "upstream names" in text
    for flag in ("--midi-prompts", "--audio-prompts", "--audio-tokenizer", "--output-dir", "--output-file"):
        assert flag in text


def test_several_targets_upstream_names_and_no_overwrite(case, models, capsys):
    ckpt, codec = models
    up = ["--midi", "a.mid|b.mid", "--audio-prompts", "p.wav", "--midi-prompts", "p.mid"]
    up += ["--checkpoint", str(ckpt), "--audio-tokenizer", str(codec), "--segment-seconds", "2"]
    up += ["--output-dir", "new/dir", "--output-file", "take", "--top-k", "-100"]
    assert main(["synthesize", *up]) == 0, capsys.readouterr().err
    outs = [case / "new/dir/take_0.wav", case / "new/dir/take_1.wav"]
    lengths = [sf.info(o).duration for o in outs]
    assert lengths[0] == pytest.approx(1.5, abs=0.3) and lengths[1] == pytest.approx(1.2, abs=0.3)
    before = [o.read_bytes() for o in outs]
    refused(["synthesize", *up], capsys, "take_0.wav exists", "--force")
    assert [o.read_bytes() for o in outs] == before
    assert main(["synthesize", *up, "--force", "--seed", "3"]) == 0
    # the default folder, positional MIDI
    capsys.readouterr()
    assert main(args("a.mid", ckpt=ckpt, codec=codec)) == 0
    assert (case / "out/synthesize/a__prompt-p.wav").is_file()
    assert not list(case.rglob(".*.tmp.*"))


def test_clipped_prompt_is_a_warning(case, models, capsys):
    ckpt, codec = models
    sf.write(case / "loud.wav", np.clip(np.random.default_rng(0).normal(size=44100) * 2, -1, 1), 22050)
    assert main(args("a.mid", "--out", "o.wav", wav="loud.wav", ckpt=ckpt, codec=codec)) == 0
    err = capsys.readouterr().err
    assert "warning: loud.wav" in err and "clipped" in err
    assert (case / "o.wav").is_file()


def render_tree(root, seconds=6.0):
    """A data/render_audio as the stage writes it: a FLAC, its ingest MIDI, the cuts naming both."""
    (root / "data/ingest/midi").mkdir(parents=True)
    (root / "data/render_audio/audio/piano_dry").mkdir(parents=True)
    midi_file(root / "data/ingest/midi/piece.mid", 10.0)
    flac = root / "data/render_audio/audio/piano_dry/piece__piano_dry.flac"
    sf.write(flac, np.random.default_rng(2).normal(size=int(seconds * 16000)) * 0.1, 16000)
    cut = {
        "id": "piece__piano_dry-0",
        "recording": {"sources": [{"source": "data/render_audio/audio/piano_dry/piece__piano_dry.flac"}]},
        "supervisions": [{"custom": {"midi": "data/ingest/midi/piece.mid", "condition": "piano_dry"}}],
    }
    with gzip.open(root / "data/render_audio/cuts.jsonl.gz", "wt") as f:
        f.write(json.dumps(cut) + "\n")
    (root / "dvc.yaml").write_text("stages:\n  render_audio:\n    cmd: x\n    outs:\n      - data/render_audio\n")
    return flac


def test_prompt_cut_makes_a_pair_synthesize_accepts(case, models, capsys):
    ckpt, codec = models
    flac = render_tree(case)
    assert main(["prompt", "cut", str(flac), "--start", "1", "--seconds", "3", "--out", "prompts"]) == 0
    wav, mid = case / "prompts/piece__piano_dry.wav", case / "prompts/piece__piano_dry.mid"
    assert sf.info(wav).duration == pytest.approx(3.0, abs=1e-3)
    cut_notes = pretty_midi.PrettyMIDI(str(mid)).instruments[0].notes
    src_notes = [n for n in pretty_midi.PrettyMIDI(str(case / "data/ingest/midi/piece.mid")).instruments[0].notes]
    inside = [n for n in src_notes if min(n.end, 4) - max(n.start, 1) > 1e-3]
    assert len(cut_notes) == len(inside) and cut_notes[0].pitch == inside[0].pitch
    assert cut_notes[-1].end <= 3.0 + 1e-6
    refused(["prompt", "cut", str(flac), "--out", "prompts"], capsys, "exists", "--force")
    refused(["prompt", "cut", str(flac), "--start", "5", "--out", "p2"], capsys, "lasts 6.00 s")
    refused(["prompt", "cut", str(flac), "--out", "data/render_audio/p"], capsys, "inside the DVC output")
    refused(["prompt", "cut", "p.wav", "--out", "p3"], capsys, "p.wav is not a recording of", "--midi")
    capsys.readouterr()
    assert main(args("a.mid", "--out", "o.wav", wav=wav, mid=mid, ckpt=ckpt, codec=codec)) == 0


def test_data_check_a_file(case, capsys):
    midi_file(case / "long.mid", 4.0)
    assert main(["data", "check", "long.mid"]) == 0
    assert "1 accepted, 0 rejected" in capsys.readouterr().out
    mido.MidiFile(type=1).save(str(case / "zero.mid"))
    assert main(["data", "check", "zero.mid"]) == 1
    assert "REJECT zero.mid: no_notes the file has no tracks" in capsys.readouterr().out
    refused(["data", "check", "nothing"], capsys, "nothing: no such file or folder")
