"""The Aria training jobs read a typed ``TrainJob``: pretrain and finetune in-process, pretrain under
torchrun (the job crosses to the workers as JSON), and the package's entry points stay put."""

import importlib
import json
import math

import numpy as np
import pytest
from jobs import cpu_job

from pipeline.aria.lm import ENTRY
from pipeline.aria.tokenizer import AbsTokenizer
from pipeline.data.token_store import pack, write_split
from pipeline.params import SECTIONS
from pipeline.train.job import TrainJob, run_training

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

TOK = AbsTokenizer()
TOKENIZER = {"vocab_size": TOK.vocab_size, "pad_id": TOK.pad_id, "config": TOK.config, "config_hash": TOK.config_hash()}
SMALL = {"d_model": 32, "n_heads": 2, "n_layers": 1}
TRAIN = dict(steps=2, lr=1e-3, warmup_steps=1, eval_every=2, checkpoint_every=2, batch_size=2, augment=False)


def pieces(n=8, length=50):
    return [np.random.default_rng(i).integers(40, 200, size=length) for i in range(n)]


def job(stage, tmp_path, name, inputs, **params) -> TrainJob:
    d = tmp_path / name
    return cpu_job(stage, SECTIONS[stage](**TRAIN | params), d, inputs, seed=3)


def pack_dir(tmp_path, seq_len=33):
    (tmp_path / "pack").mkdir()
    for split in ("train", "val"):
        np.save(tmp_path / "pack" / f"{split}.npy", pack(pieces(), seq_len, TOK.pad_id))
    return str(tmp_path / "pack")


def test_pretrain_then_finetune_read_params_and_inputs(tmp_path):
    pre = job(
        "aria_pretrain", tmp_path, "pre", {"pack": pack_dir(tmp_path), "tokenizer": TOKENIZER}, model_overrides=SMALL
    )
    metrics = run_training(ENTRY, pre)
    assert metrics["steps"] == 2 and math.isfinite(metrics["val_loss"])
    config = json.loads((pre.model_dir / "config.json").read_text())
    assert config["model"]["d_model"] == 32 and config["model"]["max_seq_len"] == 33
    assert config["stage"] == "aria_pretrain" and config["data"] == {"train_rows": 13, "val_rows": 13}
    assert config["train"]["betas"] == [0.9, 0.95] and config["train"]["seed"] == 3
    assert "batch_size" not in config["train"] and "progress" not in config["train"]  # loop settings the params chose

    for split, periods in (("train", ["baroque", "folk"] * 4), ("val", ["baroque"] * 2)):
        write_split(
            tmp_path / "tokens" / split,
            [({"id": f"{split}{i}", "period": p}, ids) for i, (p, ids) in enumerate(zip(periods, pieces()))],
        )
    inputs = {
        "tokens": str(tmp_path / "tokens"),
        "tokenizer": TOKENIZER,
        "seq_len": 33,
        "init_from": str(pre.model_dir / "model.safetensors"),
    }
    fine = job("aria_finetune", tmp_path, "fine", inputs, filters={"period": ["baroque"]})
    run_training(ENTRY, fine)
    config = json.loads((fine.model_dir / "config.json").read_text())
    assert config["data"]["train"]["pieces"] == 4 and config["data"]["val"]["pieces"] == 2
    assert config["model"]["d_model"] == 32 and config["tokenizer_hash"] == TOK.config_hash()


def test_pretrain_under_torchrun_two_cpu_processes(tmp_path):
    """Two gloo ranks: the job goes to each worker as JSON and is validated again there."""
    pre = job(
        "aria_pretrain",
        tmp_path,
        "pre",
        {"pack": pack_dir(tmp_path), "tokenizer": TOKENIZER},
        model_overrides=SMALL,
        steps=3,
        eval_every=3,
    )
    metrics = run_training(ENTRY, pre, "torchrun", 2)
    assert metrics["steps"] == 3 and math.isfinite(metrics["val_loss"])
    assert metrics["tokens"] == 3 * 2 * 2 * 32  # steps x world x batch x (seq_len - 1)
    from pipeline.aria.model import load

    assert load(pre.model_dir / "model.safetensors").config.d_model == 32


def test_entry_points_are_stable_when_read_twice():
    import pipeline.aria as aria

    for module in ("lm", "contrastive"):
        mod = importlib.import_module(f"pipeline.aria.{module}")
        assert getattr(aria, module) is mod and getattr(aria, module) is mod
        assert mod.ENTRY == f"pipeline.aria.{module}:run_job" and callable(mod.run_job)
    assert not hasattr(aria, "__getattr__")  # no lazy exports a submodule could shadow


def test_contrastive_reads_its_views_from_params_and_its_corpus_from_inputs(tmp_path):
    import midi_fixtures as mf

    from pipeline.aria.contrastive import ENTRY as CONTRASTIVE
    from pipeline.aria.model import build, save
    from pipeline.aria.model_config import ModelConfig

    rows = []
    for i, split in enumerate(["train"] * 4 + ["val"]):
        (tmp_path / "ingest" / f"p{i}").mkdir(parents=True)
        mf.long_piece(tmp_path / "ingest" / f"p{i}", n=40 + 10 * i)
        midi = next((tmp_path / "ingest" / f"p{i}").glob("*.mid")).relative_to(tmp_path / "ingest").as_posix()
        rows.append({"id": f"p{i}", "split": split, "midi": midi})
    (tmp_path / "ingest" / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    lm = build(ModelConfig.from_name("tiny", **SMALL, vocab_size=TOK.vocab_size, max_seq_len=128))
    save(lm, tmp_path / "lm.safetensors", metadata={"tokenizer_hash": TOK.config_hash()})
    c = job(
        "aria_contrastive",
        tmp_path,
        "emb",
        {"ingest": str(tmp_path / "ingest"), "tokenizer": TOKENIZER, "init_from": str(tmp_path / "lm.safetensors")},
        slice_notes=(8, 16),
        max_tokens=64,
        emb_size=8,
    )
    metrics = run_training(CONTRASTIVE, c)
    assert metrics["train_pieces"] == 4 and metrics["val_pieces"] == 1 and metrics["unreadable_pieces"] == 0
    config = json.loads((c.model_dir / "config.json").read_text())
    assert config["model"]["emb_size"] == 8 and config["slice_notes"] == [8, 16] and config["max_tokens"] == 64
    assert config["stage"] == "aria_contrastive" and config["train"]["steps"] == 2
