"""NotaGen's language-model objective on the shared training loop: mean character
cross-entropy over the non-pad targets of every patch after the BOS patch (upstream's loss)."""

from __future__ import annotations

import math

import torch

from pipeline.train.objectives import Loss


class PatchLMObjective:
    name = "notagen_lm"

    def __call__(self, model: torch.nn.Module, batch) -> Loss:
        patches, masks = batch
        loss, n = model(patches, masks)
        return Loss(loss, torch.tensor(float(n), device=patches.device))

    def batch_tokens(self, batch) -> int:
        return int(batch[1].sum()) * int(batch[0].shape[-1])  # characters fed

    def to(self, batch, device: torch.device):
        return tuple(x.to(device, dtype=torch.long, non_blocking=True) for x in batch)

    def hparams(self) -> dict:
        return {"loss": "char_ce"}

    def val_metrics(self, loss: float, stats: dict[str, float]) -> dict[str, float]:
        return {"val_perplexity": math.exp(min(loss, 50.0))}  # per character
