"""Training loop: schedule values, tiny overfit, kill-and-resume equals an uninterrupted run,
checkpoint format (weights_only), fingerprint mismatch starts fresh, batch sharding, torchrun."""

import json
import logging
import math

import numpy as np
import pytest
import torch

from pipeline.aria.model import ModelConfig, build
from pipeline.train import checkpoint as ckpt
from pipeline.train.batches import RowBatches
from pipeline.train.loop import TrainConfig, train
from pipeline.train.objectives import LMObjective
from pipeline.train.schedule import lr_at, make_scheduler

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

VOCAB, PAD = 40, 2
CFG = ModelConfig(d_model=32, n_heads=2, n_layers=1, vocab_size=VOCAB, max_seq_len=32)


def rows(n=16, t=17, seed=0):
    pats = np.random.default_rng(seed).integers(6, VOCAB, size=(4, t))
    out = np.concatenate([pats] * (n // 4)).astype(np.int32)
    out[-1, -3:] = PAD  # some padding, ignored by the loss
    return out


def model(seed=0):
    torch.manual_seed(seed)
    return build(CFG)


def tcfg(**kw):
    base = dict(
        steps=12, lr=3e-3, warmup_steps=3, eval_every=4, checkpoint_every=4, progress=False, device="cpu", seed=7
    )
    return TrainConfig(**{**base, **kw})


# ----------------------------------------------------------------------------- schedule
def test_schedule_warmup_then_decay_to_ten_percent():
    peak = 1e-3
    assert lr_at(0, peak, 10, 100) == pytest.approx(peak * 1e-6)
    assert lr_at(5, peak, 10, 100) == pytest.approx(peak * (1e-6 + (1 - 1e-6) * 0.5))
    assert lr_at(10, peak, 10, 100) == pytest.approx(peak)
    assert lr_at(55, peak, 10, 100) == pytest.approx(peak * 0.55)
    assert lr_at(100, peak, 10, 100) == pytest.approx(peak * 0.1)
    assert lr_at(500, peak, 10, 100) == pytest.approx(peak * 0.1)

    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=peak)
    sched = make_scheduler(opt, warmup_steps=4, total_steps=10)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(peak * 1e-6) and lrs[4] == pytest.approx(peak)
    assert lrs[-1] == pytest.approx(0.1 * peak)
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:]))


# ----------------------------------------------------------------------------- loop
def test_loss_decreases_on_tiny_overfit(tmp_path):
    r = rows()
    res = train(
        model(),
        LMObjective(PAD),
        RowBatches(r, 4, seed=1),
        tcfg(steps=60, eval_every=20),
        tmp_path,
        val=RowBatches(r[:4], 4, shuffle=False),
    )
    first, last = res.history[0], res.history[-1]
    assert [h["step"] for h in res.history] == [20, 40, 60]
    assert last["val_loss"] < 0.5 * first["val_loss"]
    assert res.val_metrics["val_perplexity"] == pytest.approx(math.exp(res.val_loss))
    assert res.tokens == 60 * 4 * 16 and res.tokens_per_s > 0


class Killed(Exception):
    pass


def kill_at(step):
    def hook(done, _model):
        if done == step:
            raise Killed(f"killed after step {done}")

    return hook


def test_kill_and_resume_matches_uninterrupted_run(tmp_path):
    r, obj = rows(), LMObjective(PAD)
    ref = train(
        model(), obj, RowBatches(r, 4, seed=1), tcfg(), tmp_path / "ref", val=RowBatches(r[:4], 4, shuffle=False)
    )

    run = tmp_path / "run"
    with pytest.raises(Killed):  # dies after step 6: checkpoint 4 exists, steps 5-6 are lost
        train(
            model(),
            obj,
            RowBatches(r, 4, seed=1),
            tcfg(),
            run,
            hooks=[kill_at(6)],
            val=RowBatches(r[:4], 4, shuffle=False),
        )
    assert [p.name for p in ckpt.checkpoints(run)] == ["step-00000004"]
    res = train(model(seed=123), obj, RowBatches(r, 4, seed=1), tcfg(), run, val=RowBatches(r[:4], 4, shuffle=False))
    assert res.resumed_from == 4
    for (k, a), b in zip(ref.model.state_dict().items(), res.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=k)
    assert [h["step"] for h in res.history] == [4, 8, 12]
    assert res.history[-1]["val_loss"] == pytest.approx(ref.history[-1]["val_loss"], rel=1e-5)


def test_checkpoint_files_load_with_weights_only(tmp_path):
    train(model(), LMObjective(PAD), RowBatches(rows(), 4), tcfg(steps=4), tmp_path)
    last = ckpt.latest(tmp_path)
    assert last.name == "step-00000004"
    assert {p.name for p in last.iterdir()} == {"model.safetensors", "state.pt", "meta.json"}
    state = torch.load(last / "state.pt", weights_only=True)
    assert state["step"] == 4 and isinstance(state["rng"]["torch"], torch.Tensor)
    assert isinstance(state["rng"]["numpy"]["keys"], torch.Tensor)
    assert json.loads((last / "meta.json").read_text())["fingerprint"] == state["fingerprint"]
    ckpt.set_rng_state(state["rng"])  # round-trips


def test_changed_params_start_fresh_with_a_log_line(tmp_path, caplog):
    r = rows()
    train(model(), LMObjective(PAD), RowBatches(r, 4), tcfg(steps=4), tmp_path)
    with caplog.at_level(logging.INFO, logger="ostinato.train"):
        res = train(model(), LMObjective(PAD), RowBatches(r, 4), tcfg(steps=4, lr=1e-3), tmp_path)
    assert res.resumed_from is None
    assert "other training params" in caplog.text and "starting fresh" in caplog.text
    same = train(model(), LMObjective(PAD), RowBatches(r, 4), tcfg(steps=4, lr=1e-3), tmp_path)
    assert same.resumed_from == 4  # finished run: nothing left to do


def test_grad_accum_matches_a_bigger_batch(tmp_path):
    r = rows()
    r[:, -3:] = 7  # no padding: equal token counts per micro-batch
    a = train(model(), LMObjective(PAD), RowBatches(r, 8, seed=3), tcfg(steps=3), tmp_path / "a")
    b = train(model(), LMObjective(PAD), RowBatches(r, 4, seed=3), tcfg(steps=3, grad_accum=2), tmp_path / "b")
    for x, y in zip(a.model.parameters(), b.model.parameters()):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5)


def test_batches_are_step_indexed_and_sharded():
    r = np.arange(10 * 3).reshape(10, 3)
    b = RowBatches(r, 2, seed=5)
    assert torch.equal(b.batch(7), RowBatches(r, 2, seed=5).batch(7))
    first_epoch = torch.cat([b.batch(i) for i in range(5)])[:, 0].sort().values
    assert first_epoch.tolist() == list(range(0, 30, 3))
    shards = [RowBatches(r, 5, seed=5, rank=k, world_size=2).batch(0)[:, 0].tolist() for k in (0, 1)]
    assert sorted(shards[0] + shards[1]) == list(range(0, 30, 3))  # disjoint, cover the epoch


def test_aria_rows_insert_dim_and_augment_keep_the_row_shape():
    from pipeline.aria.lm import AriaRows, matches
    from pipeline.aria.tokenizer import AbsTokenizer

    tok = AbsTokenizer()
    notes = [t for i in range(60) for t in (("piano", 60 + i % 12, 80), ("onset", (i * 70) % 5000), ("dur", 100))]
    piece = [("prefix", "instrument", "piano"), "<S>", *notes, "<E>"]  # 183 tokens
    row = np.array((tok.encode(piece) * 3)[:400], dtype=np.int32)  # two whole pieces + a cut one
    out = AriaRows(tok.config, tok.pad_id, augment=False)(row, np.random.default_rng(0))
    assert out.shape == row.shape and (out == tok.dim_id).sum() == 2
    ends = np.flatnonzero(out == tok.eos_id)
    dims = np.flatnonzero(out == tok.dim_id)
    assert all(80 <= e - d <= 115 for d, e in zip(dims, ends))
    assert all(tok.kind(tok.vocab[out[d + 1]]) not in ("onset", "dur") for d in dims)
    aug = AriaRows(tok.config, tok.pad_id, augment=True)
    a, b = aug(row, np.random.default_rng(1)), aug(row, np.random.default_rng(1))
    assert a.shape == row.shape and np.array_equal(a, b)  # seeded
    assert matches({"period": "baroque"}, {"period": ["baroque", "classical"]})
    assert not matches({"labels": {"period": "folk"}}, {"period": ["baroque"]})
