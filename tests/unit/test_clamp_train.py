"""The scorer's training: M3 masking, both objectives learn, the job writes loadable checkpoints."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from jobs import cpu_job

from pipeline.clamp import load
from pipeline.clamp.batches import ClampBatches, MaskedPatchBatches, Piece, corrupt
from pipeline.clamp.model import ClampConfig, ClampModel, M3Model
from pipeline.clamp.objectives import ClampObjective, MaskedPatchObjective
from pipeline.clamp.patches import MASK_ID, encode
from pipeline.clamp.text import VOCAB_SIZE
from pipeline.train.loop import TrainConfig, train

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

TUNES = ["C2 E2 G2 c2", "A,2 C2 E2 A2", "G2 B2 d2 g2", "F2 A2 c2 f2", "D2 F2 A2 d2", "E2 G2 B2 e2"]
KEYS = ["C", "G", "D", "A", "E", "F", "Bb", "Eb"]


def text(i: int) -> str:
    bars = "\n".join(f"[V:1]{TUNES[(i + b) % 6]}|[V:2]{TUNES[(i + b + 1) % 6].lower()}|" for b in range(4))
    return f"%Folk\n%Traditional\n%Voice\nX:1\nL:1/8\nM:4/4\nK:{KEYS[i]}\nV:1\nV:2\n{bars}\n"


def lines(i: int) -> list[str]:
    return [f"composer: composer {i}", f"key: {KEYS[i]}", "parts: 2"]


def pieces(n=6):
    return [Piece(encode(text(i), 32), lines(i)) for i in range(n)]


CFG = ClampConfig(
    patch_size=32,
    patch_length=16,
    hidden=64,
    layers=1,
    proj=32,
    decoder_layers=1,
    text_vocab=VOCAB_SIZE,
    text_positions=66,
    text_hidden=32,
    text_layers=1,
    text_intermediate=64,
)


def tcfg(**kw):
    return TrainConfig(
        **{
            **dict(
                steps=30,
                lr=3e-3,
                warmup_steps=2,
                eval_every=10,
                checkpoint_every=30,
                progress=False,
                device="cpu",
                seed=3,
                weight_decay=0.0,
            ),
            **kw,
        }
    )


def test_masking_selects_45_percent_and_keeps_pads():
    p = encode(text(0), 32)
    inputs, sel = corrupt(p, np.random.default_rng(0), 0.45)
    assert sel.sum() == round(0.45 * len(p))
    assert (inputs[~sel] == p[~sel]).all()
    assert ((inputs == 0) == (p == 0)).all()  # pads stay pads
    assert (inputs[sel] == MASK_ID).any()


def test_batches_are_step_indexed_and_pure():
    b = ClampBatches(pieces(), 4, 16, text_len=64, text_dropout=0.3, seed=1)
    x, y = b.batch(3), b.batch(3)
    assert all(torch.equal(s, t) for s, t in zip(x, y))
    assert x[0].shape[0] == 4 and x[0].shape[1] <= 16 and x[2].shape[1] <= 64
    m = MaskedPatchBatches(pieces(), 4, 16, seed=1)
    assert all(torch.equal(s, t) for s, t in zip(m.batch(2), m.batch(2)))
    assert len(list(ClampBatches(pieces(5), 2, 16).once())) == 2  # a final single piece is folded in


def test_both_objectives_learn(tmp_path):
    torch.manual_seed(0)
    m3 = train(
        M3Model(CFG),
        MaskedPatchObjective(),
        MaskedPatchBatches(pieces(), 4, 16, seed=1),
        tcfg(),
        tmp_path / "m3",
        val=MaskedPatchBatches(pieces(), 6, 16, seed=1),
    )
    assert m3.history[-1]["val_loss"] < 0.6 * m3.history[0]["val_loss"]
    torch.manual_seed(0)
    clamp = ClampModel(CFG)
    clamp.music_model.load_state_dict(m3.model.encoder.state_dict())
    # mean-pooled features start nearly equal for every piece: alignment needs a few dozen steps
    res = train(
        clamp,
        ClampObjective(0.1),
        ClampBatches(pieces(), 6, 16, text_len=64, seed=1),
        tcfg(steps=60, eval_every=20, checkpoint_every=60, final_lr_frac=1.0),
        tmp_path / "clamp",
        val=ClampBatches(pieces(), 6, 16, text_len=64, seed=1),
    )
    assert res.history[-1]["val_loss"] < 0.8 * res.history[0]["val_loss"]
    assert res.history[-1]["val_pair_acc"] >= 0.5  # chance: 1/6


def test_job_writes_checkpoints_the_loader_reads(tmp_path):
    from pipeline.clamp.train_job import run_job
    from pipeline.params.clamp import ClampTrainParams

    for split, ids in (("train", range(6)), ("val", range(6, 8))):
        d = tmp_path / "store" / split
        d.mkdir(parents=True)
        (d / "texts.jsonl").write_text("".join(json.dumps({"id": f"p{i}", "text": text(i)}) + "\n" for i in ids))
        (d / "labels.jsonl").write_text("".join(json.dumps({"id": f"p{i}", "n_parts": 2}) + "\n" for i in ids))
    p = ClampTrainParams(
        patch_size=32,
        patch_length=16,
        hidden=64,
        layers=1,
        proj=32,
        decoder_layers=1,
        text_len=64,
        text_hidden=32,
        text_layers=1,
        m3_steps=2,
        steps=2,
        batch_size=2,
        lr=1e-3,
        warmup_steps=1,
        eval_every=2,
        checkpoint_every=2,
    )
    job = cpu_job("clamp_train", p, tmp_path, {"store": str(tmp_path / "store")})
    metrics = run_job(job)
    assert metrics["train_pieces"] == 6 and metrics["val_pieces"] == 2 and metrics["val_loss"] is not None
    assert (tmp_path / "report" / "plots" / "loss.csv").is_file()
    assert (tmp_path / "report" / "m3" / "metrics.json").is_file()
    blob = torch.load(tmp_path / "model" / "clamp.pth", weights_only=True)
    assert {"model", "epoch", "min_eval_loss"} <= set(blob)
    scorer = load(tmp_path / "model" / "clamp.pth")
    assert scorer.music_features(text(0)).shape == (32,) and scorer.text_features(lines(0)).shape == (32,)
    assert load(tmp_path / "model" / "m3.pth").meta["kind"] == "m3"
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["params"]["m3_steps"] == 2 and "lr" not in config["params"]  # the section's own keys
    assert config["model"]["text_positions"] == 66 and config["model"]["text_intermediate"] == 128


def test_model_config_is_the_tiny_entry_with_the_sections_shapes():
    from pipeline.clamp.model import CONFIGS
    from pipeline.clamp.train_job import model_config
    from pipeline.params.clamp import ClampTrainParams

    assert model_config(ClampTrainParams()) == CONFIGS["tiny"]  # the entry is clamp_train's defaults
    assert model_config(ClampTrainParams(hidden=64, text_len=32)) == replace(
        CONFIGS["tiny"], hidden=64, text_positions=34
    )


def test_named_configs_round_trip_through_their_state_dicts():
    from pipeline.clamp.model import CONFIGS, config_from_state

    tiny = ClampConfig.from_name(
        "tiny", patch_length=16, hidden=64, layers=1, proj=32, text_positions=34, text_hidden=32, text_intermediate=64
    )
    kind, cfg = config_from_state(ClampModel(tiny).state_dict())
    assert kind == "clamp" and cfg == replace(tiny, intermediate=4 * 64, decoder_layers=0)  # read off the shapes
    with pytest.raises(ValueError, match="known"):
        ClampConfig.from_name("huge")
    assert CONFIGS["clamp2"].text_vocab == 250002 and CONFIGS["m3"].proj is None
