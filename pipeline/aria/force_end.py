"""Aria's ``--end``: force ``<D>`` (the ending token) within the last ``END_WINDOW`` positions.

As upstream: from a given absolute position on, a row that has not emitted ``<D>`` gets it as
its next token, but never between a note token and its onset/duration (a note is completed
first). A logits processor (``pipeline.sample.processors``), so the generation loop needs no
Aria knowledge.
"""

from __future__ import annotations

import torch

from pipeline.aria.tokenizer import AbsTokenizer
from pipeline.sample.processors import GenerationState

END_WINDOW = 130  # upstream: <D> is forced somewhere in the last 130 tokens
NOTE, ONSET = 1, 2


class ForceEnd:
    """From absolute position ``start`` on, each row that has not emitted ``<D>`` (prompt
    included) must emit it next, unless an onset or duration is due to complete a note."""

    def __init__(self, tok: AbsTokenizer, start: int) -> None:
        self.dim_id, self.start = tok.dim_id, int(start)
        self.kind = torch.tensor([_kind(tok, t) for t in tok.vocab] + [0], dtype=torch.long)  # [-1] -> other

    def __call__(self, logits: torch.Tensor, state: GenerationState) -> torch.Tensor:
        pos = state.pos
        if pos < self.start:
            return logits
        tokens = state.tokens[:, :pos]
        seen = (tokens == self.dim_id).any(dim=1)
        kind = self.kind.to(tokens.device)
        prev = kind[tokens[:, -1]] if pos >= 1 else torch.zeros_like(seen, dtype=torch.long)
        prev2 = kind[tokens[:, -2]] if pos >= 2 else torch.zeros_like(prev)
        due = (prev == NOTE) | ((prev == ONSET) & (prev2 == NOTE))
        force = ~seen & ~due
        if bool(force.any()):
            logits[force] = float("-inf")
            logits[force, self.dim_id] = 0.0
        return logits


def _kind(tok: AbsTokenizer, token) -> int:
    k = tok.kind(token)
    return NOTE if k in ("note", "drum", "pedal") else ONSET if k == "onset" else 3 if k == "dur" else 0
