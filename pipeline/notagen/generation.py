"""Patch-by-patch NotaGen sampling with a patch-level KV cache and a char decoder cached
within each patch; streaming past the context; character and time caps.

Per character: softmax -> top-k -> top-p -> temperature on the filtered probabilities
(``pipeline.sample.sampling`` order "notagen"; upstream 9 / 0.9 / 1.2).  Upstream differences
kept out on purpose: filtered tokens are exactly impossible (upstream re-adds 1e-12), a patch
stops at its EOS char (upstream samples 16 chars then zeroes the tail: same patch), and the
torch generator replaces numpy's global RNG.

The first body patch: when a patch starts with ``[r:`` outside the body, ``0/`` is forced next
(upstream discards the patch and resamples with the prefix ``[r:0/``: the same distribution,
since the char decoder is causal).  A prompt whose body lines carry no ``[r:i/j]`` tags gets
them added (upstream NotaGen #34 stopped generation on such input).

Streaming: when the context is full, it is rebuilt from BOS + metadata patches + the patches
of the last half of the complete body lines (count fixed the first time, at least one) + the
current line, and the cache is refilled.  Upstream re-encodes the same text; keeping the
generated patches avoids a second patchilizer pass and gives the same ids for bar-aligned
patches.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate

import torch

from pipeline.notagen.decode import LeanGPT2
from pipeline.notagen.model import NotaGenModel
from pipeline.notagen.patchilizer import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    PatchifyError,
    add_stream_tags,
    body_patches,
    bos_patch,
    decode_patch,
    has_stream_tags,
    metadata_patches,
    split_lines,
    to_ids,
)
from pipeline.notagen.rests import restore_rests
from pipeline.sample.sampling import check_options, sample_next

_R_TAG = [ord(c) for c in "[r:"]
STOPS = ("eos", "max_chars", "max_seconds", "max_patches", "no_body_line", "context_overflow")


@dataclass
class Generated:
    text: str  # as generated: prompt + metadata + [r:]-tagged, rest-reduced body
    interleaved: str | None  # rests restored, tags and %-prompt lines dropped (None: see restore_error)
    stop: str  # one of STOPS; "eos" is the only complete piece
    patches: int  # patches generated
    chars: int  # characters generated (prompt excluded)
    seconds: float
    restore_error: str | None = None
    stream_resets: int = 0

    @property
    def complete(self) -> bool:
        return self.stop == "eos" and self.interleaved is not None


@dataclass
class _Context:
    """The patch rows the patch decoder sees, with the body line each row starts in."""

    meta: list[list[int]] = field(default_factory=list)  # BOS + metadata rows
    body: list[tuple[list[int], int]] = field(default_factory=list)
    line: int = 0  # current body line index

    def rows(self) -> list[list[int]]:
        return self.meta + [r for r, _ in self.body]

    def __len__(self) -> int:
        return len(self.meta) + len(self.body)


class _PatchState:
    """The patch decoder's hidden state for the next patch; cached or recomputed."""

    def __init__(self, model: NotaGenModel, use_cache: bool):
        self.model, self.use_cache = model, use_cache
        self.device = next(model.parameters()).device
        self.past = None
        self.hidden = None
        self.lean = LeanGPT2(model.patch_level_decoder.base) if use_cache else None

    def reset(self, rows: list[list[int]]) -> None:
        x = torch.tensor([rows], dtype=torch.long, device=self.device)
        dec = self.model.patch_level_decoder
        if self.use_cache:
            h, self.past = self.lean(dec.embed(x), None)
            self.hidden = h[:, -1]
        else:  # upstream: transformers' forward over the whole context
            self.hidden = dec(x).last_hidden_state[:, -1]

    def push(self, row: list[int], ctx: "_Context") -> None:
        if not self.use_cache:
            return self.reset(ctx.rows())
        dec = self.model.patch_level_decoder
        x = torch.tensor([[row]], dtype=torch.long, device=self.device)
        h, self.past = self.lean(dec.embed(x), self.past)
        self.hidden = h[:, -1]


def _sample_patch(
    model: NotaGenModel, hidden: torch.Tensor, sample, *, in_body: bool, lean: LeanGPT2 | None, patch_size: int
) -> list[int]:
    """Characters of the next patch, stopping at EOS; the tail is pad."""
    lm = model.char_level_decoder.base
    wte = lm.transformer.wte
    table, head = wte.weight, lm.lm_head.weight.T  # looked up once: module attributes are slow
    use_cache = lean is not None
    chars: list[int] = []
    past = None
    while len(chars) < patch_size:
        if use_cache:
            emb = hidden[:, None] if past is None else table[chars[-1]][None, None]
            h, past = lean(emb, past)
            logits = h[:, -1] @ head
        else:  # upstream: the whole prefix again for every character
            prev = wte(torch.tensor([chars], dtype=torch.long, device=hidden.device))
            logits = lm(inputs_embeds=torch.cat([hidden[:, None], prev], dim=1)).logits[:, -1]
        forced = None
        if not in_body and len(chars) in (3, 4) and chars[:3] == _R_TAG:
            forced = ord("0/"[len(chars) - 3])  # the first body line is line 0
        c = forced if forced is not None else int(sample(logits))
        chars.append(c)
        if c == EOS_ID:
            break
    return chars + [PAD_ID] * (patch_size - len(chars))


def _prompt_context(prompt_lines, patch_size: int, extra_lines: int) -> tuple[_Context, str, bool]:
    if isinstance(prompt_lines, str):
        prompt_lines = [prompt_lines]
    lines = split_lines("\n".join(line.rstrip("\n") for line in prompt_lines))
    start = next((i for i, line in enumerate(lines) if "[V:" in line or line.startswith("[r:")), len(lines))
    meta, body = lines[:start], lines[start:]
    if body and not has_stream_tags(body):
        body = add_stream_tags(body, extra_lines)
    ctx = _Context(meta=to_ids([bos_patch(patch_size)] + metadata_patches(meta, patch_size), patch_size).tolist())
    for k, line in enumerate(body):
        for row in to_ids(body_patches([line], patch_size), patch_size).tolist():
            ctx.body.append((row, k))
    ctx.line = len(body)
    return ctx, "".join(meta + body), bool(body)


def filtered(
    logits: torch.Tensor, top_k: int | None, top_p: float | None, temperature: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(probabilities [B, m], their ids [B, m], most likely first) after softmax -> top-k -> top-p
    -> temperature, the notagen order of ``pipeline.sample.sampling`` (the same distribution,
    tested).  Fused for speed (it runs once per character): top-k keeps only the k candidates,
    already sorted, so top-p needs no sort; the values are positive and finite after a softmax of
    finite logits, so the intermediate renormalisations (a constant factor each) are one at the
    end, and temperature on probabilities is p ** (1/T)."""
    if not bool(torch.isfinite(logits).all()):
        sample_next(logits, temperature=max(temperature, 1e-6), order="notagen")  # the named SamplingError
    probs = torch.softmax(logits.float(), dim=-1)
    if top_k is not None and top_k < probs.shape[-1]:
        probs, ids = probs.topk(int(top_k), dim=-1)
    else:
        probs, ids = probs.sort(dim=-1, descending=True)
    if top_p is not None and top_p < 1.0:
        probs = probs / probs.sum(dim=-1, keepdim=True)
        probs = probs * ((probs.cumsum(dim=-1) - probs) < top_p)  # keeps the token that crosses p, and the top one
    if temperature != 1.0:
        probs = probs.pow(1.0 / temperature)
    return probs / probs.sum(dim=-1, keepdim=True), ids


def draw(
    probs: torch.Tensor | None, ids: torch.Tensor | None, logits: torch.Tensor, temperature: float, gen: torch.Generator
) -> int:
    """One id from one row: argmax at temperature 0, else one uniform from ``gen`` against the
    cumulative probabilities (upstream's ``np.random.choice``: searchsorted right; 4x cheaper
    than ``torch.multinomial`` on 9 values)."""
    if temperature == 0:
        return int(logits.argmax())
    cdf = list(accumulate(probs.tolist()))
    u = float(torch.rand((), generator=gen, device=probs.device)) * cdf[-1]
    return int(ids[min(bisect_right(cdf, u), len(cdf) - 1)])


def _sampler(top_k: int | None, top_p: float | None, temperature: float, gen: torch.Generator):
    check_options(temperature, None, top_p, top_k, "notagen")

    def sample(logits: torch.Tensor) -> int:
        if temperature == 0:
            return draw(None, None, logits[0], temperature, gen)
        probs, ids = filtered(logits, top_k, top_p, temperature)
        return draw(probs[0], ids[0], logits[0], temperature, gen)

    return sample


class _Piece:
    """One piece being generated: its context, patch-decoder state, text and stop reason."""

    def __init__(
        self,
        model: NotaGenModel,
        prompt_lines,
        *,
        use_cache: bool,
        extra_lines: int,
        max_chars: int,
        max_seconds: float,
        max_patches: int | None,
    ) -> None:
        cfg = model.config
        self.ps, self.limit = cfg.patch_size, cfg.patch_length
        self.max_chars, self.max_seconds, self.max_patches = max_chars, max_seconds, max_patches
        ctx, self.prompt_text, self.in_body = _prompt_context(prompt_lines, self.ps, extra_lines)
        while len(ctx) >= self.limit and ctx.line > 1:  # a long user prompt: keep its last body lines
            first = ctx.line - ctx.line // 2
            ctx.body = [(r, k - first) for r, k in ctx.body if k >= first]
            ctx.line -= first
        if len(ctx) >= self.limit:
            raise PatchifyError(f"the prompt is {len(ctx)} patches; the model's context is {self.limit}")
        self.ctx = ctx
        self.state = _PatchState(model, use_cache)
        self.state.reset(ctx.rows())
        self.out: list[str] = []
        self.n_chars = self.n_patches = self.resets = 0
        self.keep_lines: int | None = None
        self.stop: str | None = None
        self.t0 = time.perf_counter()

    def accept(self, row: list[int]) -> None:
        """Append a sampled patch, apply the caps, stream past the context; sets ``stop``."""
        ctx = self.ctx
        if row[0] == BOS_ID and row[1] == EOS_ID:
            self.stop = "eos"
            return
        chunk = decode_patch(row)
        self.n_patches += 1
        self.n_chars += len(chunk)
        self.out.append(chunk)
        if not self.in_body and (chunk.startswith("[r:") or chunk.startswith("[V:")):
            self.in_body = True
        if self.in_body:
            ctx.body.append((row, ctx.line))
            ctx.line += chunk.count("\n")
        else:
            ctx.meta.append(row)
        if self.n_chars > self.max_chars:
            self.stop = "max_chars"
        elif time.perf_counter() - self.t0 > self.max_seconds:
            self.stop = "max_seconds"
        elif self.max_patches is not None and self.n_patches >= self.max_patches:
            self.stop = "max_patches"
        elif len(ctx) >= self.limit:
            if not ctx.body or ctx.line == 0:
                self.stop = "no_body_line" if not ctx.body else "context_overflow"
                return
            if self.keep_lines is None:
                self.keep_lines = max(1, ctx.line // 2)
            first = ctx.line - self.keep_lines
            ctx.body = [(r, k) for r, k in ctx.body if k >= first]
            if len(ctx) >= self.limit:
                self.stop = "context_overflow"
                return
            self.resets += 1
            self.state.reset(ctx.rows())
        else:
            self.state.push(row, ctx)

    def result(self, restore: bool) -> Generated:
        gen_text = "".join(self.out)
        full = self.prompt_text + gen_text
        interleaved, err = restore_rests(full) if self.stop == "eos" and restore else (None, None)
        return Generated(
            text=full,
            interleaved=interleaved,
            stop=self.stop,
            patches=self.n_patches,
            chars=len(gen_text),
            seconds=time.perf_counter() - self.t0,
            restore_error=err,
            stream_resets=self.resets,
        )


@torch.no_grad()
def generate(
    model: NotaGenModel,
    prompt_lines=(),
    *,
    top_k: int | None = 9,
    top_p: float | None = 0.9,
    temperature: float = 1.2,
    seed: int = 0,
    generator: torch.Generator | None = None,
    max_chars: int = 102400,
    max_seconds: float = 1200.0,
    max_patches: int | None = None,
    use_cache: bool = True,
    extra_lines: int = 16,
    restore: bool = True,
) -> Generated:
    """Sample one piece after ``prompt_lines`` (e.g. ``["%Romantic", "%Chopin, Frederic", "%Keyboard"]``,
    optionally followed by header and ``[V:n]`` body lines, tagged or not).

    Stops on the EOS patch (``stop="eos"``), on ``max_chars`` generated characters,
    ``max_seconds`` or ``max_patches``; see :class:`Generated`.  Runs under ``no_grad`` with the
    model in eval mode (its mode is restored afterwards).
    """
    gen = generator or torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    sample = _sampler(top_k, top_p, temperature, gen)
    was_training = model.training
    model.eval()
    try:
        piece = _Piece(
            model,
            prompt_lines,
            use_cache=use_cache,
            extra_lines=extra_lines,
            max_chars=max_chars,
            max_seconds=max_seconds,
            max_patches=max_patches,
        )
        char_lean = LeanGPT2(model.char_level_decoder.base.transformer) if use_cache else None
        while piece.stop is None:
            piece.accept(
                _sample_patch(
                    model, piece.state.hidden, sample, in_body=piece.in_body, lean=char_lean, patch_size=piece.ps
                )
            )
    finally:
        model.train(was_training)
    return piece.result(restore)
