"""GnM sampling (upstream ``inference_score`` facts) on the shared KV-cache generator.

Primer ``[Composer_X]``; ``BOS_None`` is forced right after the first sampled token (the model
samples its own tempo); temperature 1.1 then nucleus 0.99 (pipeline.sample); a piece stops at
EOS, after ``max_bars`` Bar tokens, or at ``max_events`` events.

The beat grammar guard is a logits processor: a ``Beat_g`` whose grid is before the current
in-bar position is masked (upstream rejects and resamples, which draws from the same
distribution). Upstream gives up after 256 consecutive rejections and then crashes; here a row
whose allowed mass is so small that 256 upstream draws would more likely than not all be
rejected is ended with EOS (counted in ``GrammarGuard.gave_up``). PAD is never sampled (upstream
raises KeyError on it).
"""

from __future__ import annotations

import torch

from pipeline.gnm.vocab import Vocab
from pipeline.sample.generate import generate
from pipeline.sample.processors import GenerationState


class GrammarGuard:
    """Processor ``(logits [B, V], GenerationState) -> logits``; reads only the ids it has not
    seen yet, so a 1,200-event piece costs O(T), not O(T^2)."""

    def __init__(
        self,
        vocab: Vocab,
        batch_size: int,
        *,
        max_bars: int = 128,
        max_fails: int = 256,
        temperature: float = 1.0,
        force_bos: bool = True,
    ):
        self.vocab, self.max_bars, self.temperature = vocab, max_bars, temperature
        self.min_mass = 1.0 - 0.5 ** (1.0 / max_fails)
        self.bar, self.bos, self.eos = vocab.id("Bar_None"), vocab.id("BOS_None"), vocab.id("EOS_None")
        self.beat_grid = torch.full((len(vocab),), -1, dtype=torch.long)
        for i, t in enumerate(vocab.tokens):
            if t.startswith("Beat_"):
                self.beat_grid[i] = int(t[len("Beat_") :])
        self.beat_ids = (self.beat_grid >= 0).nonzero().flatten()
        self.force_bos = force_bos
        self.reset(batch_size)

    def reset(self, batch_size: int) -> None:
        self.pos = torch.zeros(batch_size, dtype=torch.long)  # current in-bar grid
        self.bars = torch.zeros(batch_size, dtype=torch.long)
        self.length = 0
        self.gave_up = torch.zeros(batch_size, dtype=torch.bool)

    def observe(self, new_ids: torch.Tensor) -> None:
        for col in new_ids.detach().cpu().T:
            grid = self.beat_grid[col]
            self.pos = torch.where(grid >= 0, grid, self.pos)
            is_bar = col == self.bar
            self.pos = torch.where(is_bar, torch.zeros_like(self.pos), self.pos)
            self.bars += is_bar.long()
            self.length += 1

    def __call__(self, logits: torch.Tensor, state: GenerationState) -> torch.Tensor:
        self.observe(state.tokens[:, self.length : state.pos])
        dev = logits.device
        logits[:, self.vocab.pad_id] = float("-inf")
        if self.force_bos and state.pos == 2:  # [Composer, first sampled] -> BOS
            return _force(logits, torch.ones(len(logits), dtype=torch.bool, device=dev), self.bos)
        beats = self.beat_ids.to(dev)
        backwards = (self.beat_grid[self.beat_ids][None, :] < self.pos[:, None]).to(dev)  # [B, n_beats]
        before = torch.softmax(logits.float() / max(self.temperature, 1e-6), dim=-1)
        allowed = 1.0 - (before[:, beats] * backwards).sum(-1)
        logits[:, beats] = logits[:, beats].masked_fill(backwards, float("-inf"))
        give_up = (allowed < self.min_mass).cpu() & state.active.cpu()
        self.gave_up |= give_up
        done = give_up | (self.bars >= self.max_bars)
        return _force(logits, done.to(dev), self.eos) if bool(done.any()) else logits


def _force(logits: torch.Tensor, rows: torch.Tensor, token: int) -> torch.Tensor:
    forced = torch.full_like(logits, float("-inf"))
    forced[:, token] = 0.0
    return torch.where(rows[:, None], forced, logits)


def sample_pieces(
    model,
    vocab: Vocab,
    composer: str | None,
    n: int,
    *,
    seed: int,
    temperature: float = 1.1,
    top_p: float | None = 0.99,
    max_bars: int = 128,
    max_events: int = 1200,
    use_cache: bool = True,
    max_fails: int = 256,
    progress: bool = False,
) -> tuple[list[list[str]], dict]:
    """``n`` pieces for ``composer`` (None = Composer_None): event strings, EOS stripped."""
    prompt = [vocab.composer_id(composer)]
    guard = GrammarGuard(vocab, n, max_bars=max_bars, max_fails=max_fails, temperature=temperature)
    rows = generate(
        model,
        [prompt] * n,
        max_new_tokens=max_events - 1,
        eos_id=guard.eos,
        pad_id=vocab.pad_id,
        seed=seed,
        temperature=temperature,
        top_p=top_p,
        processors=[guard],
        use_cache=use_cache,
        progress=progress,
    )
    out = []
    for ids in rows:
        toks = vocab.decode(ids)
        out.append(toks[: toks.index("EOS_None")] if "EOS_None" in toks else toks)
    stats = {"gave_up": int(guard.gave_up.sum()), "bars": guard.bars.tolist(), "events": [len(t) for t in out]}
    return out, stats
