"""``ostinato generate --family aria`` options of upstream: metadata prefixes and the pedal tokenizer."""

from __future__ import annotations

import pytest
import torch

from pipeline.aria.load import tokenizer_for
from pipeline.aria.model import ModelConfig, build, save
from pipeline.aria.prompt import prompt_tokens
from pipeline.aria.tokenizer import AbsTokenizer
from pipeline.cli import main
from pipeline.commands.generate_aria import parse_metadata, with_metadata

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

PEDAL = AbsTokenizer(include_pedal=True)


@pytest.fixture(scope="module")
def pedal_ckpt(tmp_path_factory):
    """A released-style file (no tokenizer.json beside it) trained with the pedal tokenizer."""
    torch.manual_seed(0)
    model = build(ModelConfig(d_model=32, n_heads=2, n_layers=1, vocab_size=PEDAL.vocab_size, max_seq_len=64))
    return save(model, tmp_path_factory.mktemp("pedal") / "model.safetensors")


def test_metadata_prefixes_parse_and_reach_the_empty_prompt():
    meta = parse_metadata(["composer=Chopin", "genre=classical", "form=Etude"])
    assert meta == {"composer": "chopin", "genre": "classical", "form": "étude"}
    tok = AbsTokenizer()
    prompt = with_metadata(prompt_tokens(tok, None, 15.0, meta), meta)
    assert prompt == [
        ("prefix", "instrument", "piano"),
        ("prefix", "composer", "chopin"),
        ("prefix", "genre", "classical"),
        ("prefix", "form", "étude"),
        "<S>",
    ]
    tok.encode(prompt)  # every prefix is a token of the vocabulary
    with pytest.raises(ValueError, match="the tokenizer knows composer bach, beethoven"):
        parse_metadata(["composer=vivaldi"])
    with pytest.raises(ValueError, match="KEY one of composer, form, genre"):
        parse_metadata(["mood=sad"])


def test_pedal_tokenizer_is_found_from_the_vocabulary_size(pedal_ckpt, tmp_path, capsys):
    assert tokenizer_for(pedal_ckpt).config["include_pedal"] is True
    assert tokenizer_for(pedal_ckpt, include_pedal=False).config["include_pedal"] is False
    base = ["generate", "--checkpoint", str(pedal_ckpt), "--length", "4", "--seed", "0"]
    code = main([*base, "--metadata", "composer=chopin", "--save-dir", str(tmp_path / "o")])
    assert code == 0 and (tmp_path / "o" / "unconditional-0.mid").is_file()
    capsys.readouterr()
    code = main([*base, "--no-pedal", "--save-dir", str(tmp_path / "n")])
    err = capsys.readouterr().err
    assert code == 2 and "vocabulary mismatch" in err and len(err.strip().splitlines()) == 1, err
