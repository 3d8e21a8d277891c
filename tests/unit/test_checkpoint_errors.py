"""Every entry point that loads weights, fed the same bad files, answers with exit code 2 and one
stderr line naming the file and the cause (never a traceback, never torch's weights_only advice).

The bad files: empty, a MIDI file renamed, a truncated download, a pickle whose unpickling would
call os.system (it must never run: a marker file proves it), and a checkpoint of another family;
each as a file and, where the loader takes one, inside a model folder.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import torch

from pipeline.cli import main

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

ADVICE = ("weights_only` set to `False`", "weights_only=False", "will likely succeed", "Traceback")


class _RunsCode:
    """Unpickling this calls os.system(cmd): the refusal must come before any of it runs."""

    def __init__(self, cmd: str):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def _midi(path, seconds=2.0):
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    inst = pretty_midi.Instrument(0)
    inst.notes = [pretty_midi.Note(80, 60 + i % 12, i * 0.25, i * 0.25 + 0.2) for i in range(int(seconds * 4) - 1)]
    pm.instruments.append(inst)
    pm.write(str(path))
    return path


def _half(src, dst):
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


def _in_folder(root, name, file, as_name, extra=()):
    folder = root / name
    folder.mkdir()
    shutil.copy(file, folder / as_name)
    for f in extra:
        shutil.copy(f, folder / f.name)
    return folder


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from pipeline.aria.model import ModelConfig, build
    from pipeline.aria.model import save as save_aria
    from pipeline.aria.tokenizer import AbsTokenizer
    from pipeline.codec import Codec, CodecConfig
    from pipeline.codec import save as save_codec
    from pipeline.gnm.checkpoint import save as save_gnm
    from pipeline.gnm.model import GnmConfig, GnmDecoder
    from pipeline.gnm.vocab import Vocab
    from pipeline.notagen.checkpoint import save as save_notagen
    from pipeline.notagen.checkpoint import save_upstream
    from pipeline.notagen.model import NotaGenConfig, NotaGenModel
    from pipeline.valle.checkpoint import save_valle
    from pipeline.valle.model import Valle, ValleConfig

    root = tmp_path_factory.mktemp("bad")
    torch.manual_seed(0)
    f = {"root": root, "marker": root / "PWNED"}
    tok = AbsTokenizer()
    aria = build(ModelConfig(d_model=32, n_heads=2, n_layers=1, vocab_size=tok.vocab_size, max_seq_len=64))
    f["aria"] = save_aria(aria, root / "aria" / "model.safetensors", metadata={"tokenizer_hash": tok.config_hash()})
    notagen = NotaGenModel(NotaGenConfig(hidden=64, patch_layers=1, char_layers=1, patch_length=32))
    f["notagen"] = save_notagen(notagen, root / "notagen")
    f["notagen_pth"] = save_upstream(notagen, root / "notagen.pth")
    vocab = Vocab.build(["Composer_None", "Tempo_80", "BOS_None", "Bar_None", "EOS_None", "Beat_0"])
    gnm = GnmDecoder(GnmConfig(len(vocab), d_model=16, n_heads=2, n_layers=2, d_ff=32, d_word_embed=16))
    save_gnm(gnm, root / "gnm", vocab, mode="mastery", composers=["Bach"])
    f["gnm"], f["gnm_params"] = root / "gnm", root / "gnm" / "params.pt"
    codec = Codec(CodecConfig.from_name("tiny")).eval()
    f["codec"] = save_codec(codec, root / "codec")
    valle = Valle(ValleConfig(d_model=32, nhead=2, n_layers=1, audio_bins=codec.bins))
    f["valle"] = save_valle(valle, root / "valle.safetensors", codec={"sample_rate": codec.sample_rate})
    # the bad files
    f["empty.safetensors"] = root / "empty.safetensors"
    f["empty.safetensors"].write_bytes(b"")
    f["empty.pt"] = root / "empty.pt"
    f["empty.pt"].write_bytes(b"")
    f["song.mid"] = _midi(root / "song.mid")
    f["midi.safetensors"] = shutil.copy(f["song.mid"], root / "midi.safetensors")
    f["midi.pt"] = shutil.copy(f["song.mid"], root / "midi.pt")
    f["truncated.safetensors"] = _half(f["notagen"], root / "truncated.safetensors")
    f["truncated.pt"] = _half(f["notagen_pth"], root / "truncated.pt")
    torch.save({"model": _RunsCode(f"touch {f['marker']}")}, root / "evil.pt")
    f["evil.pt"] = root / "evil.pt"
    # targets and a prompt pair for synthesize
    f["prompt.mid"] = _midi(root / "prompt.mid", 2.0)
    sf.write(root / "prompt.wav", np.random.default_rng(1).normal(size=(44100 * 2,)) * 0.05, 44100)
    f["prompt.wav"] = root / "prompt.wav"
    return f


# ---------------------------------------------------------------------------- the entry points
def _generate(family, *extra):
    def argv(ckpt, f):
        return ["generate", "--family", family, "--checkpoint", ckpt, *extra, "--save-dir", f["root"] / "out"]

    return argv


def _embed(ckpt, f):
    return ["embed", f["song.mid"], "--checkpoint", ckpt]


def _synthesize(ckpt, f, codec=None):
    return [
        "synthesize",
        f["song.mid"],
        "--prompt-wav",
        f["prompt.wav"],
        "--prompt-midi",
        f["prompt.mid"],
        "--checkpoint",
        ckpt if codec is None else f["valle"],
        "--codec",
        f["codec"] if codec is None else codec,
        "--out",
        f["root"] / "synth" / "o.wav",
    ]


def _codec(ckpt, f):
    return _synthesize(None, f, codec=ckpt)


ENTRY = {
    "aria": _generate("aria"),
    "embed": _embed,
    "gnm": _generate("gnm", "--composer", "bach"),
    "notagen": _generate("notagen", "--no-prompt", "--no-audio", "--max-chars", "16"),
    "valle": _synthesize,
    "codec": _codec,
}
# what each entry point takes: (bad file, how it is passed: "file" or the model-folder name it sits under)
SAFETENSORS = [
    ("empty.safetensors", "file", r"empty \(0 bytes\)"),
    ("midi.safetensors", "file", "is a MIDI file"),
    ("truncated.safetensors", "file", "truncated"),
    ("evil.pt", "file", "torch zip file"),
    ("empty.safetensors", "model.safetensors", r"empty \(0 bytes\)"),
    ("midi.safetensors", "model.safetensors", "is a MIDI file"),
    ("truncated.safetensors", "model.safetensors", "truncated"),
]
PICKLES = [
    ("empty.pt", "file", r"empty \(0 bytes\)"),
    ("midi.pt", "file", "is a MIDI file"),
    ("truncated.pt", "file", "truncated"),
    ("evil.pt", "file", "holds code we will not run .*posix.system"),
]
CASES = {
    "aria": SAFETENSORS
    + [("notagen", "file", "not an Aria checkpoint"), ("gnm_params", "folder", "not an Aria model")],
    "embed": SAFETENSORS
    + [("notagen", "file", "not an Aria embedding model"), ("gnm_params", "folder", "not an Aria model")],
    "gnm": PICKLES
    + [(c[0], "params.pt", c[2]) for c in PICKLES]
    + [("notagen_pth", "file", "not a GnM checkpoint"), ("aria", "folder", "not a GnM model")],
    "notagen": SAFETENSORS[:3] + SAFETENSORS[4:] + PICKLES + [("aria", "file", "not a NotaGen state dict")],
    "valle": SAFETENSORS[:3] + SAFETENSORS[4:] + PICKLES + [("notagen", "file", "not an ostinato VALL-E file")],
    "codec": [(c[0], "codec/model.safetensors", c[2]) for c in SAFETENSORS[:3]]
    + PICKLES
    + [("aria", "folder", "no config.json .expected our codec dir")],
}


def _bad_path(f, tmp_path, name, how):
    src = f[name]
    if how == "file":
        return src
    if how == "folder":
        return src.parent
    if how == "params.pt":  # a GnM model folder whose weights are bad
        folder = tmp_path / "gnm_model"
        shutil.copytree(f["gnm"], folder)
        shutil.copy(src, folder / "params.pt")
        return folder / "params.pt", folder
    if how == "codec/model.safetensors":  # our codec folder with bad weights
        folder = tmp_path / "codec_model"
        shutil.copytree(f["codec"], folder)
        shutil.copy(src, folder / "model.safetensors")
        return folder / "model.safetensors", folder
    folder = _in_folder(tmp_path, "model", src, how)
    return folder / how, folder


@pytest.mark.parametrize(
    "entry,name,how,cause",
    [(e, *c) for e, cases in CASES.items() for c in cases],
    ids=[f"{e}-{c[0]}-{c[1].split('/')[-1]}" for e, cases in CASES.items() for c in cases],
)
def test_bad_checkpoint_is_one_line_naming_file_and_cause(files, tmp_path, capsys, entry, name, how, cause):
    import re

    bad = _bad_path(files, tmp_path, name, how)
    named, given = (bad, bad) if not isinstance(bad, tuple) else bad
    code = main([str(a) for a in ENTRY[entry](given, files)])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("ostinato ") and ": error: " in lines[0], err
    assert str(named) in lines[0] or named.name in lines[0], err
    assert re.search(cause, lines[0]), err
    assert not any(a in err for a in ADVICE), err
    assert not files["marker"].exists(), "the pickle's code ran"


def test_the_malicious_pickle_never_runs_anywhere(files):
    """Every loader refused evil.pt above; the marker its os.system call would write is absent."""
    from pipeline.train.checkpoint_files import CheckpointFileError, torch_load_weights

    with pytest.raises(CheckpointFileError, match="references posix.system"):
        torch_load_weights(files["evil.pt"])
    assert not files["marker"].exists()
    assert torch_load_weights(files["notagen_pth"])["epoch"] == 0  # a plain file still loads


def test_save_dir_that_is_a_file_is_named_before_any_work(files, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("x")
    for target in (taken, taken / "sub"):
        code = main(
            ["generate", "--family", "gnm", "--checkpoint", str(files["gnm"]), "--composer", "bach"]
            + ["--save-dir", str(target)]
        )
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and str(taken) in err and "is a file" in err, err


def test_gnm_config_json_without_kind_is_not_a_gnm_model(tmp_path, capsys):
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "encodec"}))
    (folder / "params.pt").write_bytes(b"")
    code = main(["generate", "--family", "gnm", "--checkpoint", str(folder), "--composer", "bach"])
    err = capsys.readouterr().err
    assert code == 2 and "is not a GnM model" in err and str(folder) in err


@pytest.mark.parametrize("name,cause", [(n, c) for n, _, c in PICKLES])
def test_clamp_scorer_loader_names_the_same_causes(files, name, cause):
    """The CLaMP scorer has no CLI of its own (stages load it): the same file check, directly."""
    import re

    from pipeline.clamp import CheckpointError, load

    with pytest.raises(CheckpointError) as e:
        load(files[name])
    assert str(files[name]) in str(e.value) and re.search(cause, str(e.value)) and "\n" not in str(e.value)
    assert not any(a in str(e.value) for a in ADVICE)


def test_bad_gnm_dictionary_is_one_line(files, tmp_path, capsys):
    import pickle

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(({"a": 0}, _RunsCode(f"touch {files['marker']}"))))
    (tmp_path / "vocab.json").write_bytes(b"")
    cases = {
        shutil.copy(files["empty.pt"], tmp_path / "empty.pkl"): r"not a pickled dictionary: the file is empty",
        shutil.copy(files["midi.pt"], tmp_path / "midi.pkl"): r"not a pickled dictionary: it is a MIDI file",
        tmp_path / "vocab.json": r"not a vocabulary: the file is empty",
        tmp_path / "evil.pkl": r"references posix.system.*refusing to load it",
    }
    for vocab, cause in cases.items():
        code = main(
            ["generate", "--family", "gnm", "--checkpoint", str(files["gnm_params"]), "--composer", "bach"]
            + ["--vocab", str(vocab), "--save-dir", str(tmp_path / "o")]
        )
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1 and str(vocab) in err, err
        assert __import__("re").search(cause, err), err
    assert not files["marker"].exists()
