"""``ostinato generate``: each bad input is a named error; a tiny random checkpoint generates MIDI."""

import mido
import pytest
import torch

from pipeline.aria.checkpoints import load_model
from pipeline.aria.continue_ import Sampling, continue_prompt
from pipeline.aria.load import CheckpointError
from pipeline.aria.model import ModelConfig, build, save
from pipeline.aria.prompt import prompt_tokens, read_prompt
from pipeline.aria.tokenizer import AbsTokenizer
from pipeline.cli import main
from pipeline.sample.sampling import SamplingError

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

TOK = AbsTokenizer()


def checkpoint(path, vocab=TOK.vocab_size, max_seq_len=512, seed=0):
    torch.manual_seed(seed)
    model = build(ModelConfig(d_model=32, n_heads=2, n_layers=1, vocab_size=vocab, max_seq_len=max_seq_len))
    return save(model, path, metadata={"tokenizer_hash": TOK.config_hash()} if vocab == TOK.vocab_size else None)


def prompt_midi(path, n_notes=12):
    from midi_fixtures import note, write

    events = [e for i in range(n_notes) for e in note(i * 250, i * 250 + 240, 60 + i % 12)]
    return write(path, [events])


def cli(capsys, *argv):
    code = main(["generate", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return checkpoint(tmp_path_factory.mktemp("ckpt") / "model.safetensors")


def test_corrupt_and_empty_prompt_midi_are_named_errors(tmp_path, ckpt, capsys):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd this is not a MIDI file")
    code, out = cli(capsys, "--checkpoint", ckpt, "--prompt-midi", bad, "--save-dir", tmp_path / "out")
    assert code == 2 and "corrupt" in out and "bad.mid" in out
    empty = tmp_path / "empty.mid"
    empty.write_bytes(b"")
    code, out = cli(capsys, "--checkpoint", ckpt, "--prompt-midi", empty)
    assert code == 2 and "empty (0 bytes)" in out
    no_notes = prompt_midi(tmp_path / "silent.mid", n_notes=0)
    with pytest.raises(ValueError, match="contains no notes"):
        read_prompt(no_notes)
    assert not (tmp_path / "out").exists()


def test_checkpoint_for_another_vocabulary_is_a_named_error(tmp_path, capsys):
    # 17729 (pedal tokens) is now recognised from the size (test_generate_options.py); 17700 is no variant
    other = checkpoint(tmp_path / "other.safetensors", vocab=17700)
    code, out = cli(capsys, "--checkpoint", other, "--prompt-midi", prompt_midi(tmp_path / "p.mid"))
    assert code == 2 and "vocabulary mismatch" in out and "17700" in out


def test_min_p_with_top_p_is_a_named_error(tmp_path, ckpt, capsys):
    code, out = cli(capsys, "--checkpoint", ckpt, "--min-p", 0.05, "--top-p", 0.9)
    assert code == 2 and "conflict" in out
    assert Sampling().resolved().min_p == 0.035  # the default applies only when neither is given
    assert Sampling(top_p=0.9).resolved().min_p is None
    with pytest.raises(SamplingError):
        Sampling(min_p=0.1, top_p=0.9).resolved()


def test_prompt_longer_than_the_context_is_a_named_error(tmp_path, capsys):
    small = checkpoint(tmp_path / "small.safetensors", max_seq_len=16)
    code, out = cli(
        capsys, "--checkpoint", small, "--prompt-midi", prompt_midi(tmp_path / "p.mid"), "--prompt-duration", 60
    )
    assert code == 2 and "longer than the model context" in out and "max_seq_len 16" in out


def test_generation_writes_midi_files(tmp_path, ckpt, capsys):
    prompt = prompt_midi(tmp_path / "prompt.mid")
    code, out = cli(
        capsys,
        "--checkpoint",
        ckpt,
        "--prompt-midi",
        prompt,
        "--prompt-duration",
        1.5,
        "--variations",
        2,
        "--length",
        40,
        "--seed",
        3,
        "--top-k",
        50,
        "--save-dir",
        tmp_path / "gen",
    )
    assert code == 0, out
    files = sorted((tmp_path / "gen").glob("*.mid"))
    assert [f.name for f in files] == ["prompt-0.mid", "prompt-1.mid"]
    for f in files:
        mido.MidiFile(str(f))  # readable
    again = tmp_path / "again"
    assert (
        cli(
            capsys,
            "--checkpoint",
            ckpt,
            "--prompt-midi",
            prompt,
            "--prompt-duration",
            1.5,
            "--variations",
            2,
            "--length",
            40,
            "--seed",
            3,
            "--top-k",
            50,
            "--save-dir",
            again,
        )[0]
        == 0
    )
    assert (again / "prompt-0.mid").read_bytes() == files[0].read_bytes()  # seeded


def test_prompt_is_notes_up_to_the_duration_and_end_forces_dim(tmp_path, ckpt):
    piece = read_prompt(prompt_midi(tmp_path / "p.mid"))
    toks = prompt_tokens(TOK, piece, 1.0)  # onsets 0, 250, ..., 1000 ms -> 5 notes
    assert toks[:2] == [("prefix", "instrument", "piano"), "<S>"] and len(toks) == 2 + 5 * 3
    assert "<E>" not in toks and "<D>" not in toks
    assert prompt_tokens(TOK, None, 5.0) == [("prefix", "instrument", "piano"), "<S>"]
    model = load_model(ckpt, TOK)
    out = continue_prompt(
        model, TOK, toks, variations=2, length=200, end=True, seed=0, sampling=Sampling(temp=1.0, top_k=200)
    )
    forced = 0
    for ids in out:
        assert ids[: len(toks)] == TOK.encode(toks)
        if len(ids) > len(toks) + 200 - 130:  # still running in the last 130 positions
            k = ids.index(TOK.dim_id, len(toks))
            assert k >= len(toks) + 200 - 130
            assert TOK.kind(TOK.vocab[ids[k - 1]]) not in ("note", "drum")  # never inside a note
            forced += 1
    assert forced >= 1
    with pytest.raises(ValueError, match="--end needs more than 130"):
        continue_prompt(model, TOK, toks, length=100, end=True)


def test_mlx_backend_generates_like_torch(tmp_path, ckpt):
    pytest.importorskip("mlx.core")
    toks = prompt_tokens(TOK, read_prompt(prompt_midi(tmp_path / "p.mid")), 1.0)
    greedy = Sampling(temp=0.0)
    a = continue_prompt(load_model(ckpt, TOK), TOK, toks, length=12, sampling=greedy)
    b = continue_prompt(load_model(ckpt, TOK, backend="mlx"), TOK, toks, length=12, sampling=greedy, backend="mlx")
    assert a == b


def test_a_midi_file_as_checkpoint_is_a_named_error(tmp_path, capsys):
    """`--checkpoint some.mid` used to end in safetensors' bare `header too large`."""
    mid = prompt_midi(tmp_path / "some.mid")
    code, out = cli(capsys, "--checkpoint", mid, "--prompt-midi", mid, "--save-dir", tmp_path / "out")
    assert code != 0 and "Traceback" not in out and "SafetensorError" not in out
    assert f"{mid} is not a safetensors checkpoint" in out
    with pytest.raises(CheckpointError, match="some.mid is not a safetensors checkpoint"):
        load_model(mid, AbsTokenizer())
    truncated = tmp_path / "model.safetensors"
    truncated.write_bytes(b'\x08\x00\x00\x00\x00\x00\x00\x00{"a":')
    with pytest.raises(CheckpointError, match="model.safetensors is not a safetensors checkpoint"):
        load_model(tmp_path, AbsTokenizer())
