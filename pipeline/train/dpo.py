"""DPO-Positive against a frozen reference (NotaGen's CLaMP-DPO loss), and its pair batches.

For a pair with summed log-probs ``pc, pr`` (policy, chosen/rejected) and ``rc, rr`` (reference):
``d = (pc - pr) - (rc - rr)`` and the loss is ``-log sigmoid(beta * (d - lam * max(0, rc - pc)))``
(Pal et al. 2024; upstream beta 0.1, lambda 10; lam 0 is plain DPO). Log-probs are SUMS over a
whole item, not length-normalised. The reference is frozen, evaluated in eval mode under
``no_grad``; the policy trains with dropout off (:func:`disable_dropout`, as TRL's DPO trainer
does by default). Upstream leaves dropout on: the policy's summed log-probs then fall below the
reference's by noise alone, and the DPO-Positive penalty swamps the loss (measured on the default
NotaGen: train loss ~30 against a validation loss of 0.35).

The objective is generic: ``logprob(model, items) -> Tensor[len(items)]`` says how a model scores a
list of items (token rows, [P, 16] patch tensors, ...); chosen and rejected go through ONE call,
so DDP sees one forward per backward; train a :class:`PolicyScores` (the policy behind a scoring
forward) when ``logprob`` bypasses the policy's ``forward``, else DDP would not average its
gradients. A batch is ``(chosen_items, rejected_items)``.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from pipeline.train.objectives import Loss

LogProb = Callable[[torch.nn.Module, list], torch.Tensor]


def dpo_positive_loss(
    pc: torch.Tensor, pr: torch.Tensor, rc: torch.Tensor, rr: torch.Tensor, beta: float = 0.1, lam: float = 10.0
) -> tuple[torch.Tensor, dict[str, float]]:
    """Mean DPO-Positive loss over pairs [B], and its stats (rewards, margins, accuracy)."""
    d = (pc - pr) - (rc - rr)
    penalty = torch.clamp(rc - pc, min=0)  # upstream: python max(0, .) -> same value and gradient
    loss = -F.logsigmoid(beta * (d - lam * penalty)).mean()
    with torch.no_grad():
        chosen_r, rejected_r = beta * (pc - rc), beta * (pr - rr)
        margin = chosen_r - rejected_r
        stats = {
            "reward_chosen": float(chosen_r.mean()),
            "reward_rejected": float(rejected_r.mean()),
            "margin": float(margin.mean()),
            "accuracy": float((margin > 0).float().mean()),
            "dpop_penalty": float(penalty.mean()),
            "logp_chosen": float(pc.mean()),
            "logp_rejected": float(pr.mean()),
        }
    return loss, stats


def disable_dropout(model: torch.nn.Module) -> torch.nn.Module:
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    return model


def frozen_copy(model: torch.nn.Module) -> torch.nn.Module:
    ref = copy.deepcopy(model)
    ref.requires_grad_(False)
    return ref.eval()


def _move(item: Any, device: torch.device) -> Any:
    if isinstance(item, torch.Tensor):
        return item.to(device, non_blocking=True)
    if isinstance(item, (list, tuple)):
        return type(item)(_move(x, device) for x in item)
    return item


class PolicyScores(torch.nn.Module):
    """The policy behind a ``forward(items) -> log-probs [len(items)]``: train this instead of the
    policy when ``logprob`` calls anything but the policy's ``forward`` (NotaGen's ``char_logits``),
    so that under DDP -- which synchronises gradients only of modules called through its own
    forward -- the policy's gradients are averaged across processes."""

    def __init__(self, policy: torch.nn.Module, logprob: LogProb) -> None:
        super().__init__()
        self.policy, self._logprob = policy, logprob

    def forward(self, items: list) -> torch.Tensor:
        return self._logprob(self.policy, items)


class DPOObjective:
    """``objective(policy, (chosen, rejected)) -> Loss`` with a frozen reference model."""

    name = "dpo_positive"

    def __init__(
        self,
        reference: torch.nn.Module,
        logprob: LogProb,
        beta: float = 0.1,
        lam: float = 10.0,
        tokens: Callable[[Any], int] | None = None,
    ) -> None:
        if beta <= 0 or lam < 0:
            raise ValueError(f"DPO needs beta > 0 and lambda >= 0, got beta={beta}, lambda={lam}")
        self.reference = (
            frozen_copy(reference) if any(p.requires_grad for p in reference.parameters()) else reference.eval()
        )
        self.logprob, self.beta, self.lam = logprob, float(beta), float(lam)
        self.tokens = tokens or (lambda item: int(item.numel()))

    def setup(self, model: torch.nn.Module, device: torch.device) -> None:
        """Place the frozen reference next to the policy (the loop calls this once)."""
        self.reference.to(device).eval()

    def __call__(self, model: torch.nn.Module, batch) -> Loss:
        chosen, rejected = batch
        if len(chosen) != len(rejected) or not chosen:
            raise ValueError(
                f"DPO batch needs as many chosen as rejected items (>0), got {len(chosen)} and {len(rejected)}"
            )
        n = len(chosen)
        dev = next(model.parameters()).device
        if next(self.reference.parameters()).device != dev:
            self.setup(model, dev)
        scored = isinstance(getattr(model, "module", model), PolicyScores)
        pol = model(list(chosen) + list(rejected)) if scored else self.logprob(model, list(chosen) + list(rejected))
        with torch.no_grad():
            ref = self.logprob(self.reference, list(chosen) + list(rejected))
        loss, stats = dpo_positive_loss(pol[:n], pol[n:], ref[:n], ref[n:], self.beta, self.lam)
        return Loss(loss, torch.tensor(float(n), device=loss.device), stats)

    def batch_tokens(self, batch) -> int:
        return sum(self.tokens(x) for part in batch for x in part)

    def to(self, batch, device: torch.device):
        return tuple(_move(list(part), device) for part in batch)

    def hparams(self) -> dict:
        return {"name": self.name, "beta": self.beta, "lambda": self.lam}


class PreferenceBatches:
    """Pairs drawn uniformly from chosen x rejected (upstream: batch = 1 pair), seeded by step.

    ``items`` is the list of all items; ``chosen``/``rejected`` index into it. Batch ``i`` is a pure
    function of (seed, rank, world_size, i). ``once()`` walks a fixed sample of pairs (validation).
    """

    def __init__(
        self,
        items: Sequence[Any],
        chosen: Sequence[int],
        rejected: Sequence[int],
        batch_size: int = 1,
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        seq_len: int = 0,
        val_pairs: int = 8,
    ) -> None:
        if not chosen or not rejected:
            raise ValueError(f"empty preference set: {len(chosen)} chosen, {len(rejected)} rejected")
        if set(chosen) & set(rejected):
            raise ValueError("an item is both chosen and rejected")
        self.items, self.chosen, self.rejected = list(items), list(chosen), list(rejected)
        self.batch_size, self.seed, self.rank, self.world_size = int(batch_size), seed, rank, world_size
        self.seq_len, self.val_pairs = seq_len, val_pairs

    @property
    def n_pairs(self) -> int:
        return len(self.chosen) * len(self.rejected)

    def describe(self) -> dict:
        return {
            "kind": "preference_pairs",
            "chosen": self.chosen,
            "rejected": self.rejected,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "draw": "global",
        }

    def _pairs(self, flat: np.ndarray):
        c = [self.items[self.chosen[int(k) // len(self.rejected)]] for k in flat]
        r = [self.items[self.rejected[int(k) % len(self.rejected)]] for k in flat]
        return c, r

    def batch(self, i: int):
        """This rank's share of the ``world_size * batch_size`` pairs drawn for step ``i`` (seeded by
        (seed, i)), so N processes with batch B/N train on the pairs one process draws with batch B."""
        rng = np.random.default_rng([self.seed, i])
        flat = rng.integers(0, self.n_pairs, size=self.batch_size * self.world_size)
        return self._pairs(flat[self.rank :: self.world_size])

    def once(self, max_batches: int | None = None):
        rng = np.random.default_rng([self.seed, 7919])
        flat = rng.permutation(self.n_pairs)[: self.val_pairs][self.rank :: self.world_size]
        for k, s in enumerate(range(0, len(flat), self.batch_size)):
            if max_batches is not None and k >= max_batches:
                return
            yield self._pairs(flat[s : s + self.batch_size])
