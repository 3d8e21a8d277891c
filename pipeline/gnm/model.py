"""GnM's decoder (generality / mastery / scratch) and its style adapters, upstream layout.

Forward pass (spec section 4; parameter names = upstream's state-dict keys):
embedding lookup (+ bias-free projection when d_word_embed != d_model) x sqrt(d_model), dropout;
the *condition* c = that embedding at position 0 (the Composer token); x = dropout(emb) + PE with
PE = [sin(pos f), cos(pos f)] concatenated, f_i = 10000^(-2i/d); pre-LN layers
(x += MHA(LN1 x), bias-free packed in-proj, causal; x += FFN(LN2 x), ReLU); after layer i in
``adapter_positions`` the style adapter x += W2 GELU(W1 [x; c] + b1) + b2 (no gate); dropout and
the output Linear(d, V) -- no final LayerNorm. Batch-first here; upstream is sequence-first.
A KV cache (pipeline.sample.kv_cache) makes single-token decoding O(T) per step.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.sample.kv_cache import KVCache
from pipeline.train.named_config import from_table


@dataclass(frozen=True)
class GnmConfig:
    vocab_size: int  # PAD included
    d_model: int
    n_heads: int
    n_layers: int
    d_ff: int
    d_word_embed: int
    dropout: float = 0.1
    adapter_positions: tuple[int, ...] = ()  # style adapters after these layers (mastery only)
    max_seq_len: int = 2400  # upstream tgt_len; the sinusoid itself has no limit

    def __post_init__(self) -> None:
        object.__setattr__(self, "adapter_positions", tuple(int(p) for p in self.adapter_positions))
        bad = [p for p in self.adapter_positions if not 0 <= p < self.n_layers]
        if bad:
            raise ValueError(f"adapter positions {bad} must be < n_layers={self.n_layers}")
        if self.d_model % self.n_heads or self.d_model % 2:
            raise ValueError(f"d_model {self.d_model} must be even and divisible by n_heads {self.n_heads}")

    @classmethod
    def from_name(cls, name: str, **overrides) -> "GnmConfig":
        return from_table(CONFIGS, name, "GnM", **overrides)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["adapter_positions"] = list(self.adapter_positions)
        return d


CONFIGS: dict[str, GnmConfig] = {
    # upstream's generality decoder (GnM repo: 12 x 512, 8 heads, d_ff 2048, 251-token dictionary,
    # tgt_len 2400); its mastery model adds adapters after layers 1, 3, 5, 7, 9 (about 46M parameters)
    "generality": GnmConfig(vocab_size=251, d_model=512, n_heads=8, n_layers=12, d_ff=2048, d_word_embed=512),
    # ours: tiny CPU default (the defaults of params gnm_pretrain.model); the vocabulary is the built one
    "tiny": GnmConfig(vocab_size=251, d_model=128, n_heads=4, n_layers=4, d_ff=512, d_word_embed=128),
}


class WordEmbedding(nn.Module):
    def __init__(self, vocab: int, d_embed: int, d_model: int, pad_id: int):
        super().__init__()
        self.emb_lookup = nn.Embedding(vocab, d_embed, padding_idx=pad_id)
        self.emb_proj = nn.Linear(d_embed, d_model, bias=False) if d_embed != d_model else None
        self.scale = math.sqrt(d_model)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.emb_lookup(ids)
        if self.emb_proj is not None:
            x = self.emb_proj(x)
        return x * self.scale


class SinusoidalPositions(nn.Module):
    def __init__(self, d_model: int):
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0.0, d_model, 2.0) / d_model)))

    def forward(self, start: int, length: int) -> torch.Tensor:
        pos = torch.arange(start, start + length, device=self.inv_freq.device, dtype=self.inv_freq.dtype)
        ang = pos[:, None] * self.inv_freq[None, :]
        return torch.cat([ang.sin(), ang.cos()], dim=-1)  # [T, d], concatenated halves


class SelfAttention(nn.Module):
    """nn.MultiheadAttention(bias=False)'s parameters, computed with SDPA (+ optional cache)."""

    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d, d))
        self.out_proj = nn.Linear(d, d, bias=False)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(
        self, x, *, causal: bool, pad_mask=None, cache: KVCache | None = None, layer: int = 0, start: int = 0
    ) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = (
            y.view(b, t, self.heads, d // self.heads).transpose(1, 2)
            for y in F.linear(x, self.in_proj_weight).chunk(3, dim=-1)
        )
        if cache is not None:
            k, v = cache.update(layer, k, v, start)
        mask, is_causal = None, False
        if pad_mask is not None:  # encoder: True = padding, never attended to
            mask = ~pad_mask[:, None, None, :]
        elif causal and t > 1:
            if k.shape[2] == t:
                is_causal = True
            else:  # chunk after a cached prefix: query i sees keys 0..start+i
                mask = torch.ones(t, k.shape[2], dtype=torch.bool, device=x.device).tril(k.shape[2] - t)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=is_causal, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out_proj(y.transpose(1, 2).reshape(b, t, d))


class Layer(nn.Module):
    """Pre-LN transformer layer: upstream key names (self_attn, ffn.0/.3, layernorm1/2)."""

    def __init__(self, d: int, heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.self_attn = SelfAttention(d, heads, dropout)
        self.ffn = nn.Sequential(
            nn.Linear(d, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d), nn.Dropout(dropout)
        )
        self.layernorm1 = nn.LayerNorm(d, eps=1e-5)
        self.layernorm2 = nn.LayerNorm(d, eps=1e-5)

    def forward(self, x, **attn) -> torch.Tensor:
        x = x + self.self_attn(self.layernorm1(x), **attn)
        return x + self.ffn(self.layernorm2(x))


class StyleAdapter(nn.Module):
    """Upstream "GatedStyleAdapter" (there is no gate): x + W2 GELU(W1 [x; c] + b1) + b2."""

    def __init__(self, d: int):
        super().__init__()
        self.linear1 = nn.Linear(2 * d, 2 * d)
        self.linear2 = nn.Linear(2 * d, d)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = torch.cat([x, cond[:, None, :].expand_as(x)], dim=-1)
        return x + self.linear2(F.gelu(self.linear1(h)))


class Decoder(nn.Module):
    def __init__(self, cfg: GnmConfig):
        super().__init__()
        self.layers = nn.ModuleList(Layer(cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout) for _ in range(cfg.n_layers))
        self.pos_emb = SinusoidalPositions(cfg.d_model)
        self.adapters = nn.ModuleDict({str(p): StyleAdapter(cfg.d_model) for p in cfg.adapter_positions})


def upstream_init(module: nn.Module) -> None:
    """Upstream ``weights_init``: Linear/Embedding N(0, 0.01), LayerNorm N(1, 0.01); in-proj kept."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.01)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.normal_(m.weight, 1.0, 0.01)
            nn.init.zeros_(m.bias)


class GnmDecoder(nn.Module):
    """``model(ids[B,T]) -> logits[B,T,V]``; with ``kv_cache``/``start_pos`` for decoding."""

    def __init__(self, cfg: GnmConfig):
        super().__init__()
        self.config = cfg
        self.pad_id = cfg.vocab_size - 1
        self.word_emb = WordEmbedding(cfg.vocab_size, cfg.d_word_embed, cfg.d_model, self.pad_id)
        self.emb_drop = nn.Dropout(cfg.dropout)
        self.decoder = Decoder(cfg)
        self.out_drop = nn.Dropout(cfg.dropout)
        self.dec_out_proj = nn.Linear(cfg.d_model, cfg.vocab_size)
        upstream_init(self)

    def new_kv_cache(self, batch_size: int, max_len: int) -> KVCache:
        p = next(self.parameters())
        c = self.config
        cache = KVCache(
            c.n_layers, batch_size, c.n_heads, max_len, c.d_model // c.n_heads, dtype=p.dtype, device=p.device
        )
        cache.cond = None  # the position-0 embedding, set by the prefill
        return cache

    def forward(
        self, ids: torch.Tensor, kv_cache: KVCache | None = None, start_pos: int = 0, last_only: bool = False
    ) -> torch.Tensor:
        emb = self.emb_drop(self.word_emb(ids))
        if start_pos == 0:
            cond = emb[:, 0]
            if kv_cache is not None:
                kv_cache.cond = cond
        else:
            if kv_cache is None or kv_cache.cond is None:
                raise ValueError("start_pos > 0 needs a KV cache filled from position 0")
            cond = kv_cache.cond
        x = self.emb_drop(emb) + self.decoder.pos_emb(start_pos, ids.shape[1]).to(emb.dtype)
        for i, layer in enumerate(self.decoder.layers):
            x = layer(x, causal=True, cache=kv_cache, layer=i, start=start_pos)
            if str(i) in self.decoder.adapters:
                x = self.decoder.adapters[str(i)](x, cond)
        if last_only:
            x = x[:, -1:]
        return self.dec_out_proj(self.out_drop(x))


class Encoder(nn.Module):
    def __init__(self, d: int, heads: int, d_ff: int, n_layers: int, dropout: float):
        super().__init__()
        self.layers = nn.ModuleList(Layer(d, heads, d_ff, dropout) for _ in range(n_layers))
        self.pos_emb = SinusoidalPositions(d)


class StyleClassifier(nn.Module):
    """Upstream ComposerClassifier: bidirectional pre-LN encoder, logits from position 0.

    Input [B, T] ids *without* the composer token (position 0 is the Tempo token); PAD is masked.
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        d_model: int = 512,
        n_heads: int = 8,
        n_layers: int = 6,
        d_ff: int = 2048,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.config = {
            "vocab_size": vocab_size,
            "num_classes": num_classes,
            "d_model": d_model,
            "n_heads": n_heads,
            "n_layers": n_layers,
            "d_ff": d_ff,
            "dropout": dropout,
        }
        self.pad_id = vocab_size - 1
        self.word_emb = WordEmbedding(vocab_size, d_model, d_model, self.pad_id)
        self.drop = nn.Dropout(dropout)
        self.encoder = Encoder(d_model, n_heads, d_ff, n_layers, dropout)
        self.cls_head = nn.Linear(d_model, num_classes)
        upstream_init(self)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pad = ids == self.pad_id
        x = self.drop(self.word_emb(ids))
        x = self.drop(x + self.encoder.pos_emb(0, ids.shape[1]).to(x.dtype))
        for layer in self.encoder.layers:
            x = layer(x, causal=False, pad_mask=pad)
        return self.cls_head(x[:, 0])
