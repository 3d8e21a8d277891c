"""A KV cache that follows a growing performance, so the prompt is encoded while it is played.

``sync(ids)`` keeps the cached positions that agree with ``ids`` (the longest common prefix)
and prefills only the rest, in chunks; a retokenised performance that changed near its end
(a note released, so its duration is known now) rewinds to the first difference, as upstream's
demo does. ``prime(ids)`` makes the cache hold ``ids`` and returns the next-token logits;
``step(id)`` appends one token. Works with any model of the ``pipeline.sample.generate``
protocol (TransformerLM, or the MLX port behind its TorchAdapter). Not thread-safe: one
thread drives it at a time.
"""

from __future__ import annotations

import torch

PREFILL_CHUNK = 128  # long chunks amortise the per-call cost; the cache accepts any length


class StreamingContext:
    def __init__(self, model, max_len: int | None = None) -> None:
        self.model = model
        self.max_len = int(max_len or model.config.max_seq_len)
        self.cache = model.new_kv_cache(1, self.max_len)
        self.ids: list[int] = []  # the tokens whose keys/values the cache holds, in order
        self.prefilled = 0  # tokens encoded so far (rewinds re-encode: counts them again)
        dev = getattr(model, "device", None)
        self.device = torch.device(dev) if dev is not None else next(model.parameters()).device

    def common_prefix(self, ids: list[int]) -> int:
        n = 0
        for a, b in zip(self.ids, ids):
            if a != b:
                break
            n += 1
        return n

    def _forward(self, ids: list[int], start: int) -> torch.Tensor:
        if start + len(ids) > self.max_len:
            raise ValueError(
                f"the performance needs {start + len(ids)} tokens, more than the checkpoint's context "
                f"(max_seq_len {self.max_len}): start a new session"
            )
        x = torch.tensor([ids], dtype=torch.long, device=self.device)
        with torch.inference_mode():
            out = self.model(x, self.cache, start, last_only=True)
        self.prefilled += len(ids)
        return out[0, -1].float()

    def sync(self, ids: list[int]) -> int:
        """Make the cache hold ``ids``; returns how many tokens had to be encoded."""
        keep = self.common_prefix(ids)
        self.ids = self.ids[:keep]
        for a in range(keep, len(ids), PREFILL_CHUNK):
            chunk = [int(i) for i in ids[a : a + PREFILL_CHUNK]]
            self._forward(chunk, a)
            self.ids += chunk
        return len(ids) - keep

    def prime(self, ids: list[int]) -> torch.Tensor:
        """Cache ``ids`` (re-encoding at least the last one) and return the logits [V] after them."""
        if not ids:
            raise ValueError("cannot prime an empty context")
        self.sync(ids[:-1])
        return self.step(ids[-1])

    def rewind(self, n: int) -> None:
        """Forget all but the first ``n`` tokens (their cache slots are overwritten next)."""
        self.ids = self.ids[:n]

    def step(self, token: int) -> torch.Tensor:
        """Append one token; the logits [V] for the position after it."""
        logits = self._forward([int(token)], len(self.ids))
        self.ids.append(int(token))
        return logits
