"""Checks every objective must pass on the training core; family tests call them with their
own model, objective and batches (see tests/unit/test_train_core.py for the Aria objectives).

* ``check_resume``: a run killed after step 6 (checkpoint at 4) and resumed equals an
  uninterrupted run (weights and the last validation loss).
* ``check_grad_accum``: one step with ``grad_accum=2`` equals one AdamW step on the mean of
  the two micro-batches' gradients, computed by hand (true for any objective, including ones
  whose batches are not separable, such as InfoNCE).
"""

from __future__ import annotations

import pytest
import torch

from pipeline.train import checkpoint as ckpt
from pipeline.train.loop import TrainConfig, param_groups, train


class Killed(Exception):
    pass


def kill_at(step):
    def hook(done, _model):
        if done == step:
            raise Killed(f"killed after step {done}")

    return hook


def config(**kw) -> TrainConfig:
    base = dict(
        steps=8, lr=3e-3, warmup_steps=0, eval_every=4, checkpoint_every=4, progress=False, device="cpu", seed=7
    )
    return TrainConfig(**{**base, **kw})


def check_resume(make_model, objective, make_batches, tmp_path, make_val=None):
    val = make_val() if make_val else None
    ref = train(make_model(), objective, make_batches(), config(), tmp_path / "ref", val=val)
    run = tmp_path / "run"
    with pytest.raises(Killed):
        train(
            make_model(),
            objective,
            make_batches(),
            config(),
            run,
            hooks=[kill_at(6)],
            val=make_val() if make_val else None,
        )
    assert [p.name for p in ckpt.checkpoints(run)] == ["step-00000004"]
    res = train(make_model(), objective, make_batches(), config(), run, val=make_val() if make_val else None)
    assert res.resumed_from == 4
    for (k, a), b in zip(ref.model.state_dict().items(), res.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=k)
    if val is not None:
        assert res.val_loss == pytest.approx(ref.val_loss, rel=1e-5)
    return ref


def check_grad_accum(make_model, objective, make_batches, tmp_path, grad_clip=1.0):
    cfg = config(steps=1, grad_accum=2, checkpoint_every=1, eval_every=1, grad_clip=grad_clip)
    got = train(make_model(), objective, make_batches(), cfg, tmp_path / "accum").model

    torch.manual_seed(cfg.seed)  # the loop seeds torch before its first step (dropout, sampling)
    model = make_model()
    if hasattr(objective, "setup"):
        objective.setup(model, torch.device("cpu"))
    opt = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)
    batches = make_batches()
    model.train()
    for i in range(2):
        out = objective(model, objective.to(batches.batch(i), torch.device("cpu")))
        (out.loss / 2).backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    opt.step()
    for (k, a), b in zip(model.state_dict().items(), got.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=k)
