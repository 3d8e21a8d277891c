"""VALL-E training objective: AR loss on codebook 0 and NAR loss on one drawn codebook 1..n-1.

Upstream sums the cross-entropy; the shared loop wants means, so each part is its sum divided by
its target count (AR: every frame incl. padded ones, which are trained towards EOS, no
ignore_index; NAR: real frames after the prompt). ``train_stage`` 0 returns (AR + NAR) / 2 like
upstream, 1 AR only, 2 NAR only. Accuracies are top-10 (upstream's metric), EOS ignored on AR.
The NAR stage and prompt length travel in the batch (drawn by ``ValleBatches`` from (seed, i)),
so a resumed run sees the same draws.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pipeline.train.objectives import Loss

TRAIN_STAGES = {0: "ar+nar", 1: "ar", 2: "nar"}


def topk_accuracy(logits: torch.Tensor, targets: torch.Tensor, ignore: int, k: int = 10) -> float:
    keep = targets != ignore
    if not bool(keep.any()):
        return 0.0
    top = logits.topk(min(k, logits.shape[-1]), dim=-1).indices
    hit = (top == targets[..., None]).any(-1)
    return float(hit[keep].float().mean())


class ValleObjective:
    name = "valle"

    def __init__(self, train_stage: int = 0) -> None:
        if train_stage not in TRAIN_STAGES:
            raise ValueError(f"train_stage must be one of {sorted(TRAIN_STAGES)}, got {train_stage}")
        self.train_stage = train_stage

    def hparams(self) -> dict:
        return {"train_stage": self.train_stage}

    def __call__(self, model, batch: dict) -> Loss:
        midi, x_lens, codes, y_lens = batch["midi"], batch["x_lens"], batch["codes"], batch["y_lens"]
        stats, parts = {}, []
        frames = torch.tensor(float(codes.shape[0] * codes.shape[1]), device=codes.device)
        out = model(
            midi, x_lens, codes, y_lens, self.train_stage, int(batch.get("nar_stage", 1)), int(batch.get("prefix", 0))
        )
        if self.train_stage in (0, 1):
            logits, targets = out["ar"]
            ar = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="sum")
            ar = ar / targets.numel()
            parts.append(ar)
            stats["ar_loss"] = float(ar.detach())
            stats["ar_accuracy"] = topk_accuracy(logits.detach(), targets, ignore=logits.shape[-1] - 1)
        if self.train_stage in (0, 2):
            logits, targets = out["nar"]
            bins = logits.shape[-1]
            n = (targets != bins).sum().clamp(min=1)
            nar = (
                F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=bins, reduction="sum") / n
            )
            parts.append(nar)
            stats["nar_loss"] = float(nar.detach())
            stats["nar_accuracy"] = topk_accuracy(logits.detach(), targets, ignore=bins)
        loss = sum(parts) / len(parts) + out["zero"]
        return Loss(loss, frames, stats)

    def batch_tokens(self, batch: dict) -> int:
        return int(batch["y_lens"].sum() + batch["x_lens"].sum())

    def to(self, batch: dict, device) -> dict:
        return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
