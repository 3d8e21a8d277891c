"""M3 patch encoder, M3's masked-patch decoder, and the CLaMP model, in upstream's key layout.

Keys match clamp2's ``CLaMP2Model`` (``text_model.*``, ``text_proj``, ``music_model.*``,
``music_proj``) and ``M3Model`` (``encoder.*``, ``decoder.base.*``), so released ``.pth`` files
load strictly. Both towers are transformers' BERT-family classes built from a config (never
``from_pretrained``: no download); :func:`config_from_state` reads the shapes off a state dict.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
from transformers import BertConfig, BertModel, GPT2Config, GPT2LMHeadModel, XLMRobertaConfig, XLMRobertaModel

from pipeline.clamp.text import VOCAB_SIZE as TEXT_VOCAB
from pipeline.train.named_config import from_table

VOCAB = 128  # one-hot classes per character (ASCII)


@dataclass(frozen=True)
class ClampConfig:
    patch_size: int = 64  # characters per patch (M3: 64)
    patch_length: int = 512  # patches per segment (BERT positions)
    hidden: int = 768
    layers: int = 12
    intermediate: int | None = None  # default 4 * hidden
    proj: int | None = 768  # CLaMP feature size; None = plain M3 encoder (no music_proj)
    decoder_layers: int = 0  # M3 masked-patch decoder (GPT-2 over a patch's chars); 0 = none
    text_vocab: int | None = None  # None = no text tower
    text_positions: int = 130
    text_hidden: int = 768
    text_layers: int = 12
    text_intermediate: int = 3072
    text_type_vocab: int = 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_name(cls, name: str, **overrides) -> "ClampConfig":
        """``CONFIGS[name]`` with ``overrides``; unknown names and keys fail naming the allowed ones."""
        return from_table(CONFIGS, name, "CLaMP", **overrides)


CONFIGS: dict[str, ClampConfig] = {
    # ours: tiny CPU default (clamp_train's defaults), character-level text tower (pipeline/clamp/text.py)
    "tiny": ClampConfig(
        patch_size=64,
        patch_length=128,
        hidden=128,
        layers=2,
        proj=128,
        decoder_layers=1,
        text_vocab=TEXT_VOCAB,
        text_positions=130,
        text_hidden=64,
        text_layers=1,
        text_intermediate=256,
    ),
    # upstream: M3 (clamp2 config.py: patch 64 x 512 patches, 12 x 768, 3-layer char decoder), no text tower
    "m3": ClampConfig(patch_size=64, patch_length=512, hidden=768, layers=12, proj=None, decoder_layers=3),
    # upstream: CLaMP 2 (clamp2 config.py: the M3 encoder, feature 768; text tower xlm-roberta-base)
    "clamp2": ClampConfig(
        patch_size=64,
        patch_length=512,
        hidden=768,
        layers=12,
        proj=768,
        text_vocab=250002,
        text_positions=514,
        text_hidden=768,
        text_layers=12,
        text_intermediate=3072,
    ),
}


def _heads(hidden: int) -> int:
    return max(1, hidden // 64)  # upstream: head_dim 64


def freeze_pooler(bert: nn.Module) -> None:
    """The pooler is kept for upstream's key layout, never used: no gradient (DDP refuses those)."""
    for q in bert.pooler.parameters() if getattr(bert, "pooler", None) is not None else ():
        q.requires_grad_(False)


class M3PatchEncoder(nn.Module):
    """one-hot(128) of each patch's chars -> Linear(P*128 -> H) -> BERT over patches."""

    def __init__(self, cfg: ClampConfig) -> None:
        super().__init__()
        self.patch_size = cfg.patch_size
        self.patch_embedding = nn.Linear(cfg.patch_size * VOCAB, cfg.hidden)
        self.base = BertModel(
            BertConfig(
                vocab_size=1,
                hidden_size=cfg.hidden,
                num_hidden_layers=cfg.layers,
                num_attention_heads=_heads(cfg.hidden),
                intermediate_size=cfg.intermediate or 4 * cfg.hidden,
                max_position_embeddings=cfg.patch_length,
            )
        )
        # patches come in as inputs_embeds and the pooled output is unused: the 1-token word
        # embedding and the pooler never get a gradient; frozen so DDP accepts the model
        self.base.embeddings.word_embeddings.weight.requires_grad_(False)
        freeze_pooler(self.base)

    def embed(self, patches: torch.Tensor) -> torch.Tensor:
        """Linear over the char-major one-hot, computed as a gather-sum of weight columns
        (equal to upstream's one-hot matmul, without the [B, L, P*128] tensor)."""
        b, n, p = patches.shape
        if p != self.patch_size:
            raise ValueError(f"patches have {p} chars, this encoder takes {self.patch_size}")
        cols = patches.long() + torch.arange(p, device=patches.device) * VOCAB  # [B, L, P]
        w = self.patch_embedding.weight.T  # [P*128, H]
        return w[cols].sum(dim=2) + self.patch_embedding.bias

    def forward(self, patches: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = self.base(inputs_embeds=self.embed(patches), attention_mask=mask.long())
        return out.last_hidden_state


def masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(1) / m.sum(1).clamp(min=1)


class ClampModel(nn.Module):
    """CLaMP: text tower (XLM-R class) + M3 music tower, each mean-pooled and projected."""

    def __init__(self, cfg: ClampConfig) -> None:
        super().__init__()
        self.cfg = cfg
        if cfg.text_vocab:
            self.text_model = XLMRobertaModel(
                XLMRobertaConfig(
                    vocab_size=cfg.text_vocab,
                    hidden_size=cfg.text_hidden,
                    num_hidden_layers=cfg.text_layers,
                    num_attention_heads=_heads(cfg.text_hidden),
                    intermediate_size=cfg.text_intermediate,
                    max_position_embeddings=cfg.text_positions,
                    type_vocab_size=cfg.text_type_vocab,
                    pad_token_id=1,
                    bos_token_id=0,
                    eos_token_id=2,
                )
            )
            freeze_pooler(self.text_model)  # features are a masked mean of the last hidden state
            self.text_proj = nn.Linear(cfg.text_hidden, cfg.proj)
        self.music_model = M3PatchEncoder(cfg)
        if cfg.proj:
            self.music_proj = nn.Linear(cfg.hidden, cfg.proj)

    @property
    def has_text(self) -> bool:
        return hasattr(self, "text_model")

    def music_features(self, patches: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Masked mean of M3's last hidden state -> music_proj (NOT unit-normalised)."""
        pooled = masked_mean(self.music_model(patches, mask), mask)
        return self.music_proj(pooled) if self.cfg.proj else pooled

    def text_features(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if not self.has_text:
            raise ValueError("this CLaMP model has no text tower")
        h = self.text_model(input_ids=ids, attention_mask=mask.long()).last_hidden_state
        return self.text_proj(masked_mean(h, mask))

    def forward(self, patches, patch_mask, text_ids, text_mask):
        """(music features, text features) of paired rows: one call, so DDP sees one forward."""
        return self.music_features(patches, patch_mask), self.text_features(text_ids, text_mask)


class M3Model(nn.Module):
    """M3 masked-patch pretraining: the encoder plus a GPT-2 that rebuilds a patch's chars
    from its encoder state (the state stands in for the first input embedding)."""

    def __init__(self, cfg: ClampConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = M3PatchEncoder(cfg)
        self.decoder = nn.Module()
        self.decoder.base = GPT2LMHeadModel(
            GPT2Config(
                vocab_size=VOCAB,
                n_positions=cfg.patch_size,
                n_embd=cfg.hidden,
                n_layer=max(1, cfg.decoder_layers),
                n_head=_heads(cfg.hidden),
                bos_token_id=1,
                eos_token_id=2,
            )
        )

    def reconstruct_logits(self, states: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """states [N, H], targets [N, P] -> logits [N, P, 128]: position 0 (the state) predicts
        char 0, position k predicts char k from chars < k."""
        emb = self.decoder.base.transformer.wte(targets[:, :-1])
        x = torch.cat([states.unsqueeze(1), emb], dim=1)
        return self.decoder.base(inputs_embeds=x).logits

    def forward(self, inputs, mask, selected, targets):
        """Logits [N, P, 128] rebuilding the ``selected`` patches of ``inputs`` [B, L, P]."""
        states = self.encoder(inputs, mask)[selected]
        return self.reconstruct_logits(states, targets[selected])


# ----------------------------------------------------------------------------- shapes
_OLD_BUFFERS = re.compile(r"(embeddings\.position_ids|embeddings\.token_type_ids|\.attn\.bias|\.attn\.masked_bias)$")


def clean_state(state: dict) -> dict:
    """Drop buffers old transformers versions saved (non-persistent since 4.31)."""
    return {k: v for k, v in state.items() if not _OLD_BUFFERS.search(k)}


def _layers(state: dict, prefix: str) -> int:
    idx = {int(m.group(1)) for k in state if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))}
    return max(idx) + 1 if idx else 0


def config_from_state(state: dict) -> tuple[str, ClampConfig]:
    """("clamp" | "m3", config) read from the tensor shapes of a CLaMP 2 or M3 state dict."""
    if "music_model.patch_embedding.weight" in state:
        kind, enc = "clamp", "music_model."
    elif "encoder.patch_embedding.weight" in state:
        kind, enc = "m3", "encoder."
    else:
        raise ValueError("not a CLaMP 2 or M3 state dict: no music_model.* or encoder.* patch embedding")
    pe = state[enc + "patch_embedding.weight"]
    if pe.shape[1] % VOCAB:
        raise ValueError(f"patch_embedding takes {pe.shape[1]} inputs, not a multiple of {VOCAB}")
    text = {}
    if "text_model.embeddings.word_embeddings.weight" in state:
        text["text_vocab"], text["text_hidden"] = state["text_model.embeddings.word_embeddings.weight"].shape
        text["text_positions"] = state["text_model.embeddings.position_embeddings.weight"].shape[0]
        text["text_type_vocab"] = state["text_model.embeddings.token_type_embeddings.weight"].shape[0]
        text["text_layers"] = _layers(state, "text_model.encoder.layer.")
        text["text_intermediate"] = state["text_model.encoder.layer.0.intermediate.dense.weight"].shape[0]
    cfg = ClampConfig(
        patch_size=pe.shape[1] // VOCAB,
        hidden=pe.shape[0],
        patch_length=state[enc + "base.embeddings.position_embeddings.weight"].shape[0],
        layers=_layers(state, enc + "base.encoder.layer."),
        intermediate=state[enc + "base.encoder.layer.0.intermediate.dense.weight"].shape[0],
        proj=state["music_proj.weight"].shape[0] if "music_proj.weight" in state else None,
        decoder_layers=_layers(state, "decoder.base.transformer.h."),
        **text,
    )
    return kind, cfg
