"""VALL-E building blocks in MIDI-VALLE's key layout (lifeiteng/vall-e modules).

Pre-norm Transformer layers with a packed q/k/v projection (``self_attn.in_proj_weight``), an
optional AdaLN (the NAR stage embedding scales and shifts every LayerNorm), sinusoidal positions
with a learnable ``alpha``, and an optional KV cache for AR decoding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class TokenEmbedding(nn.Module):
    """``<name>.word_embeddings.weight`` like upstream's TokenEmbedding (dropout 0)."""

    def __init__(self, dim: int, vocab: int) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, dim)

    @property
    def weight(self) -> nn.Parameter:
        return self.word_embeddings.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.word_embeddings(x)


class SinePositional(nn.Module):
    """x + alpha * PE (sin on even channels, cos on odd), then dropout; positions from ``start``."""

    def __init__(self, dim: int, dropout: float, alpha_trainable: bool = True) -> None:
        super().__init__()
        self.dim = dim
        self.alpha = nn.Parameter(torch.ones(1), requires_grad=alpha_trainable)
        self.dropout = nn.Dropout(dropout)

    def table(self, length: int, device, dtype) -> torch.Tensor:
        pos = torch.arange(length, dtype=torch.float32, device=device).unsqueeze(1)
        div = torch.exp(
            torch.arange(0, self.dim, 2, dtype=torch.float32, device=device) * -(math.log(10000.0) / self.dim)
        )
        pe = torch.zeros(length, self.dim, device=device)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)
        return pe.to(dtype)

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        pe = self.table(start + x.shape[1], x.device, x.dtype)[start:]
        return self.dropout(x + self.alpha * pe.unsqueeze(0))


class AdaLN(nn.Module):
    """scale * LN(x) + shift with (scale, shift) = project_layer(stage embedding) (no "1 +")."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.project_layer = nn.Linear(dim, 2 * dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        scale, shift = self.project_layer(cond).chunk(2, dim=-1)
        return scale * self.norm(x) + shift


class SelfAttention(nn.Module):
    def __init__(self, dim: int, nhead: int, dropout: float) -> None:
        super().__init__()
        if dim % nhead:
            raise ValueError(f"d_model {dim} is not divisible by nhead {nhead}")
        self.nhead, self.dropout = nhead, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x, mask, cache=None, layer: int = 0, start: int = 0):
        b, t, d = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        q, k, v = (z.view(b, t, self.nhead, d // self.nhead).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            k, v = cache.update(layer, k, v, start)
        p = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        return self.out_proj(out.transpose(1, 2).reshape(b, t, d))


class DecoderLayer(nn.Module):
    """x += SA(norm1 x); x += FF(norm2 x); FF = Linear(d, 4d) -> ReLU -> Linear(4d, d)."""

    def __init__(self, dim: int, nhead: int, dropout: float, adaptive: bool, attn_dropout: float) -> None:
        super().__init__()
        self.self_attn = SelfAttention(dim, nhead, attn_dropout)
        self.linear1 = nn.Linear(dim, 4 * dim)
        self.linear2 = nn.Linear(4 * dim, dim)
        self.norm1 = AdaLN(dim) if adaptive else nn.LayerNorm(dim)
        self.norm2 = AdaLN(dim) if adaptive else nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)
        self.adaptive = adaptive

    def _norm(self, norm, x, cond):
        return norm(x, cond) if self.adaptive else norm(x)

    def forward(self, x, mask, cond=None, cache=None, layer: int = 0, start: int = 0):
        h = self.self_attn(self._norm(self.norm1, x, cond), mask, cache, layer, start)
        x = x + self.drop(h)
        h = self.linear2(self.drop(F.relu(self.linear1(self._norm(self.norm2, x, cond)))))
        return x + self.drop(h)


class Decoder(nn.Module):
    """``layers.<l>`` + final ``norm`` (AdaLN over LayerNorm for the NAR decoder)."""

    def __init__(
        self, dim: int, nhead: int, n_layers: int, dropout: float, adaptive: bool, attn_dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(dim, nhead, dropout, adaptive, attn_dropout) for _ in range(n_layers))
        self.norm = AdaLN(dim) if adaptive else nn.LayerNorm(dim)
        self.adaptive = adaptive

    def forward(self, x, mask, cond=None, cache=None, start: int = 0):
        for i, layer in enumerate(self.layers):
            x = layer(x, mask, cond, cache, i, start)
        return self.norm(x, cond) if self.adaptive else self.norm(x)
