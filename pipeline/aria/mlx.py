"""The Aria decoder in MLX, loading the same safetensors as :mod:`pipeline.aria.model`.

Same architecture and parameter names as the torch model (LayerNorm with bias, fused QKV,
half-split RoPE base 500000 via ``mx.fast.rope(traditional=False)``, SwiGLU, untied head),
a preallocated KV cache, the embedding model (trunk + ``emb_head`` at ``<E>``; ``EmbEncoder``
feeds it to :func:`pipeline.aria.embedding.embed_pieces`), and ``generate`` driven by the shared
torch sampler/generation loop (:func:`pipeline.sample.generate`) through a small adapter, so
sampling semantics are identical.
"""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx  # optional: pipeline.aria.mlx_backend turns its absence into a named error
import mlx.nn as nn
import numpy as np

from pipeline.aria.load import CheckpointError, checked_config
from pipeline.aria.model_config import ModelConfig


class KVCache:
    """Per-layer preallocated keys/values [B, H, max_len, Dh]."""

    def __init__(self, n_layers, batch_size, n_heads, max_len, head_dim, dtype=mx.float32):
        shape = (batch_size, n_heads, max_len, head_dim)
        self.k = [mx.zeros(shape, dtype=dtype) for _ in range(n_layers)]
        self.v = [mx.zeros(shape, dtype=dtype) for _ in range(n_layers)]
        self.max_len = max_len

    def update(self, layer, k_new, v_new, start_pos):
        end = start_pos + k_new.shape[2]
        if end > self.max_len:
            raise ValueError(f"KVCache holds {self.max_len} positions; cannot write up to {end - 1}")
        self.k[layer][:, :, start_pos:end, :] = k_new
        self.v[layer][:, :, start_pos:end, :] = v_new
        return self.k[layer][:, :, :end, :], self.v[layer][:, :, :end, :]

    def arrays(self):
        return self.k + self.v


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d, hidden = cfg.d_model, cfg.ff_mult * cfg.d_model
        self.n_heads, self.head_dim, self.rope_base = cfg.n_heads, cfg.head_dim, cfg.rope_base
        self.norm1 = nn.LayerNorm(d)
        self.mixed_qkv = nn.Linear(d, 3 * d, bias=False)
        self.att_proj_linear = nn.Linear(d, d, bias=False)
        self.norm2 = nn.LayerNorm(d)
        self.ff_gate_proj = nn.Linear(d, hidden, bias=False)
        self.ff_up_proj = nn.Linear(d, hidden, bias=False)
        self.ff_down_proj = nn.Linear(hidden, d, bias=False)

    def rope(self, x, start_pos):
        return mx.fast.rope(x, self.head_dim, traditional=False, base=self.rope_base, scale=1.0, offset=start_pos)

    def __call__(self, x, cache=None, layer=0, start_pos=0):
        b, t, d = x.shape
        qkv = self.mixed_qkv(self.norm1(x)).reshape(b, t, 3, self.n_heads, self.head_dim)
        qkv = qkv.transpose(2, 0, 3, 1, 4)
        q, k, v = self.rope(qkv[0], start_pos), self.rope(qkv[1], start_pos), qkv[2]
        if cache is not None:
            k, v = cache.update(layer, k, v, start_pos)
        # "causal" is aligned lower-right in MLX, so it is right for chunked prefill too.
        y = mx.fast.scaled_dot_product_attention(q, k, v, scale=self.head_dim**-0.5, mask="causal" if t > 1 else None)
        x = x + self.att_proj_linear(y.transpose(0, 2, 1, 3).reshape(b, t, d))
        h = self.norm2(x)
        return x + self.ff_down_proj(nn.silu(self.ff_gate_proj(h)) * self.ff_up_proj(h))


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.max_seq_len = cfg.max_seq_len
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.encode_layers = [Block(cfg) for _ in range(cfg.n_layers)]
        self.out_layer_norm = nn.LayerNorm(cfg.d_model)

    def __call__(self, idx, cache=None, start_pos=0):
        if start_pos + idx.shape[1] > self.max_seq_len:
            raise ValueError(f"positions up to {start_pos + idx.shape[1] - 1} exceed max_seq_len {self.max_seq_len}")
        x = self.tok_embeddings(idx)
        for i, layer in enumerate(self.encode_layers):
            x = layer(x, cache, i, start_pos)
        return self.out_layer_norm(x)


class TransformerLM(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        self.model = Transformer(cfg)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)

    def __call__(self, idx, cache=None, start_pos=0, last_only=False):
        h = self.model(idx, cache, start_pos)
        return self.lm_head(h[:, -1:] if last_only else h)

    def new_kv_cache(self, batch_size, max_len=None):
        cfg = self.config
        dtype = self.model.tok_embeddings.weight.dtype
        return KVCache(cfg.n_layers, batch_size, cfg.n_heads, max_len or cfg.max_seq_len, cfg.head_dim, dtype)


class TransformerEMB(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        self.model = Transformer(cfg)
        self.emb_head = nn.Linear(cfg.d_model, cfg.emb_size, bias=False)

    def __call__(self, idx, eos_pos=None, *, eos_id=None):
        """[B, emb_size]: the head at the ``<E>`` index (eos_pos per row, or first eos_id)."""
        ids = np.asarray(idx)
        if eos_pos is None:
            if eos_id is None:
                raise ValueError("TransformerEMB needs eos_pos or eos_id")
            hit = ids == eos_id
            if not hit.any(axis=1).all():
                raise ValueError(f"rows {np.flatnonzero(~hit.any(axis=1)).tolist()} contain no <E> ({eos_id})")
            eos_pos = hit.argmax(axis=1)
        eos_pos = np.asarray(eos_pos, dtype=np.int64)
        h = self.model(mx.array(ids[:, : int(eos_pos.max()) + 1]))
        h = h[mx.arange(ids.shape[0]), mx.array(eos_pos)]
        return self.emb_head(h)


def load(path, *, expected_vocab_size=None, dtype=None, **config_overrides):
    """Strict load (same checks and errors as ``pipeline.aria.model.load``); dtype e.g. mx.float32."""
    path = Path(path)
    cfg, head = checked_config(path, expected_vocab_size, **config_overrides)
    weights = mx.load(str(path))
    if dtype is not None:
        weights = {k: v.astype(dtype) for k, v in weights.items()}
    model = TransformerLM(cfg) if head == "lm" else TransformerEMB(cfg)
    try:
        model.load_weights(list(weights.items()), strict=True)
    except ValueError as e:
        raise CheckpointError(str(e)) from e
    mx.eval(model.parameters())
    model.eval()
    return model


class TorchAdapter:
    """Presents an MLX TransformerLM with the torch model protocol that ``generate`` drives."""

    def __init__(self, model: TransformerLM):
        import torch

        self._torch, self.mlx_model, self.config = torch, model, model.config
        self.device = torch.device("cpu")

    def new_kv_cache(self, batch_size, max_len=None):
        return self.mlx_model.new_kv_cache(batch_size, max_len)

    def forward(self, idx, kv_cache=None, start_pos=0, last_only=False):
        logits = self.mlx_model(mx.array(idx.cpu().numpy()), kv_cache, start_pos, last_only)
        logits = logits.astype(mx.float32)
        mx.eval(logits, *(kv_cache.arrays() if kv_cache is not None else ()))
        return self._torch.from_numpy(np.array(logits))

    __call__ = forward


class EmbEncoder:
    """An MLX TransformerEMB with the torch encoder protocol of :mod:`pipeline.aria.encoders`, so
    ``encode_rows``/``embed_pieces`` batch, pad and average exactly as they do for torch."""

    def __init__(self, model: TransformerEMB, name: str = "contrastive"):
        import torch

        if not isinstance(model, TransformerEMB):
            raise ValueError("the MLX EmbEncoder needs a TransformerEMB (a checkpoint with emb_head)")
        self._torch, self.mlx_model, self.names = torch, model, (name,)
        self.max_seq_len = model.config.max_seq_len
        self.model = self  # encode_rows asks encoder.model.parameters() where to put the rows

    def parameters(self):
        yield self._torch.empty(0)  # rows go in as CPU tensors; MLX picks its own device

    def encode(self, ids, eos_pos) -> dict:
        v = self.mlx_model(ids.cpu().numpy(), eos_pos.cpu().numpy()).astype(mx.float32)
        mx.eval(v)
        return {self.names[0]: self._torch.from_numpy(np.array(v))}


def generate(model: TransformerLM, prompts, **kwargs) -> list[list[int]]:
    """Same arguments and semantics as :func:`pipeline.sample.generate` (same sampler, same seed use)."""
    from pipeline.sample.generate import generate as torch_generate

    return torch_generate(TorchAdapter(model), prompts, **kwargs)
