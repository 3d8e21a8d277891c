"""Objectives: what the training loop minimises, behind one small interface.

An objective is called as ``objective(model, batch) -> Loss`` in train mode (gradients flow
through ``Loss.loss``) and in eval mode under ``torch.no_grad``. ``Loss.weight`` is the number
of items the loss is averaged over (target tokens for an LM, pairs for a contrastive loss), so
the loop can average validation losses exactly across batches and processes. ``Loss.stats``
holds extra floats (loss terms, accuracies, margins) that the loop averages into the history,
the curves and metrics.json. ``batch_tokens(batch)`` counts the tokens a batch feeds the model,
for throughput. ``to(batch, device)`` moves a batch.

Optional hooks (the loop calls them when present):
  ``setup(model, device)``            once the model is on its device: place frozen parts there
                                      (a DPO reference model), never trained, never saved.
  ``hparams() -> dict``               the objective's hyper-parameters, part of the resume fingerprint.
  ``val_metrics(loss, stats) -> dict`` extra validation metrics from the mean loss and stats
                                      (perplexity belongs to the LM objective, not the loop).

Objectives of the families live beside their models (VALL-E AR/NAR, the codec's); the generic
ones are here, in ``contrastive.py`` (InfoNCE) and ``dpo.py``. The adversarial loop's objectives
follow ``adversarial.AdversarialObjective``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
import torch.nn.functional as F


@dataclass
class Loss:
    loss: torch.Tensor  # scalar, mean over `weight` items
    weight: torch.Tensor  # scalar count the mean was taken over (float tensor)
    stats: dict[str, float] = field(default_factory=dict)


class Objective(Protocol):
    name: str

    def __call__(self, model: torch.nn.Module, batch: Any) -> Loss: ...

    def batch_tokens(self, batch: Any) -> int: ...

    def to(self, batch: Any, device: torch.device) -> Any: ...


class LMObjective:
    """Next-token cross-entropy over rows [B, T], pad targets ignored (Aria pretrain/finetune).

    The model sees ``batch[:, :-1]`` and predicts ``batch[:, 1:]``; the loss is the mean over
    target positions that are not ``pad_id``. A batch with no real target gives loss 0, weight 0.
    """

    name = "lm"

    def __init__(self, pad_id: int) -> None:
        self.pad_id = int(pad_id)

    def __call__(self, model: torch.nn.Module, batch: torch.Tensor) -> Loss:
        if batch.dim() != 2 or batch.shape[1] < 2:
            raise ValueError(f"LM batches must be [B, T>=2] token rows, got {tuple(batch.shape)}")
        inputs, targets = batch[:, :-1], batch[:, 1:]
        logits = model(inputs)
        n = (targets != self.pad_id).sum()
        loss_sum = F.cross_entropy(
            logits.flatten(0, 1).float(), targets.flatten(), ignore_index=self.pad_id, reduction="sum"
        )
        loss = loss_sum / n.clamp(min=1)
        return Loss(loss, n.float())

    def batch_tokens(self, batch: torch.Tensor) -> int:
        return int(batch.shape[0] * (batch.shape[1] - 1))

    def hparams(self) -> dict:
        return {"pad_id": self.pad_id}

    def val_metrics(self, loss: float, stats: dict[str, float]) -> dict[str, float]:
        return {"val_perplexity": math.exp(min(loss, 50.0))}

    def to(self, batch: torch.Tensor, device: torch.device) -> torch.Tensor:
        return batch.to(device, dtype=torch.long, non_blocking=True)
