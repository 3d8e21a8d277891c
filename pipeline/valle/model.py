"""MIDI-VALLE's VALL-E: a MIDI front-end, an AR decoder over codebook 0, a NAR decoder over 1..n-1.

Key layout and maths follow MIDI-VALLE (``valle/models/valle.py`` on lifeiteng/vall-e), so its
released weights load strictly (``pipeline.valle.load``). Code layout is [B, T, n_q] like upstream.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from pipeline.train.named_config import from_table
from pipeline.valle.layers import Decoder, SinePositional, TokenEmbedding
from pipeline.valle.midi_tokens import FIELDS, MODEL_VOCAB

FIELD_DIMS = (32, 32, 256, 128, 64, 32)  # per-field embedding sizes, concatenated (544)
MAX_PREFIX_FRAMES = 150  # NAR acoustic prompt cap: 3 s at 50 frames/s


class ValleInputError(ValueError):
    """MIDI tokens or codes the model cannot take (ids outside a vocabulary, bad shapes)."""


@dataclass(frozen=True)
class ValleConfig:
    d_model: int = 64
    nhead: int = 4
    n_layers: int = 2
    n_quantizers: int = 4
    audio_bins: int = 2048
    dropout: float = 0.1
    attn_dropout: float = 0.1  # on attention weights (upstream 0.1); 0 lets CPU use fused attention

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_name(cls, name: str, **overrides: Any) -> "ValleConfig":
        """``CONFIGS[name]`` with ``overrides`` (field names) replaced."""
        return from_table(CONFIGS, name, "VALL-E", **overrides)


CONFIGS: dict[str, ValleConfig] = {
    # ours: tiny CPU default; attention-weight dropout 0 lets CPU use fused attention
    "tiny": ValleConfig(attn_dropout=0.0),
    # MIDI-VALLE's released checkpoint (lifeiteng/vall-e layout): 12 layers x 1024, 16 heads
    "midi-valle": ValleConfig(d_model=1024, nhead=16, n_layers=12),
}


def attention_mask(x_lens, y_lens, tx: int, ty: int, causal_audio: bool) -> torch.Tensor:
    """Boolean [B, 1, S, S] (True = may attend) over [text ; audio].

    AR: text rows see text only, audio rows see text and causal audio. NAR: key padding only."""
    dev = x_lens.device
    keys = torch.cat(
        [torch.arange(tx, device=dev) < x_lens[:, None], torch.arange(ty, device=dev) < y_lens[:, None]], dim=1
    )  # [B, S]
    mask = keys[:, None, None, :].expand(-1, 1, tx + ty, -1).clone()
    if causal_audio:
        s = tx + ty
        allowed = torch.ones(s, s, dtype=torch.bool, device=dev)
        allowed[:tx, tx:] = False
        allowed[tx:, tx:] = torch.ones(ty, ty, dtype=torch.bool, device=dev).tril()
        mask &= allowed
    return mask


class Valle(nn.Module):
    def __init__(self, cfg: ValleConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, nq, bins = cfg.d_model, cfg.n_quantizers, cfg.audio_bins
        if nq < 2:
            raise ValueError("VALL-E needs at least 2 codebooks (AR codebook 0 + NAR)")
        self.eos = bins
        self.feat_emb = nn.ModuleList(TokenEmbedding(dim, v) for dim, v in zip(FIELD_DIMS, MODEL_VOCAB))
        self.ar_text_embedding = nn.Linear(sum(FIELD_DIMS), d)
        self.nar_text_embedding = nn.Linear(sum(FIELD_DIMS), d)
        self.ar_audio_embedding = TokenEmbedding(d, bins + 1)
        self.ar_text_position = SinePositional(d, cfg.dropout)
        self.ar_audio_position = SinePositional(d, cfg.dropout)
        self.nar_text_position = SinePositional(d, 0.0, alpha_trainable=False)
        self.nar_audio_position = SinePositional(d, cfg.dropout, alpha_trainable=False)
        self.ar_decoder = Decoder(
            d, cfg.nhead, cfg.n_layers, cfg.dropout, adaptive=False, attn_dropout=cfg.attn_dropout
        )
        self.ar_predict_layer = nn.Linear(d, bins + 1, bias=False)
        self.nar_audio_embeddings = nn.ModuleList(
            [TokenEmbedding(d, bins + 1)] + [TokenEmbedding(d, bins) for _ in range(nq - 1)]
        )
        self.nar_decoder = Decoder(
            d, cfg.nhead, cfg.n_layers, cfg.dropout, adaptive=True, attn_dropout=cfg.attn_dropout
        )
        self.nar_predict_layers = nn.ModuleList(nn.Linear(d, bins, bias=False) for _ in range(nq - 1))
        self.nar_stage_embeddings = nn.ModuleList(TokenEmbedding(d, 1) for _ in range(nq - 1))
        for j in range(nq - 2):  # share_embedding: predict layer j is audio embedding j + 2
            self.nar_predict_layers[j].weight = self.nar_audio_embeddings[j + 2].word_embeddings.weight

    # ---- inputs -------------------------------------------------------------------------------
    def check_inputs(self, midi: torch.Tensor, codes: torch.Tensor | None = None) -> None:
        if midi.dim() != 3 or midi.shape[-1] != len(FIELDS):
            raise ValleInputError(f"MIDI tokens must be [B, N, 6], got {tuple(midi.shape)}")
        top = midi.amax(dim=(0, 1))
        for f, (name, vocab) in enumerate(zip(FIELDS, MODEL_VOCAB)):
            if int(top[f]) >= vocab or int(midi[..., f].min()) < 0:
                raise ValleInputError(
                    f"{name} id {int(top[f])} is outside the model's vocabulary of "
                    f"{vocab} (Bar: segments must stay under {vocab - 4} bars)"
                )
        if codes is not None:
            if codes.dim() != 3 or codes.shape[-1] != self.cfg.n_quantizers:
                raise ValleInputError(f"codes must be [B, T, {self.cfg.n_quantizers}], got {tuple(codes.shape)}")
            if int(codes.min()) < 0 or int(codes.max()) >= self.cfg.audio_bins:
                raise ValleInputError(f"codes outside 0..{self.cfg.audio_bins - 1}")

    def text_features(self, midi: torch.Tensor) -> torch.Tensor:
        return torch.cat([emb(midi[..., f]) for f, emb in enumerate(self.feat_emb)], dim=-1)

    def ar_text(self, midi: torch.Tensor) -> torch.Tensor:
        return self.ar_text_position(self.ar_text_embedding(self.text_features(midi)))

    # ---- AR -----------------------------------------------------------------------------------
    def ar_inputs_targets(self, codes0: torch.Tensor, y_lens: torch.Tensor):
        """Padded frames become EOS; targets are inputs shifted left with EOS appended."""
        pad = torch.arange(codes0.shape[1], device=codes0.device)[None] >= y_lens[:, None]
        full = torch.cat([codes0.masked_fill(pad, self.eos), torch.full_like(codes0[:, :1], self.eos)], dim=1)
        return full[:, :-1], full[:, 1:]

    def ar_forward(self, midi, x_lens, codes, y_lens):
        """Training forward of the AR decoder: (logits [B, T, bins+1], targets [B, T])."""
        inputs, targets = self.ar_inputs_targets(codes[..., 0], y_lens)
        x = self.ar_text(midi)
        y = self.ar_audio_position(self.ar_audio_embedding(inputs))
        mask = attention_mask(x_lens, y_lens, x.shape[1], y.shape[1], causal_audio=True)
        h = self.ar_decoder(torch.cat([x, y], dim=1), mask)
        return self.ar_predict_layer(h[:, x.shape[1] :]), targets

    # ---- NAR ----------------------------------------------------------------------------------
    def nar_stage(self, k: int) -> torch.Tensor:
        return self.nar_stage_embeddings[k - 1].weight  # [1, d], broadcast over batch and time

    def nar_forward(self, midi, x_lens, codes, y_lens, stage: int, prefix: int):
        """Training forward for codebook ``stage`` with an acoustic prompt of ``prefix`` frames:
        (logits [B, T - prefix, bins], targets [B, T - prefix], padded targets = bins)."""
        if not 1 <= stage < self.cfg.n_quantizers:
            raise ValueError(f"NAR stage must be in 1..{self.cfg.n_quantizers - 1}, got {stage}")
        pad = torch.arange(codes.shape[1], device=codes.device)[None] >= y_lens[:, None]
        y = self.nar_audio_embeddings[0](codes[..., 0].masked_fill(pad, self.eos))
        emb = []
        for j in range(1, self.cfg.n_quantizers):
            e = self.nar_audio_embeddings[j](codes[..., j])
            keep = (
                torch.ones_like(pad)
                if j < stage
                else (torch.arange(codes.shape[1], device=pad.device) < prefix)[None].expand_as(pad)
            )
            emb.append(e * keep[..., None])
        y = y + sum(emb)
        x = self.nar_text_position(self.nar_text_embedding(self.text_features(midi)))
        y = self.nar_audio_position(y)
        mask = attention_mask(x_lens, y_lens, x.shape[1], y.shape[1], causal_audio=False)
        h = self.nar_decoder(torch.cat([x, y], dim=1), mask, self.nar_stage(stage))
        logits = self.nar_predict_layers[stage - 1](h[:, x.shape[1] + prefix :])
        targets = codes[..., stage].masked_fill(pad, self.cfg.audio_bins)[:, prefix:]
        return logits, targets

    def forward(self, midi, x_lens, codes, y_lens, train_stage: int = 0, stage: int = 1, prefix: int = 0) -> dict:
        """Training forward (through DDP): AR and/or NAR logits and targets, plus ``zero``, a 0-valued
        term touching every trainable parameter so DDP sees them all used (NAR uses one stage)."""
        out = {"zero": sum(p.view(-1)[0] for p in self.parameters() if p.requires_grad) * 0.0}
        if train_stage in (0, 1):
            out["ar"] = self.ar_forward(midi, x_lens, codes, y_lens)
        if train_stage in (0, 2):
            out["nar"] = self.nar_forward(midi, x_lens, codes, y_lens, stage, prefix)
        return out

    def freeze_for(self, train_stage: int) -> None:
        """Stage 1 trains the AR side (+ shared MIDI embeddings), stage 2 the NAR side."""
        frozen = {1: "nar_", 2: "ar_"}.get(train_stage)
        for name, p in self.named_parameters():
            if frozen and name.startswith(frozen):
                p.requires_grad_(False)
        self.nar_text_position.alpha.requires_grad_(False)
        self.nar_audio_position.alpha.requires_grad_(False)


def build(cfg: ValleConfig | str = "tiny") -> Valle:
    return Valle(ValleConfig.from_name(cfg) if isinstance(cfg, str) else cfg)
