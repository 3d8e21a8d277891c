"""Aria's ``--end``: force ``<D>`` (the ending token) within the last ``END_WINDOW`` positions.

As upstream: from a given absolute position on, a row that has not emitted ``<D>`` gets it as
its next token, but never between a note token and its onset/duration (a note is completed
first). A wrapper around the model, so the generation loop needs no Aria knowledge.
"""

from __future__ import annotations

import torch

from pipeline.aria.tokenizer import AbsTokenizer

END_WINDOW = 130  # upstream: <D> is forced somewhere in the last 130 tokens


class ForceEnd:
    """Wraps a model (generate's protocol) so that, from absolute position ``start`` on, each row
    that has not emitted ``<D>`` gets it as its next token unless that token completes a note
    (an onset or duration is due), as upstream Aria's ``--end``."""

    def __init__(self, model, tok: AbsTokenizer, start: int) -> None:
        self.model, self.tok, self.start, self.config = model, tok, start, model.config
        self.device = getattr(model, "device", None) or next(model.parameters()).device
        self.kind = _kinds(tok)  # id -> "note" | "onset" | "dur" | "other"
        self.tail: torch.Tensor | None = None  # last two tokens per row
        self.dim_seen: torch.Tensor | None = None

    def new_kv_cache(self, batch_size, max_len=None):
        return self.model.new_kv_cache(batch_size, max_len)

    def eval(self):
        return self

    def forward(self, idx, kv_cache=None, start_pos=0, last_only=False):
        logits = self.model(idx, kv_cache, start_pos, last_only=last_only)
        self._observe(idx, start_pos)
        pos = start_pos + idx.shape[1]  # absolute position of the token being predicted
        if pos < self.start:
            return logits
        prev, prev2 = self.tail[:, -1].tolist(), self.tail[:, -2].tolist()
        due = torch.tensor([self.kind.get(a) == "note" or (self.kind.get(a) == "onset" and self.kind.get(b) == "note")
                            for a, b in zip(prev, prev2)], device=logits.device)
        force = ~self.dim_seen.to(logits.device) & ~due
        if bool(force.any()):
            logits = logits.clone()
            last = logits[:, -1]
            last[force] = float("-inf")
            last[force, self.tok.dim_id] = 0.0
        return logits

    __call__ = forward

    def _observe(self, idx, start_pos):
        idx = idx.detach().cpu()
        if self.tail is None or start_pos == 0:
            pad = torch.full((idx.shape[0], 2), -1, dtype=idx.dtype)
            self.tail = torch.cat([pad, idx], dim=1)[:, -2:]
            self.dim_seen = (idx == self.tok.dim_id).any(dim=1)
        else:
            self.tail = torch.cat([self.tail, idx], dim=1)[:, -2:]
            self.dim_seen |= (idx == self.tok.dim_id).any(dim=1)


def _kinds(tok: AbsTokenizer) -> dict[int, str]:
    out = {}
    for i, t in enumerate(tok.vocab):
        k = tok._kind(t)
        out[i] = "note" if k in ("note", "drum", "pedal") else k if k in ("onset", "dur") else "other"
    return out
