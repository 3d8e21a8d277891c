"""Logits processors: rules applied to the next-token logits before the sampling filters.

Every generator (the Aria continuation, the VALL-E AR decoder, the REMI composer model, NotaGen's
character decoder) passes a list of processors instead of model-specific arguments. A processor
is called as ``processor(logits[B, V], state) -> logits`` and may edit ``logits`` in place; it
must never leave a row with every logit at ``-inf`` (``pipeline.sample.sampling`` raises a
``SamplingError`` then). ``state`` says where decoding is:

  tokens       [B, T] the ids so far (positions ``< pos`` are filled)
  pos          the position being sampled
  prompt_lens  [B] each row's prompt length
  active       [B] bool, rows that are generating now (not inside their prompt, not finished)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import torch


@dataclass
class GenerationState:
    tokens: torch.Tensor
    pos: int
    prompt_lens: torch.Tensor
    active: torch.Tensor

    def generated(self) -> torch.Tensor:
        """[B, pos] bool: which of the positions so far hold generated (not prompt) ids."""
        cols = torch.arange(self.pos, device=self.tokens.device)
        return cols[None, :] >= self.prompt_lens[:, None]


class LogitsProcessor(Protocol):
    def __call__(self, logits: torch.Tensor, state: GenerationState) -> torch.Tensor: ...


def apply(processors: Sequence[LogitsProcessor], logits: torch.Tensor, state: GenerationState) -> torch.Tensor:
    for proc in processors:
        logits = proc(logits, state)
    return logits


class BanTokens:
    """These ids are never sampled (e.g. ``<P>``, or tokens a model must not emit)."""

    def __init__(self, ids: Sequence[int]) -> None:
        self.ids = torch.tensor(sorted({int(i) for i in ids}), dtype=torch.long)

    def __call__(self, logits: torch.Tensor, state: GenerationState) -> torch.Tensor:
        if self.ids.numel():
            logits[:, self.ids.to(logits.device)] = float("-inf")
        return logits


class ForceTokenAfter:
    """A row that has generated ``after`` tokens without ``token_id`` must emit it next
    (Aria's ``--end``: force ``<D>`` near the end of a continuation)."""

    def __init__(self, token_id: int, after: int) -> None:
        if after < 0:
            raise ValueError(f"force after must be >= 0, got {after}")
        self.token_id, self.after = int(token_id), int(after)

    def __call__(self, logits: torch.Tensor, state: GenerationState) -> torch.Tensor:
        gen = state.generated()
        seen = ((state.tokens[:, : state.pos] == self.token_id) & gen).any(dim=1)
        force = state.active & ~seen & (state.pos - state.prompt_lens >= self.after)
        if bool(force.any()):
            kept = logits[force, self.token_id].clone()  # a banned token stays banned: the sampler then errors
            logits[force] = float("-inf")
            logits[force, self.token_id] = kept
        return logits


class AllowedNext:
    """A grammar guard: ``allowed(state) -> [B, V] bool`` of ids that may follow; the others are
    banned. A row where the rule allows nothing keeps its logits (the guard gives up rather than
    dead-ends), and ``gave_up`` counts those rows."""

    def __init__(self, allowed: Callable[[GenerationState], torch.Tensor]) -> None:
        self.allowed, self.gave_up = allowed, 0

    def __call__(self, logits: torch.Tensor, state: GenerationState) -> torch.Tensor:
        ok = self.allowed(state).to(logits.device)
        ok = ok & torch.isfinite(logits)
        stuck = ~ok.any(dim=1)
        self.gave_up += int((stuck & state.active).sum())
        return torch.where(ok | stuck[:, None], logits, torch.full_like(logits, float("-inf")))


class ClassifierFreeGuidance:
    """``uncond + scale * (cond - uncond)``, with ``unconditional(state) -> [B, V]`` giving the
    logits of the same rows without their condition (a second forward pass the caller owns)."""

    def __init__(self, unconditional: Callable[[GenerationState], torch.Tensor], scale: float) -> None:
        self.unconditional, self.scale = unconditional, float(scale)

    def __call__(self, logits: torch.Tensor, state: GenerationState) -> torch.Tensor:
        uncond = self.unconditional(state).to(logits)
        return uncond + self.scale * (logits - uncond)
