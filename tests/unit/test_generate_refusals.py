"""``ostinato generate`` refuses what would be a wrong result: a GnM composer the model never
trained on, NotaGen pieces that never got past ABC; defaults and prompts are named clearly."""

from __future__ import annotations

import json

import pytest
import torch

from pipeline.cli import main

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

TRIPLES = [
    {"period": "Baroque", "composer": "Bach, Johann Sebastian", "instrumentation": "Chorus", "pieces": 6},
    {"period": "Romantic", "composer": "Chopin, Frederic", "instrumentation": "Keyboard", "pieces": 3},
]


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def gnm_dirs(tmp_path_factory):
    """A mastery model trained on Bach only (its vocabulary still has Composer_Chopin), and the
    same weights without the record (as upstream .pt files and old model folders are)."""
    from pipeline.gnm.checkpoint import save
    from pipeline.gnm.model import GnmConfig, GnmDecoder
    from pipeline.gnm.vocab import Vocab

    root = tmp_path_factory.mktemp("gnm")
    vocab = Vocab.build(
        ["Composer_None", "Tempo_80", "BOS_None", "Bar_None", "Time_Signature_4/4", "EOS_None"]
        + [f"Beat_{g}" for g in range(48)]
    )
    assert "Composer_Chopin" in vocab
    torch.manual_seed(0)
    model = GnmDecoder(GnmConfig(len(vocab), d_model=16, n_heads=2, n_layers=2, d_ff=32, d_word_embed=16))
    save(model, root / "bach", vocab, mode="mastery", composers=["Bach"])
    save(model, root / "unrecorded", vocab)
    return root


def test_gnm_refuses_a_composer_it_was_not_trained_on(gnm_dirs, tmp_path, capsys):
    base = ["generate", "--family", "gnm", "--checkpoint", gnm_dirs / "bach", "--max-events", 8, "--seed", 0]
    code, _, err = cli(capsys, *base, "--composer", "chopin", "--save-dir", tmp_path / "c")
    assert code == 2 and "not trained on composer Chopin" in err and "trained: Bach, None" in err, err
    assert not (tmp_path / "c").exists()
    code, out, err = cli(capsys, *base, "--all-composers", "-n", 1, "--save-dir", tmp_path / "all")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "all").glob("*.mid")) == ["Bach_0.mid"]
    code, _, err = cli(capsys, *base, "--composer", "none", "-n", 1, "--save-dir", tmp_path / "none")
    assert code == 0 and (tmp_path / "none" / "None_0.mid").is_file(), err  # the generality prompt it was built on


def test_gnm_without_a_record_falls_back_to_the_vocabulary_with_a_warning(gnm_dirs, tmp_path, capsys):
    args = ["generate", "--family", "gnm", "--checkpoint", gnm_dirs / "unrecorded", "--max-events", 8]
    code, _, err = cli(capsys, *args, "--all-composers", "-n", 1, "--seed", 0, "--save-dir", tmp_path / "o")
    assert code == 0 and "does not record the composers it was trained on" in err, err
    assert {p.stem.split("_")[0] for p in (tmp_path / "o").glob("*.mid")} == {"Bach", "Beethoven", "Chopin", "Mozart"}


def test_gnm_default_checkpoint_is_looked_up_in_the_project_folder(gnm_dirs, tmp_path, monkeypatch, capsys):
    import shutil

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OSTINATO_ROOT", str(tmp_path / "project"))
    code, _, err = cli(capsys, "generate", "--family", "gnm", "--composer", "bach")
    want = tmp_path / "project" / "models" / "gnm_finetune"
    assert code == 2 and f"default gnm model {want} does not exist" in err and "vocab" not in err, err
    shutil.copytree(gnm_dirs / "bach", want)
    code, _, err = cli(capsys, "generate", "--family", "gnm", "--composer", "bach", "-n", 1, "--max-events", 8)
    assert code == 0 and (tmp_path / "generations" / "Bach_0.mid").is_file(), err


@pytest.fixture(scope="module")
def notagen_dir(tmp_path_factory):
    from pipeline.notagen.checkpoint import save
    from pipeline.notagen.model import NotaGenConfig, NotaGenModel

    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("notagen") / "abc_finetune"
    save(NotaGenModel(NotaGenConfig(hidden=64, patch_layers=1, char_layers=1, patch_length=32)), d)
    (d / "prompts.json").write_text(json.dumps(TRIPLES))
    return d


def test_notagen_missing_or_huge_prompt_lists_the_valid_triples(notagen_dir, tmp_path, capsys):
    base = ["generate", "--family", "notagen", "--checkpoint", notagen_dir, "--save-dir", tmp_path]
    code, _, err = cli(capsys, *base, "--period", "Baroque")
    assert code == 2 and "missing --composer, --instrumentation" in err, err
    assert "Baroque / Bach, Johann Sebastian / Chorus; Romantic / Chopin, Frederic / Keyboard" in err
    huge = "x" * 10240
    code, _, err = cli(capsys, *base, "--period", "Baroque", "--composer", huge, "--instrumentation", "Chorus")
    assert code == 2 and "--composer is 10240 characters long" in err and len(err) < 600, err
    (tmp_path / "prompts.json").write_text("")
    code, _, err = cli(capsys, *base, "--prompts", tmp_path / "prompts.json", "--period", "Baroque")
    assert code == 2 and f"{tmp_path / 'prompts.json'} is not a prompts file" in err, err


def test_notagen_dpo_folder_points_to_its_iterations(notagen_dir, tmp_path, capsys):
    import shutil

    dpo = tmp_path / "abc_dpo"
    for i in (1, 2):
        shutil.copytree(notagen_dir, dpo / f"iter_{i}")
    code, _, err = cli(capsys, "generate", "--family", "notagen", "--checkpoint", dpo, "--no-prompt")
    assert code == 2 and f"pass --checkpoint {dpo / 'iter_2'}" in err and "iter_1, iter_2" in err, err


def test_notagen_without_prompt_and_nothing_past_abc_fails_naming_the_skipped_files(notagen_dir, tmp_path, capsys):
    args = ["generate", "--family", "notagen", "--checkpoint", notagen_dir, "--no-prompt", "--seed", 0]
    code, out, err = cli(capsys, *args, "--max-chars", 24, "-n", 2, "--save-dir", tmp_path / "o")
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["unconditional_0.abc", "unconditional_1.abc"]
    assert "skipped unconditional_0.interleaved.abc, unconditional_0.musicxml, unconditional_0.mid" in out
    assert "unconditional_0.flac" in out  # audio was asked for, so its absence is named too
    assert code == 2 and "no piece got past ABC" in err and "stopped at max_chars" in err, err
    code, _, err = cli(capsys, *args, "--period", "Baroque")
    assert code == 2 and "--no-prompt conflicts" in err


def test_help_names_every_family_and_the_default_output_folder(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "notagen: a model directory" in text and "notagen 1.2" in text
    assert "default: generations/" in text
    shared = text.split("options of several families:")[1].split("--family aria:")[0]
    assert "--composer" in shared and "--top-k" in shared and "--pieces" in shared


def test_upstream_spellings_are_aliases(gnm_dirs, tmp_path, capsys):
    from pathlib import Path

    from pipeline.cli import build_parser

    up = ["--checkpoint_path", "c", "--prompt_midi_path", "p.mid", "--prompt_duration", "5", "--min_p", "0.05"]
    args = build_parser().parse_args(["generate", *up, "--top_p", "0.9", "--save_dir", "d"])
    assert (args.checkpoint, args.prompt_midi, args.prompt_duration, args.min_p) == (Path("c"), Path("p.mid"), 5, 0.05)
    assert (args.top_p, args.save_dir) == (0.9, Path("d"))
    assert build_parser().parse_args(["generate", "--family", "gnm", "--all_composer", "False"]).all_composers is False
    # GnM's inference_score.py line as typed in its README
    argv = ["generate", "--family", "gnm", "--checkpoint", gnm_dirs / "bach", "--all_composer=True"]
    code, _, err = cli(capsys, *argv, "--output_dir", tmp_path / "up", "-n", 1, "--max-events", 8)
    assert code == 0 and (tmp_path / "up" / "Bach_0.mid").is_file(), err


def test_a_shared_option_given_to_a_family_that_does_not_read_it_is_named(capsys):
    code, _, err = cli(capsys, "generate", "--checkpoint", "c", "--composer", "bach", "-n", 2)
    assert code == 2 and "--family aria does not take --composer (a --family gnm/notagen option)" in err, err
    assert "--pieces (a --family gnm/notagen option)" in err
    code, _, err = cli(capsys, "generate", "--family", "gnm", "--composer", "bach", "--top-k", 3)
    assert code == 2 and "--top-k (a --family aria/notagen option)" in err, err
