"""A preallocated key/value cache for autoregressive decoding.

One ``[B, H, max_len, Dh]`` key tensor and one value tensor per layer, allocated once.
A forward pass at ``start_pos`` with ``T`` new tokens writes positions
``start_pos .. start_pos+T-1`` of every layer and attends over ``0 .. start_pos+T-1``.
"Prefill" is a forward with the prompt at ``start_pos=0``; "decode" is a forward with
one token at ``start_pos=<tokens seen so far>``.
"""

from __future__ import annotations

import torch


class KVCache:
    def __init__(
        self,
        n_layers: int,
        batch_size: int,
        n_heads: int,
        max_len: int,
        head_dim: int,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> None:
        if min(n_layers, batch_size, n_heads, max_len, head_dim) < 1:
            raise ValueError("KVCache sizes must all be >= 1")
        shape = (batch_size, n_heads, max_len, head_dim)
        self.k = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.v = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.batch_size = batch_size
        self.max_len = max_len
        self.length = 0  # number of positions written so far (max over layers)

    def update(
        self, layer: int, k_new: torch.Tensor, v_new: torch.Tensor, start_pos: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write ``k_new``/``v_new`` ([B, H, T, Dh]) at ``start_pos``; return keys/values 0..start_pos+T."""
        t = k_new.shape[2]
        end = start_pos + t
        if start_pos < 0 or end > self.max_len:
            raise ValueError(f"KVCache holds {self.max_len} positions; cannot write {start_pos}..{end - 1}")
        if k_new.shape[0] != self.batch_size:
            raise ValueError(f"KVCache batch is {self.batch_size}, got {k_new.shape[0]}")
        if start_pos > self.length:
            raise ValueError(f"KVCache has {self.length} positions written; start_pos {start_pos} leaves a gap")
        self.k[layer][:, :, start_pos:end] = k_new
        self.v[layer][:, :, start_pos:end] = v_new
        if layer == len(self.k) - 1:
            self.length = end
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]

    def reset(self) -> None:
        self.length = 0
