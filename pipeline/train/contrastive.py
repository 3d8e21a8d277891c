"""Contrastive (SimCSE/SimCLR-style) objective: symmetric InfoNCE over paired embeddings.

Upstream's ``contrastive_finetune.py`` (seed-systems 1.4): two random slices of the same piece
(``randint(100, 650)`` notes each, tokenised, cut to 2048 tokens, ``<E>`` forced at the end) are
embedded by ``TransformerEMB`` at ``<E>``; the loss is the symmetric InfoNCE over the batch: the
mean of the row- and column-wise cross-entropy of the cross-view cosine-similarity matrix divided
by the temperature (only view-a x view-b similarities, not SimCLR's full 2N x 2N matrix).

A batch is one LongTensor ``[2, B, T]``: ``batch[0]`` holds view a, ``batch[1]`` view b, rows
right-padded with ``<P>``. Both views go through the model in ONE forward pass (so DDP sees one
forward per backward). Under torchrun, every process's embeddings are gathered (with gradients,
``torch.distributed.nn.all_gather``) so the negatives are the pairs of the global batch, as in
one process with the global batch; each process computes the same global loss, and DDP's gradient
average then equals the gradient of that loss.
The pair batches of a family (e.g. ``pipeline.aria.pairs``) build the views.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pipeline.train.objectives import Loss


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Symmetric InfoNCE of paired embeddings a, b [B, D] (row i of a and b are one piece).

    ``logits = cos(a_i, b_j) / temperature``; loss = (CE(logits, diag) + CE(logits.T, diag)) / 2.
    Stats: ``pair_acc`` (fraction of rows and columns whose best match is the partner),
    ``pos_cos`` / ``neg_cos`` (mean cosine of partners / of other pairs).
    """
    if a.shape != b.shape or a.dim() != 2:
        raise ValueError(f"info_nce needs two [B, D] tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    n = a.shape[0]
    sim = F.normalize(a.float(), dim=-1) @ F.normalize(b.float(), dim=-1).T
    logits = sim / temperature
    target = torch.arange(n, device=a.device)
    loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    with torch.no_grad():
        hit = 0.5 * ((logits.argmax(1) == target).float().mean() + (logits.argmax(0) == target).float().mean())
        diag = sim.diagonal()
        off = (sim.sum() - diag.sum()) / max(n * n - n, 1)
        stats = {"pair_acc": float(hit), "pos_cos": float(diag.mean()), "neg_cos": float(off)}
    return loss, stats


def gather_across_processes(x: torch.Tensor) -> torch.Tensor:
    """[B, D] on each of W processes -> [W * B, D] in rank order, differentiable; ``x`` itself
    when not distributed. Every process must pass the same B."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x.contiguous()), dim=0)


class ContrastiveObjective:
    """``objective(model, batch[2, B, T]) -> Loss``: InfoNCE of the two views' ``<E>`` embeddings.

    ``model`` is a ``TransformerEMB`` (possibly DDP-wrapped): ``model(ids, eos_id=...) -> [N, D]``.
    """

    name = "contrastive"

    def __init__(self, eos_id: int, pad_id: int, temperature: float = 0.1) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.eos_id, self.pad_id, self.temperature = int(eos_id), int(pad_id), float(temperature)

    def __call__(self, model: torch.nn.Module, batch: torch.Tensor) -> Loss:
        if batch.dim() != 3 or batch.shape[0] != 2 or batch.shape[1] < 2:
            raise ValueError(
                f"contrastive batches must be [2, B>=2, T] (two views of B pieces), got {tuple(batch.shape)}"
            )
        n = batch.shape[1]
        emb = model(batch.flatten(0, 1), eos_id=self.eos_id)  # one forward for both views
        a, b = gather_across_processes(emb[:n]), gather_across_processes(emb[n:])
        loss, stats = info_nce(a, b, self.temperature)
        return Loss(loss, torch.tensor(float(n), device=batch.device), stats)

    def batch_tokens(self, batch: torch.Tensor) -> int:
        return int((batch != self.pad_id).sum())

    def hparams(self) -> dict:
        return {"eos_id": self.eos_id, "pad_id": self.pad_id, "temperature": self.temperature}

    def to(self, batch: torch.Tensor, device: torch.device) -> torch.Tensor:
        return batch.to(device, dtype=torch.long, non_blocking=True)
