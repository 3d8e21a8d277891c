"""Encoders that turn token rows into vectors, and running one over many rows in batches.

Encoders (``encode(ids[B, T], eos_pos[B]) -> {name: [B, D]}``):
  ``EmbEncoder``    a ``TransformerEMB``: ``emb_head`` output at ``<E>`` -> "contrastive".
  ``TrunkEncoder``  a frozen ``TransformerLM``'s trunk (after the final LayerNorm, no LM head):
                    mean over positions ``<S>``..``<E>`` -> "frozen_mean", state at ``<E>`` -> "frozen_last".
Rows are right-padded with ``<P>``; attention is causal, so padding never changes a real position.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch


class EmbEncoder:
    """``TransformerEMB`` -> {"contrastive": emb_head output at ``<E>``}."""

    def __init__(self, model, name: str = "contrastive") -> None:
        if getattr(model, "emb_head", None) is None:
            raise ValueError("EmbEncoder needs a TransformerEMB (a model with emb_head)")
        self.model, self.names = model.eval(), (name,)
        self.max_seq_len = model.config.max_seq_len

    @torch.no_grad()
    def encode(self, ids: torch.Tensor, eos_pos: torch.Tensor) -> dict[str, torch.Tensor]:
        return {self.names[0]: self.model(ids, eos_pos).float()}


class TrunkEncoder:
    """A frozen LM's trunk -> {"frozen_mean": mean state over <S>..<E>, "frozen_last": state at <E>}."""

    names = ("frozen_mean", "frozen_last")

    def __init__(self, model) -> None:
        self.model = model.eval()
        self.max_seq_len = model.config.max_seq_len

    @torch.no_grad()
    def encode(self, ids: torch.Tensor, eos_pos: torch.Tensor) -> dict[str, torch.Tensor]:
        end = int(eos_pos.max()) + 1
        h = self.model.model(ids[:, :end]).float()  # [B, T, d] after the final LayerNorm
        pos = torch.arange(end, device=ids.device)[None, :]
        keep = (pos <= eos_pos[:, None]).float()[..., None]
        mean = (h * keep).sum(1) / keep.sum(1)
        last = h[torch.arange(ids.shape[0], device=ids.device), eos_pos]
        return {"frozen_mean": mean, "frozen_last": last}


def encode_rows(
    encoder,
    rows: Sequence[Sequence[int]],
    pad_id: int,
    eos_id: int,
    batch_tokens: int = 16384,
    progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Encode token rows (each ends with ``<E>``) in length-sorted batches of at most
    ``batch_tokens`` padded tokens; returns {name: float32 [len(rows), D]} in input order."""
    if not rows:
        raise ValueError("nothing to encode")
    too_long = [i for i, r in enumerate(rows) if len(r) > encoder.max_seq_len]
    if too_long:
        raise ValueError(
            f"{len(too_long)} rows are longer than the model's max_seq_len {encoder.max_seq_len}: lower max_tokens"
        )
    device = next(encoder.model.parameters()).device
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))
    out: dict[str, np.ndarray] = {}
    i = 0
    while i < len(order):
        width = len(rows[order[i]])
        take = max(1, batch_tokens // max(width, 1))
        idx = order[i : i + take]
        ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
        for r, j in enumerate(idx):
            ids[r, : len(rows[j])] = torch.as_tensor(rows[j], dtype=torch.long)
        eos = torch.tensor([len(rows[j]) - 1 for j in idx], dtype=torch.long)
        if not bool((ids[torch.arange(len(idx)), eos] == eos_id).all()):
            raise ValueError("every row must end with <E>")
        for name, v in encoder.encode(ids.to(device), eos.to(device)).items():
            if name not in out:
                out[name] = np.zeros((len(rows), v.shape[1]), dtype=np.float32)
            out[name][idx] = v.cpu().numpy()
        i += len(idx)
        if progress is not None:
            progress(len(idx))
    return out
