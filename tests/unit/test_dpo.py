"""DPO-Positive objective (pipeline/train/dpo.py) on a tiny stand-in LM, through the shared loop."""

import math

import pytest
import torch
import torch.nn.functional as F

from pipeline.train import checkpoint as ckpt
from pipeline.train.dpo import DPOObjective, PreferenceBatches, dpo_positive_loss
from pipeline.train.loop import TrainConfig, train

pytestmark = [pytest.mark.unit, pytest.mark.usefixtures("one_thread")]

V = 12


class Bigram(torch.nn.Module):
    """A stand-in LM: next-token logits from the previous token."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.emb = torch.nn.Embedding(V, 16)
        self.out = torch.nn.Linear(16, V)

    def forward(self, ids):
        return self.out(self.emb(ids))


def logprob(model, items):
    """Summed next-token log-prob of each sequence (differentiable)."""
    out = []
    for ids in items:
        lp = F.log_softmax(model(ids[:-1]).float(), -1)
        out.append(lp.gather(-1, ids[1:, None]).sum())
    return torch.stack(out)


def toy_set():
    g = torch.Generator().manual_seed(3)
    chosen = [torch.tensor([1] + [2, 3] * 4) for _ in range(3)]  # alternating 2 3
    rejected = [torch.randint(4, V, (9,), generator=g) for _ in range(3)]
    items = chosen + rejected
    return items, [0, 1, 2], [3, 4, 5]


def cfg(**kw):
    base = dict(
        steps=12,
        lr=2e-2,
        warmup_steps=0,
        eval_every=4,
        checkpoint_every=4,
        progress=False,
        device="cpu",
        seed=5,
        weight_decay=0.0,
    )
    return TrainConfig(**{**base, **kw})


def test_loss_matches_the_formula_and_reduces_to_dpo():
    pc, pr = torch.tensor([-10.0, -3.0]), torch.tensor([-12.0, -2.0])
    rc, rr = torch.tensor([-11.0, -2.0]), torch.tensor([-11.0, -2.5])
    loss, stats = dpo_positive_loss(pc, pr, rc, rr, beta=0.1, lam=10.0)
    want = []
    for a, b, c, d in zip(pc, pr, rc, rr):
        z = (a - b) - (c - d) - 10.0 * max(0.0, float(c - a))
        want.append(-math.log(1 / (1 + math.exp(-0.1 * z))))
    assert float(loss) == pytest.approx(sum(want) / 2, rel=1e-6)
    plain, _ = dpo_positive_loss(pc, pr, rc, rr, beta=0.1, lam=0.0)
    assert float(plain) == pytest.approx(float(-F.logsigmoid(0.1 * ((pc - pr) - (rc - rr))).mean()))
    assert stats["reward_chosen"] == pytest.approx(0.1 * float((pc - rc).mean()))
    assert stats["margin"] == pytest.approx(stats["reward_chosen"] - stats["reward_rejected"])
    assert stats["accuracy"] == 0.5


def test_penalty_only_when_policy_drops_below_reference():
    pc = torch.tensor([-5.0], requires_grad=True)
    loss, _ = dpo_positive_loss(pc, torch.tensor([-6.0]), torch.tensor([-7.0]), torch.tensor([-6.0]))
    loss.backward()
    g_above = float(pc.grad)
    pc2 = torch.tensor([-8.0], requires_grad=True)
    loss2, s = dpo_positive_loss(pc2, torch.tensor([-6.0]), torch.tensor([-7.0]), torch.tensor([-6.0]))
    loss2.backward()
    assert s["dpop_penalty"] == pytest.approx(1.0)
    assert float(pc2.grad) < g_above < 0  # the penalty pushes the chosen log-prob up harder


def test_batches_are_pure_functions_of_the_step_and_empty_sets_fail():
    items, c, r = toy_set()
    b = PreferenceBatches(items, c, r, batch_size=2, seed=1)
    x, y = b.batch(5), b.batch(5)
    assert all(torch.equal(p, q) for p, q in zip(x[0] + x[1], y[0] + y[1]))
    assert b.n_pairs == 9 and len(list(b.once())) == 4  # 8 val pairs, batches of 2
    with pytest.raises(ValueError, match="empty preference set: 0 chosen"):
        PreferenceBatches(items, [], r)


def test_dpo_loss_decreases_and_reference_stays_frozen(tmp_path):
    items, c, r = toy_set()
    ref = Bigram(0)
    before = {k: v.clone() for k, v in ref.state_dict().items()}
    obj = DPOObjective(ref, logprob, beta=0.1, lam=10.0)
    res = train(
        Bigram(0),
        obj,
        PreferenceBatches(items, c, r, batch_size=2, seed=1),
        cfg(steps=40, eval_every=10),
        tmp_path,
        val=PreferenceBatches(items, c, r, batch_size=2, seed=1),
    )
    hist = res.history
    assert hist[-1]["train_loss"] < 0.7 * hist[0]["train_loss"]
    assert hist[-1]["val_loss"] < math.log(2)  # below the loss of a policy equal to the reference
    with torch.no_grad():
        pol, rf = logprob(res.model, items), logprob(obj.reference, items)
    assert bool((pol[:3] > rf[:3]).all())  # chosen likelihood went up (DPO-Positive)
    for k, v in obj.reference.state_dict().items():
        torch.testing.assert_close(v, before[k], msg=k)
    assert obj.hparams() == {"name": "dpo_positive", "beta": 0.1, "lambda": 10.0}


class Killed(Exception):
    pass


def test_kill_and_resume_equals_uninterrupted(tmp_path):
    items, c, r = toy_set()

    def run(out, hooks=(), seed=0):
        return train(
            Bigram(seed),
            DPOObjective(Bigram(0), logprob),
            PreferenceBatches(items, c, r, batch_size=2, seed=1),
            cfg(),
            out,
            hooks=hooks,
        )

    whole = run(tmp_path / "whole")

    def kill(done, _m):
        if done == 6:
            raise Killed

    with pytest.raises(Killed):
        run(tmp_path / "run", hooks=[kill])
    assert [p.name for p in ckpt.checkpoints(tmp_path / "run")] == ["step-00000004"]
    resumed = run(tmp_path / "run", seed=99)  # weights come from the checkpoint, not the init
    assert resumed.resumed_from == 4
    for (k, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=k)
