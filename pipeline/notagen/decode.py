"""A lean incremental forward of transformers' GPT-2 blocks, on the model's own weights.

Generation calls the char decoder once per character and the patch decoder once per patch;
transformers' per-call machinery (cache objects, mask building, output classes) then costs
more than the arithmetic of a tiny model.  This path does only the arithmetic of GPT-2's
eval-mode forward (pre-LN blocks, gelu_new, attention scale 1/sqrt(head_dim), final ln_f),
with a plain list of (k, v) tensors as the cache.  ``tests/unit/test_notagen_generate.py``
checks it against transformers' forward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import GPT2Model

Cache = list[tuple[torch.Tensor, torch.Tensor]]


def _heads(x: torch.Tensor, n: int) -> torch.Tensor:
    b, t, h = x.shape
    return x.view(b, t, n, h // n).transpose(1, 2)


class LeanGPT2:
    """The weights of a ``GPT2Model`` gathered once (module attribute lookups are slow); the
    tensors are the parameters themselves, so in-place updates are seen."""

    def __init__(self, base: GPT2Model) -> None:
        self.n_head, self.eps, self.wpe = base.config.n_head, base.config.layer_norm_epsilon, base.wpe.weight
        self.blocks = [
            (
                b.ln_1.weight,
                b.ln_1.bias,
                b.attn.c_attn.weight,
                b.attn.c_attn.bias,
                b.attn.c_proj.weight,
                b.attn.c_proj.bias,
                b.ln_2.weight,
                b.ln_2.bias,
                b.mlp.c_fc.weight,
                b.mlp.c_fc.bias,
                b.mlp.c_proj.weight,
                b.mlp.c_proj.bias,
            )
            for b in base.h
        ]
        self.ln_f = (base.ln_f.weight, base.ln_f.bias)

    def __call__(self, embeds: torch.Tensor, cache: Cache | None) -> tuple[torch.Tensor, Cache]:
        """Hidden states [B, T, H] after ``ln_f`` for input embeddings [B, T, H] (before wpe) that
        follow the cached positions; returns them and the extended cache.  Eval mode only."""
        past = 0 if not cache else cache[0][0].shape[2]
        b, t, hid = embeds.shape
        if t > 1 and past:
            raise ValueError("several new positions after a cache: feed them one at a time")
        x = (embeds + self.wpe[past : past + t]).reshape(b * t, hid)
        new: Cache = []
        for i, (l1w, l1b, aw, ab, pw, pb, l2w, l2b, fw, fb, mw, mb) in enumerate(self.blocks):
            a = F.layer_norm(x, (hid,), l1w, l1b, self.eps)
            q, k, v = torch.addmm(ab, a, aw).view(b, t, 3 * hid).split(hid, dim=-1)
            q, k, v = _heads(q, self.n_head), _heads(k, self.n_head), _heads(v, self.n_head)
            if cache:
                k, v = torch.cat([cache[i][0], k], dim=2), torch.cat([cache[i][1], v], dim=2)
            new.append((k, v))
            att = F.scaled_dot_product_attention(q, k, v, is_causal=t > 1)
            x = x + torch.addmm(pb, att.transpose(1, 2).reshape(b * t, hid), pw)
            m = F.layer_norm(x, (hid,), l2w, l2b, self.eps)
            x = x + torch.addmm(mb, F.gelu(torch.addmm(fb, m, fw), approximate="tanh"), mw)
        return F.layer_norm(x, (hid,), *self.ln_f, self.eps).view(b, t, hid), new
