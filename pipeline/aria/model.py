"""The Aria decoder: a LLaMA-style transformer over the Aria "abs" tokens.

Facts from ``specs/aria-checkpoint.md``: pre-norm blocks with LayerNorm (weight and bias),
one fused bias-free QKV projection (q, k, v order), full multi-head causal attention,
half-split rotary embedding (base 500000, float32) on q and k, bias-free SwiGLU FFN
(hidden = ff_mult * d_model), final LayerNorm, untied bias-free head.

Parameter names match the released checkpoints exactly (``model.tok_embeddings.weight``,
``model.encode_layers.L.mixed_qkv.weight``, ..., ``lm_head.weight`` / ``emb_head.weight``),
so ``load_state_dict(strict=True)`` works on them. ``load`` builds a model from a checkpoint
that :mod:`pipeline.aria.load` has checked (that module reads and writes the files and knows
nothing of the torch modules: imports go model -> load, never back).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn
from torch.utils.checkpoint import checkpoint

from pipeline.aria.load import TOK_EMB, CheckpointError, checked_config, save
from pipeline.aria.model_config import CONFIGS, ModelConfig
from pipeline.sample.kv_cache import KVCache

# ----------------------------------------------------------------------------- rotary


def rope_cos_sin(head_dim: int, positions: torch.Tensor, base: float = 500000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables [T, head_dim/2] in float32: angle = pos * base^(-2i/head_dim)."""
    i = torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.float32)
    inv_freq = 1.0 / (base ** (i / head_dim))
    angles = torch.outer(positions.to(torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def rope_tables(head_dim: int, positions: torch.Tensor, base: float = 500000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-width float32 tables [T, head_dim] for :func:`apply_rope`: (cos|cos, -sin|sin)."""
    cos, sin = rope_cos_sin(head_dim, positions, base)
    return torch.cat((cos, cos), dim=-1), torch.cat((-sin, sin), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Half-split rotation of x [B, H, T, Dh] with tables from :func:`rope_tables`:
    (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin), computed in float32."""
    xf = x.float()
    half = xf.shape[-1] // 2
    swapped = torch.cat((xf[..., half:], xf[..., :half]), dim=-1)
    return (xf * cos + swapped * sin).to(x.dtype)


# ----------------------------------------------------------------------------- blocks


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d, hidden = cfg.d_model, cfg.ff_mult * cfg.d_model
        self.n_heads, self.head_dim, self.dropout = cfg.n_heads, cfg.head_dim, cfg.dropout
        self.norm1 = nn.LayerNorm(d)
        self.mixed_qkv = nn.Linear(d, 3 * d, bias=False)
        self.att_proj_linear = nn.Linear(d, d, bias=False)
        self.norm2 = nn.LayerNorm(d)
        self.ff_gate_proj = nn.Linear(d, hidden, bias=False)
        self.ff_up_proj = nn.Linear(d, hidden, bias=False)
        self.ff_down_proj = nn.Linear(hidden, d, bias=False)
        self.resid_drop = nn.Dropout(cfg.dropout)

    def attention(self, x, cos, sin, kv_cache, layer, start_pos, mask):
        b, t, d = x.shape
        qkv = self.mixed_qkv(x).view(b, t, 3, self.n_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, H, T, Dh]
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if kv_cache is not None:
            k, v = kv_cache.update(layer, k, v, start_pos)
        drop = self.dropout if self.training else 0.0
        if mask is None and t > 1 and k.shape[2] == t:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=True)
        else:  # a single decode query sees every cached key; other cases carry a mask
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)
        return self.att_proj_linear(y.transpose(1, 2).reshape(b, t, d))

    def forward(self, x, cos, sin, kv_cache=None, layer=0, start_pos=0, mask=None):
        att = self.attention(self.norm1(x), cos, sin, kv_cache, layer, start_pos, mask)
        x = x + (self.resid_drop(att) if self.dropout else att)
        h = self.norm2(x)
        ff = self.ff_down_proj(F.silu(self.ff_gate_proj(h)) * self.ff_up_proj(h))
        return x + (self.resid_drop(ff) if self.dropout else ff)


def attention_mask(t: int, start_pos: int, key_mask: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    """Boolean mask [B|1, 1, T, S] (True = attend), S = start_pos + T; None when plain causal works.

    Query i (absolute position start_pos+i) sees keys j <= start_pos+i that ``key_mask`` keeps.
    A query always sees itself, so a fully padded row never produces NaN.
    """
    s = start_pos + t
    if key_mask is None and (start_pos == 0 or t == 1):
        return None
    q_pos = torch.arange(start_pos, s, device=device)[:, None]
    k_pos = torch.arange(s, device=device)[None, :]
    mask = (k_pos <= q_pos)[None, None]
    if key_mask is not None:
        if key_mask.shape[-1] != s:
            raise ValueError(f"key_mask covers {key_mask.shape[-1]} positions, expected {s}")
        mask = (mask & key_mask.bool()[:, None, None, :]) | (k_pos == q_pos)[None, None]
    return mask


class Transformer(nn.Module):
    """Embedding -> blocks -> final LayerNorm. Returns hidden states [B, T, d]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.encode_layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.out_layer_norm = nn.LayerNorm(cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, idx, kv_cache=None, start_pos=0, key_mask=None):
        cfg = self.config
        b, t = idx.shape
        if start_pos + t > cfg.max_seq_len:
            raise ValueError(f"positions {start_pos}..{start_pos + t - 1} exceed max_seq_len {cfg.max_seq_len}")
        positions = torch.arange(start_pos, start_pos + t, device=idx.device)
        cos, sin = rope_tables(cfg.head_dim, positions, cfg.rope_base)
        mask = attention_mask(t, start_pos, key_mask, idx.device)
        x = self.tok_embeddings(idx)
        if cfg.dropout:
            x = self.drop(x)
        for i, layer in enumerate(self.encode_layers):
            if cfg.grad_checkpoint and self.training and kv_cache is None:
                x = checkpoint(layer, x, cos, sin, None, i, start_pos, mask, use_reentrant=False)
            else:
                x = layer(x, cos, sin, kv_cache, i, start_pos, mask)
        return self.out_layer_norm(x)


class _AriaBase(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.model = Transformer(cfg)

    @property
    def max_seq_len(self) -> int:
        return self.config.max_seq_len

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def new_kv_cache(self, batch_size: int, max_len: int | None = None) -> KVCache:
        p = self.model.tok_embeddings.weight
        cfg = self.config
        return KVCache(
            cfg.n_layers,
            batch_size,
            cfg.n_heads,
            max_len or cfg.max_seq_len,
            cfg.head_dim,
            dtype=p.dtype,
            device=p.device,
        )


class TransformerLM(_AriaBase):
    """Next-token LM: ``forward(idx[B,T], kv_cache=None, start_pos=0) -> logits [B,T,V]``."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)

    def forward(
        self,
        idx: torch.Tensor,
        kv_cache: KVCache | None = None,
        start_pos: int = 0,
        *,
        key_mask: torch.Tensor | None = None,
        last_only: bool = False,
    ) -> torch.Tensor:
        """``key_mask`` [B, start_pos+T] (True = real token) masks padding keys;
        ``last_only`` computes logits for the last position only (shape [B, 1, V])."""
        h = self.model(idx, kv_cache, start_pos, key_mask)
        if last_only:
            h = h[:, -1:]
        return self.lm_head(h)


class TransformerEMB(_AriaBase):
    """Sequence embedding: the ``emb_head`` output at the ``<E>`` position of each row."""

    def __init__(self, cfg: ModelConfig) -> None:
        if cfg.emb_size is None:
            raise ValueError("TransformerEMB needs ModelConfig.emb_size")
        super().__init__(cfg)
        self.emb_head = nn.Linear(cfg.d_model, cfg.emb_size, bias=False)

    def forward(
        self,
        idx: torch.Tensor,
        eos_pos: torch.Tensor | None = None,
        *,
        eos_id: int | None = None,
        key_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return [B, emb_size]. Give ``eos_pos`` (LongTensor[B], index of ``<E>`` per row) or
        ``eos_id`` (the first occurrence in each row is used; a row without it is an error)."""
        if eos_pos is None:
            if eos_id is None:
                raise ValueError("TransformerEMB.forward needs eos_pos or eos_id")
            eos_pos = find_first(idx, eos_id)
        eos_pos = torch.as_tensor(eos_pos, device=idx.device, dtype=torch.long)
        if eos_pos.shape != (idx.shape[0],):
            raise ValueError(f"eos_pos must have shape [{idx.shape[0]}], got {tuple(eos_pos.shape)}")
        # Causal attention: tokens after <E> cannot change the state at <E>; skip them.
        end = int(eos_pos.max()) + 1
        h = self.model(idx[:, :end], key_mask=None if key_mask is None else key_mask[:, :end])
        h = h[torch.arange(idx.shape[0], device=idx.device), eos_pos]
        return self.emb_head(h)


def find_first(idx: torch.Tensor, token_id: int) -> torch.Tensor:
    """Index of the first ``token_id`` in each row of idx [B, T]; raises if a row lacks it."""
    hit = idx == token_id
    missing = (~hit.any(dim=1)).nonzero().flatten().tolist()
    if missing:
        raise ValueError(f"rows {missing} contain no token {token_id} (<E>)")
    return hit.int().argmax(dim=1)


def count_parameters(cfg: ModelConfig, head: str = "lm") -> int:
    """Parameter count of a config without allocating weights (meta device)."""
    with torch.device("meta"):
        model = TransformerEMB(cfg) if head == "emb" else TransformerLM(cfg)
    return model.num_parameters()


def build(cfg: ModelConfig | str, **overrides) -> TransformerLM | TransformerEMB:
    """A freshly initialised model from a config or a ``CONFIGS`` name (emb_size -> TransformerEMB)."""
    cfg = ModelConfig.from_name(cfg, **overrides) if isinstance(cfg, str) else cfg.replace(**overrides)
    model = TransformerEMB(cfg) if cfg.emb_size is not None else TransformerLM(cfg)
    init_weights(model)
    return model


def init_weights(model: nn.Module, std: float = 0.02) -> None:
    """GPT-style init: normal(0, std) for linears/embeddings, residual outputs scaled by depth."""
    n_layers = getattr(getattr(model, "config", None), "n_layers", 1)
    for name, p in model.named_parameters():
        if p.dim() < 2:
            continue
        s = std / math.sqrt(2 * n_layers) if name.endswith(("att_proj_linear.weight", "ff_down_proj.weight")) else std
        nn.init.normal_(p, mean=0.0, std=s)


def load(
    path: str | Path,
    *,
    expected_vocab_size: int | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    **config_overrides,
) -> "TransformerLM | TransformerEMB":
    """Load a TransformerLM or TransformerEMB from safetensors, strictly (every key and shape
    checked first, see :func:`pipeline.aria.load.checked_config`). Returns it in eval mode.

    ``dtype`` defaults to the dtype of the checkpoint's token embedding.
    """
    path = Path(path)
    cfg, head = checked_config(path, expected_vocab_size, **config_overrides)
    state = load_file(str(path), device=str(device))
    with torch.device("meta"):
        model = TransformerLM(cfg) if head == "lm" else TransformerEMB(cfg)
    model.load_state_dict(state, strict=True, assign=True)
    model.to(dtype or state[TOK_EMB].dtype)
    return model.eval()


__all__ = [
    "CONFIGS",
    "CheckpointError",
    "KVCache",
    "ModelConfig",
    "Transformer",
    "TransformerEMB",
    "TransformerLM",
    "apply_rope",
    "build",
    "count_parameters",
    "find_first",
    "load",
    "rope_cos_sin",
    "rope_tables",
    "save",
]
