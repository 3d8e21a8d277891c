"""NotaGen's hierarchical model: a GPT-2 patch decoder over linearly embedded one-hot patches
and a GPT-2 character decoder that spells the next patch (bGPT style).

Built on transformers' ``GPT2Model`` / ``GPT2LMHeadModel`` from shapes only (no download), so
the state-dict keys are upstream's: ``patch_level_decoder.{patch_embedding,base}.*`` and
``char_level_decoder.base.{transformer,lm_head}.*`` (lm_head tied to the char ``wte``).

Semantics (spec section 3): the patch-decoder state at position t conditions the characters
of patch t+1; the char decoder sees [patch vector, wte(c0) .. wte(c14)] plus wpe[0..15] with a
key-padding mask on pad chars, and position k predicts c_k.  Targets are all non-pad chars of
every patch but the first (BOS); EOS chars and the EOS patch are targets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model
from transformers.utils import logging as hf_logging

from pipeline.notagen.patchilizer import PAD_ID, PATCH_SIZE, VOCAB
from pipeline.train.named_config import from_table

hf_logging.set_verbosity_error()  # shape-only configs: silence the bos/eos id warnings


@dataclass(frozen=True)
class NotaGenConfig:
    hidden: int = 128  # head count is hidden // 64, as upstream
    patch_layers: int = 3
    char_layers: int = 1
    patch_length: int = 256  # patch context (upstream 1024 / 2048)
    patch_size: int = PATCH_SIZE
    dropout: float = 0.1  # GPT2Config default, as upstream

    def __post_init__(self):
        if self.hidden % 64:
            raise ValueError(f"hidden must be a multiple of 64 (head dim 64, as upstream), got {self.hidden}")

    @property
    def heads(self) -> int:
        return self.hidden // 64

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_name(cls, name: str, **overrides) -> "NotaGenConfig":
        """``CONFIGS[name]`` with ``overrides``; unknown names and keys fail naming the allowed ones."""
        return from_table(CONFIGS, name, "NotaGen", **overrides)


CONFIGS: dict[str, NotaGenConfig] = {
    # ours: tiny CPU default
    "tiny": NotaGenConfig(),
    # upstream: NotaGen-small, 110M (NotaGen README / seed-systems 4.2)
    "small": NotaGenConfig(hidden=768, patch_layers=12, char_layers=3, patch_length=2048),
    # upstream: NotaGen-medium, 244M (NotaGen README / seed-systems 4.2)
    "medium": NotaGenConfig(hidden=1024, patch_layers=16, char_layers=3, patch_length=2048),
    # upstream: NotaGen-large, 516M (NotaGen README / seed-systems 4.2)
    "large": NotaGenConfig(hidden=1280, patch_layers=20, char_layers=6, patch_length=1024),
}


def _gpt2_config(cfg: NotaGenConfig, vocab: int, positions: int, layers: int) -> GPT2Config:
    return GPT2Config(
        vocab_size=vocab,
        n_positions=positions,
        n_embd=cfg.hidden,
        n_layer=layers,
        n_head=cfg.heads,
        resid_pdrop=cfg.dropout,
        embd_pdrop=cfg.dropout,
        attn_pdrop=cfg.dropout,
        bos_token_id=None,
        eos_token_id=None,
    )


class PatchLevelDecoder(nn.Module):
    def __init__(self, cfg: NotaGenConfig):
        super().__init__()
        self.patch_size = cfg.patch_size
        self.patch_embedding = nn.Linear(cfg.patch_size * VOCAB, cfg.hidden)
        self.base = GPT2Model(_gpt2_config(cfg, 1, cfg.patch_length, cfg.patch_layers))
        # patches come in as inputs_embeds: the 1-token wte is never used (kept for upstream's key
        # layout); frozen so DDP, which needs every trained parameter in the loss, accepts the model
        self.base.wte.weight.requires_grad_(False)

    def embed(self, patches: torch.Tensor) -> torch.Tensor:
        """[B, L, 16] ids -> [B, L, H]: upstream's linear over the flattened char-major one-hot,
        computed as the sum of the weight columns the one-hot selects (column ``pos * 128 + id``):
        the same values without the [B, L, 2048] one-hot and its matmul."""
        cols = patches + torch.arange(patches.shape[-1], device=patches.device) * VOCAB
        return self.patch_embedding.weight.t()[cols].sum(dim=-2) + self.patch_embedding.bias

    def forward(self, patches, attention_mask=None, past_key_values=None, use_cache=False):
        return self.base(
            inputs_embeds=self.embed(patches),
            attention_mask=attention_mask,
            past_key_values=past_key_values,
            use_cache=use_cache,
        )


class CharLevelDecoder(nn.Module):
    def __init__(self, cfg: NotaGenConfig):
        super().__init__()
        self.base = GPT2LMHeadModel(_gpt2_config(cfg, VOCAB, cfg.patch_size + 1, cfg.char_layers))

    def logits(self, patch_vec: torch.Tensor, chars: torch.Tensor) -> torch.Tensor:
        """[N, H] conditioning vectors + [N, 16] target chars -> [N, 16, 128] logits (pos k -> c_k)."""
        wte = self.base.transformer.wte
        inputs = torch.cat([patch_vec[:, None, :], wte(chars[:, :-1])], dim=1)
        mask = torch.cat([torch.ones_like(chars[:, :1]), (chars[:, :-1] != PAD_ID).long()], dim=1)
        return self.base(inputs_embeds=inputs, attention_mask=mask).logits


class NotaGenModel(nn.Module):
    def __init__(self, cfg: NotaGenConfig = NotaGenConfig()):
        super().__init__()
        self.config = cfg
        self.patch_level_decoder = PatchLevelDecoder(cfg)
        self.char_level_decoder = CharLevelDecoder(cfg)

    def char_logits(self, patches: torch.Tensor, masks: torch.Tensor | None = None):
        """(logits [N, 16, 128], targets [N, 16]) for every target patch of the batch.

        ``patches`` [B, L, 16]; ``masks`` [B, L] (1 = real patch, left-aligned).  The caller's
        mask is never mutated (upstream's forward does).
        """
        if patches.dim() == 2:
            patches = patches[None]
        if masks is None:
            masks = torch.ones(patches.shape[:2], dtype=torch.long, device=patches.device)
        if patches.shape[1] > self.config.patch_length:
            raise ValueError(
                f"{patches.shape[1]} patches exceed the model's context "
                f"{self.config.patch_length}; crop with patchify(patch_length=...)"
            )
        hidden = self.patch_level_decoder(patches, attention_mask=masks).last_hidden_state
        cond = masks.bool().clone()
        cond[:, :-1] &= masks[:, 1:].bool()  # positions whose next patch exists
        cond[:, -1] = False
        target = torch.zeros_like(cond)
        target[:, 1:] = cond[:, :-1]
        return self.char_level_decoder.logits(hidden[cond], patches[target]), patches[target]

    def forward(self, patches: torch.Tensor, masks: torch.Tensor | None = None):
        """Mean character cross-entropy over non-pad targets and the number of targets."""
        logits, targets = self.char_logits(patches, masks)
        keep = targets != PAD_ID
        loss = F.cross_entropy(logits[keep].float(), targets[keep])
        return loss, int(keep.sum())


def logprob(model: NotaGenModel, patches, masks: torch.Tensor | None = None) -> torch.Tensor:
    """Summed character log-probability of each piece (upstream RL ``get_log_probs``).

    ``patches``: one [P, 16] tensor, a list of them (padded here), or [B, L, 16] with ``masks``.
    Returns float32 [B] (a 0-dim tensor for a single [P, 16] input); differentiable, so DPO
    backpropagates through it.  Not length-normalised; pad targets excluded.
    """
    single = isinstance(patches, torch.Tensor) and patches.dim() == 2
    if isinstance(patches, (list, tuple)):
        patches, masks = pad_batch(patches)
    elif single:
        patches = patches[None]
    device = next(model.parameters()).device
    patches = patches.to(device)
    masks = None if masks is None else masks.to(device)
    if masks is None:
        masks = torch.ones(patches.shape[:2], dtype=torch.long, device=device)
    logits, targets = model.char_logits(patches, masks)
    logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets[..., None])[..., 0]
    per_patch = (logp * (targets != PAD_ID)).sum(-1)
    # rows of char_logits are the target patches in batch-major order
    target = torch.zeros_like(masks, dtype=torch.bool)
    target[:, 1:] = masks[:, 1:].bool() & masks[:, :-1].bool()
    owner = torch.arange(patches.shape[0], device=device)[:, None].expand_as(target)[target]
    out = torch.zeros(patches.shape[0], device=device, dtype=per_patch.dtype).index_add(0, owner, per_patch)
    return out[0] if single else out


def pad_batch(items: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """List of [P_i, 16] -> ([B, max P, 16] zero-padded, masks [B, max P])."""
    n = max(int(x.shape[0]) for x in items)
    out = torch.zeros(len(items), n, items[0].shape[-1], dtype=torch.long)
    masks = torch.zeros(len(items), n, dtype=torch.long)
    for i, x in enumerate(items):
        out[i, : x.shape[0]] = x
        masks[i, : x.shape[0]] = 1
    return out, masks


def count_params(model: nn.Module) -> int:
    """Parameters, counting the tied char embedding once."""
    return sum(p.numel() for p in model.parameters())
