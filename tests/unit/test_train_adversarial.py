"""The generic adversarial loop: resume equals uninterrupted, grad accumulation equivalence,
loss stats in the history (toy generator/discriminator so the test is fast and exact)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pipeline.train import checkpoint as ckpt
from pipeline.train.adversarial import AdversarialConfig, train_adversarial
from pipeline.train.objectives import Loss

pytestmark = pytest.mark.unit


class Stream:
    """Item k = a fixed random vector; batch i = items [iB, (i+1)B) (like CropBatches)."""

    rank, world_size = 0, 1

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size

    def item(self, k: int) -> np.ndarray:
        return np.random.default_rng([7, k]).normal(size=8).astype(np.float32)

    def batch(self, i: int) -> torch.Tensor:
        return torch.from_numpy(np.stack([self.item(k) for k in range(i * self.batch_size, (i + 1) * self.batch_size)]))

    def once(self, max_batches=None):
        yield torch.from_numpy(np.stack([self.item(10_000 + k) for k in range(4)]))

    def describe(self) -> dict:
        return {"toy": True}


class Toy:
    """Mean-reduced (so batch-linear) LS-GAN + L1 reconstruction."""

    name = "toy_adv"

    def to(self, batch, device):
        return batch.to(device)

    def batch_tokens(self, batch):
        return int(batch.numel())

    def hparams(self):
        return {"v": 1}

    def generator_step(self, gen, disc, batch, adversarial):
        fake = gen(batch)
        l1 = (fake - batch).abs().mean()
        total, stats = l1, {"l1": float(l1.detach())}
        if adversarial:
            adv = (1 - disc(fake)).pow(2).mean()
            total = total + 0.5 * adv
            stats["adv"] = float(adv.detach())
        return Loss(total, torch.tensor(float(len(batch))), stats), fake.detach()

    def discriminator_step(self, disc, batch, fake):
        real, fk = (1 - disc(batch)).pow(2).mean(), disc(fake).pow(2).mean()
        return Loss(
            real + fk, torch.tensor(float(len(batch))), {"d_real": float(real.detach()), "d_fake": float(fk.detach())}
        )

    def val_step(self, gen, batch):
        l1 = (gen(batch) - batch).abs().mean()
        return Loss(l1, torch.tensor(float(len(batch))), {"l1": float(l1)})


def models(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 8)), nn.Sequential(
        nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1)
    )


def cfg(**kw):
    base = dict(
        steps=6,
        lr=1e-2,
        disc_lr=1e-2,
        adv_start=2,
        eval_every=2,
        checkpoint_every=2,
        log_every=100,
        device="cpu",
        progress=False,
        warmup_steps=1,
        final_lr_frac=0.5,
    )
    return AdversarialConfig(**(base | kw))


def params(m):
    return torch.cat([p.detach().flatten() for p in m.parameters()])


class Stop(Exception):
    pass


def test_resume_equals_uninterrupted(tmp_path):
    g1, d1 = models()
    full = train_adversarial(g1, d1, Toy(), Stream(4), cfg(), tmp_path / "a", val=Stream(4))
    g2, d2 = models()

    def stop(step, _):
        if step == 4:
            raise Stop

    with pytest.raises(Stop):
        train_adversarial(g2, d2, Toy(), Stream(4), cfg(), tmp_path / "b", val=Stream(4), hooks=[stop])
    assert ckpt.latest(tmp_path / "b").name == "step-00000004"
    g3, d3 = models(seed=123)  # different init: everything must come from the checkpoint
    resumed = train_adversarial(g3, d3, Toy(), Stream(4), cfg(), tmp_path / "b", val=Stream(4))
    assert resumed.resumed_from == 4
    assert torch.equal(params(g1), params(g3)) and torch.equal(params(d1), params(d3))
    assert [r["step"] for r in resumed.history] == [2, 4, 6]
    assert resumed.history == full.history


def test_history_logs_loss_terms(tmp_path):
    g, d = models()
    res = train_adversarial(g, d, Toy(), Stream(4), cfg(), tmp_path, val=Stream(4))
    first, last = res.history[0], res.history[-1]
    assert "train_adv" not in first and "d_loss" not in first  # before adv_start
    for key in ("train_loss", "train_l1", "train_adv", "d_loss", "d_real", "d_fake", "val_loss", "val_l1", "lr"):
        assert key in last and np.isfinite(last[key])
    assert res.tokens == 6 * 4 * 8 and res.val_loss == last["val_loss"]


def test_grad_accumulation_equals_one_big_batch(tmp_path):
    g1, d1 = models()
    train_adversarial(g1, d1, Toy(), Stream(4), cfg(steps=3, grad_clip=0), tmp_path / "a")
    g2, d2 = models()
    train_adversarial(g2, d2, Toy(), Stream(2), cfg(steps=3, grad_accum=2, grad_clip=0), tmp_path / "b")
    assert torch.allclose(params(g1), params(g2), atol=1e-5)
    assert torch.allclose(params(d1), params(d2), atol=1e-5)


def test_other_params_start_fresh(tmp_path):
    g, d = models()
    train_adversarial(g, d, Toy(), Stream(4), cfg(steps=2), tmp_path)
    g2, d2 = models()
    res = train_adversarial(g2, d2, Toy(), Stream(4), cfg(steps=2, lr=5e-3), tmp_path)
    assert res.resumed_from is None
