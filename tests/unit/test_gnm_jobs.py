"""GnM training windows, the LM and classifier jobs on the core loop (tiny), the generate CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pipeline.cli import main
from pipeline.data.token_store import write_split
from pipeline.gnm.checkpoint import load
from pipeline.gnm.data import EmptyCategoryError, Pieces, PitchShifter, WindowBatches, split_pieces
from pipeline.gnm.vocab import Vocab
from pipeline.train.job import TrainJob

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]


def piece_tokens(rng, bars=6, tempo=80):
    out = ["Composer_None", f"Tempo_{tempo}", "BOS_None"]
    for _ in range(bars):
        out += ["Bar_None", "Time_Signature_4/4"]
        for g in sorted(rng.choice(48, 3, replace=False)):
            out += [f"Beat_{g}", f"Note_Pitch_{int(rng.integers(40, 90))}", "Note_Duration_240"]
    return out + ["EOS_None"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A token store as gnm_tokenize writes it: 2 composers + folk, train/val."""
    root = tmp_path_factory.mktemp("tokens")
    rng = np.random.default_rng(0)
    pieces = {
        split: [(c, piece_tokens(rng, 4 + k)) for c in ("Bach", "Mozart", None) for k in range(n)]
        for split, n in (("train", 3), ("val", 1))
    }
    vocab = Vocab.build({t for ps in pieces.values() for _, toks in ps for t in toks}, ["Bach", "Mozart", "Haydn"])
    vocab.save(root)
    for split, ps in pieces.items():
        write_split(
            root / split,
            [
                ({"id": f"{split}{i}", "gnm_composer": c, "category": c or "folk"}, np.asarray(vocab.encode(t)))
                for i, (c, t) in enumerate(ps)
            ],
        )
    return root, vocab


def test_windows_start_on_bars_reprepend_prefix_and_stay_in_range(store):
    root, vocab = store
    rng = np.random.default_rng(1)
    toks = piece_tokens(rng, 20)
    ids = np.asarray(vocab.encode(toks))
    p = Pieces([ids], ["x"], vocab, composer_ids=[vocab.composer_id("Bach")])
    b = WindowBatches(p, vocab, 8, 32, seed=3)
    rows = b.batch(0).numpy()
    assert rows.shape == (8, 33)
    bar, pad = vocab.id("Bar_None"), vocab.pad_id
    for r in rows:
        body = r[r != pad]
        assert body[0] == vocab.composer_id("Bach") and vocab.tokens[body[1]].startswith("Tempo_")
        assert body[-1] == bar  # a window ends on a Bar token, so EOS is never trained (upstream)
        assert len(body) <= 33
    assert np.array_equal(b.batch(0).numpy(), rows)  # a pure function of the step
    val = next(b.once())
    assert (val[0, :3].numpy() == ids[:3]).all() and val[0, 0] == vocab.composer_id("Bach")


def test_pitch_shift_keeps_pitches_in_range(store):
    _, vocab = store
    shift = PitchShifter(vocab)
    ids = np.asarray(vocab.encode(["Bar_None", "Beat_0", "Note_Pitch_106", "Note_Pitch_60"]))
    for s in range(20):
        out = vocab.decode(shift(ids, np.random.default_rng(s)))
        assert out[:2] == ["Bar_None", "Beat_0"]
        hi = int(out[2].rsplit("_", 1)[1])
        assert 103 <= hi <= 108 and int(out[3].rsplit("_", 1)[1]) == 60 + hi - 106


TRAIN = {
    "steps": 2,
    "lr": 1e-3,
    "warmup_steps": 0,
    "eval_every": 2,
    "checkpoint_every": 2,
    "batch_size": 2,
    "seq_len": 24,
}


def lm_job(stage: str, tmp_path, tag: str, inputs: dict, **params) -> TrainJob:
    from pipeline.params import SECTIONS

    return TrainJob(
        stage=stage,
        p=SECTIONS[stage](**TRAIN, **params),
        seed=42,
        device="cpu",
        ckpt_dir=tmp_path / f"c{tag}",
        model_dir=tmp_path / tag,
        report_dir=tmp_path / f"r{tag}",
        inputs=inputs,
    )


def test_lm_jobs_generality_then_mastery_with_adapters(store, tmp_path):
    from pipeline.gnm.lm_job import run_job

    root, vocab = store
    common = {"tokens": str(root), "category": "category"}
    shape = {
        "d_model": 16,
        "n_heads": 2,
        "n_layers": 2,
        "d_ff": 32,
        "d_word_embed": 16,
        "dropout": 0.0,
        "adapter_positions": [1],
    }
    gen = lm_job("gnm_pretrain", tmp_path, "g", common | {"mode": "generality", "composers": []}, model=shape)
    m = run_job(gen)
    assert m["data"]["classes"] == ["Bach", "Mozart", "folk"] and m["val_loss"] > 0
    again = lm_job("gnm_pretrain", tmp_path, "g2", gen.inputs, model=shape)
    assert run_job(TrainJob.from_json(again.to_json()))["val_loss"] == m["val_loss"]  # the torchrun trip
    a, b = (torch.load(tmp_path / d / "params.pt", weights_only=True) for d in ("g", "g2"))
    assert all(torch.equal(a[k], b[k]) for k in a)  # same params + seed -> same weights
    training = json.loads((tmp_path / "g" / "training.json").read_text())["train"]
    assert "betas" not in training and training["seed"] == 42 and training["grad_clip"] == 0.5
    mas = lm_job(
        "gnm_finetune",
        tmp_path,
        "m",
        common | {"mode": "mastery", "composers": ["Bach", "Mozart"], "init_from": str(tmp_path / "g")},
    )
    assert run_job(mas)["data"]["classes"] == ["Bach", "Mozart"]
    g, model = load(tmp_path / "g"), load(tmp_path / "m")
    assert model.config.adapter_positions == (1,) and not g.config.adapter_positions
    assert json.loads((tmp_path / "g" / "config.json").read_text())["meta"]["mastery_adapters"] == [1]
    scratch = lm_job(
        "gnm_scratch", tmp_path, "s", common | {"mode": "scratch", "composers": ["Bach", "Mozart"], "model": shape}
    )
    run_job(scratch)
    s = load(tmp_path / "s")
    assert s.config == g.config  # the generality shape, no adapters
    assert json.loads((tmp_path / "s" / "config.json").read_text())["meta"]["mastery_adapters"] is None
    with pytest.raises(EmptyCategoryError, match="Haydn"):
        split_pieces(root, "train", vocab, "mastery", "category", ["Bach", "Haydn"])


def test_classifier_job_and_heldout_confusion(store, tmp_path):
    from pipeline.gnm.classifier_job import run_job

    root, _ = store
    job = lm_job(
        "gnm_classifier",
        tmp_path,
        "m",
        {"tokens": str(root), "composers": ["Bach", "Mozart"]},
        eval_windows=2,
        d_model=16,
        n_heads=2,
        n_layers=1,
        d_ff=32,
        dropout=0.0,
    )
    m = run_job(job)
    assert m["classes"] == ["Bach", "Mozart"] and 0 <= m["heldout_accuracy"] <= 1 and "val_accuracy" in m
    held = json.loads((tmp_path / "rm" / "heldout.json").read_text())
    assert np.allclose(np.asarray(held["confusion"]).sum(1), 1.0)
    assert load(tmp_path / "m").cls_head.out_features == 2


def test_generate_cli_gnm(store, tmp_path, capsys):
    from pipeline.gnm.checkpoint import save
    from pipeline.gnm.model import GnmConfig, GnmDecoder

    _, vocab = store
    torch.manual_seed(0)
    save(
        GnmDecoder(
            GnmConfig(len(vocab), d_model=16, n_heads=2, n_layers=2, d_ff=32, d_word_embed=16, adapter_positions=(1,))
        ),
        tmp_path / "ckpt",
        vocab,
    )
    args = [
        "generate",
        "--family",
        "gnm",
        "--checkpoint",
        tmp_path / "ckpt",
        "-n",
        2,
        "--seed",
        1,
        "--max-events",
        60,
        "--save-dir",
        tmp_path / "out",
    ]
    assert main([*map(str, args), "--composer", "bach"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.mid")) == ["Bach_0.mid", "Bach_1.mid"]
    evs = (tmp_path / "out" / "Bach_0.txt").read_text().split()
    assert evs[0] == "Composer_Bach" and evs[2] == "BOS_None"
    import mido

    mido.MidiFile(str(tmp_path / "out" / "Bach_0.mid"))  # a readable MIDI file
    assert (
        main([*map(str, args), "--all-composers", "-n", "1", "--max-events", "8", "--save-dir", str(tmp_path / "all")])
        == 0
    )
    assert {p.name.split("_")[0] for p in (tmp_path / "all").glob("*.mid")} == {
        "Bach",
        "Haydn",
        "Mozart",
        "Beethoven",
        "Chopin",
    }
    capsys.readouterr()
    assert main([*map(str, args), "--composer", "ravel"]) == 2
    assert "unknown composer 'ravel'" in capsys.readouterr().err
    assert (
        main(
            [
                "generate",
                "--family",
                "gnm",
                "--composer",
                "bach",
                "--prompt-midi",
                "x.mid",
                "--checkpoint",
                str(tmp_path / "ckpt"),
            ]
        )
        == 2
    )
    assert "does not take --prompt-midi" in capsys.readouterr().err
