"""The two training objectives of the scorer, on the training core's objective contract.

* :class:`MaskedPatchObjective` (M3 pretraining): 45% of a piece's patches are corrupted (80%
  every char -> MASK id 3, 10% chars shuffled inside the patch, 10% unchanged) and a small GPT-2
  rebuilds each selected patch's original chars from its encoder state; loss = mean char
  cross-entropy over non-pad targets.
* :class:`ClampObjective` (CLaMP alignment): symmetric InfoNCE between the pooled, projected
  music and text features of paired rows (the generic ``info_nce``: cosine / temperature;
  upstream uses raw dot products with a fixed scale of 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pipeline.clamp.patches import PAD_ID
from pipeline.train.contrastive import info_nce
from pipeline.train.objectives import Loss


def _to(batch, device):
    return tuple(t.to(device, non_blocking=True) for t in batch)


class MaskedPatchObjective:
    """batch = (inputs [B, L, P], targets [B, L, P], mask [B, L], selected [B, L] bool)."""

    name = "m3_masked_patch"

    def __call__(self, model, batch) -> Loss:
        inputs, targets, mask, selected = batch
        if not bool(selected.any()):
            raise ValueError("masked-patch batch selects no patch")
        logits = model(inputs, mask, selected, targets)
        tgt = targets[selected]
        n = (tgt != PAD_ID).sum()
        loss = F.cross_entropy(
            logits.flatten(0, 1).float(), tgt.flatten(), ignore_index=PAD_ID, reduction="sum"
        ) / n.clamp(min=1)
        with torch.no_grad():
            hit = ((logits.argmax(-1) == tgt) & (tgt != PAD_ID)).sum() / n.clamp(min=1)
        return Loss(loss, n.float(), {"char_acc": float(hit)})

    def batch_tokens(self, batch) -> int:
        return int((batch[1] != PAD_ID).sum())

    def to(self, batch, device):
        return _to(batch, device)

    def hparams(self) -> dict:
        return {"name": self.name}


class ClampObjective:
    """batch = (patches [B, L, P], patch mask [B, L], text ids [B, T], text mask [B, T])."""

    name = "clamp_info_nce"

    def __init__(self, temperature: float = 0.1) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def __call__(self, model, batch) -> Loss:
        patches, pmask, text, tmask = batch
        if patches.shape[0] < 2:
            raise ValueError("contrastive batches need >= 2 pieces (in-batch negatives)")
        music, words = model(patches, pmask, text, tmask)
        loss, stats = info_nce(music, words, self.temperature)
        return Loss(loss, torch.tensor(float(patches.shape[0]), device=patches.device), stats)

    def batch_tokens(self, batch) -> int:
        return int(batch[1].sum() + batch[3].sum())

    def to(self, batch, device):
        return _to(batch, device)

    def hparams(self) -> dict:
        return {"name": self.name, "temperature": self.temperature}
