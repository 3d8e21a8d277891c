"""Batched autoregressive generation with a KV cache (prefill + single-token decode).

All prompts (variations) run in one batch. Prompts are left-aligned and may differ in length:
the common prefix length ``min(len)`` is prefilled, then every step feeds one token per row,
the prompt's own token while a row is still inside its prompt and the sampled one after, so
each row sees exactly its own prompt at the right positions (no padding inside a sequence).

The model protocol (TransformerLM and the MLX port's adapter both follow it):
``model(idx[B,T], kv_cache, start_pos, last_only=True) -> logits [B,T',V]`` (``last_only`` is
optional), ``model.new_kv_cache(batch_size, max_len)``, ``model.config.max_seq_len`` and
optionally ``model.config.vocab_size``; the device is ``model.device`` or that of its parameters.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch

from pipeline.sample.processors import BanTokens, GenerationState, LogitsProcessor, apply
from pipeline.sample.sampling import SamplingError, check_options, sample_next


def generate(
    model,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    eos_id: int | None = None,
    pad_id: int = 0,
    seed: int | None = None,
    temperature: float = 1.0,
    min_p: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    order: str = "aria",
    banned_ids: Sequence[int] = (),
    processors: Sequence[LogitsProcessor] = (),
    use_cache: bool = True,
    progress: bool = False,
) -> list[list[int]]:
    """Continue every prompt by up to ``max_new_tokens`` tokens; return prompt + continuation.

    A row stops after it emits ``eos_id`` (kept as its last token) or when it reaches
    ``model.config.max_seq_len`` tokens in total. ``banned_ids`` are never sampled.
    ``processors`` (see :mod:`pipeline.sample.processors`: grammar guards, forced tokens such as
    Aria's ``<D>`` near the end, classifier-free guidance) edit the logits before the sampling
    filters; ``banned_ids`` is a shorthand for a ``BanTokens`` processor, applied first.
    ``seed`` seeds a private generator (results then depend only on inputs and options).
    ``use_cache=False`` recomputes the whole prefix at every step (reference/benchmark path).
    ``progress`` shows a tqdm bar over decode steps. ``pad_id`` only fills finished rows
    internally; outputs are never padded.
    """
    check_options(temperature, min_p, top_p, top_k, order)
    cfg = model.config
    max_len, vocab = int(cfg.max_seq_len), getattr(cfg, "vocab_size", None)
    prompts = [list(map(int, p)) for p in prompts]
    _validate(prompts, max_new_tokens, max_len, vocab, eos_id, pad_id, banned_ids)
    if not prompts:
        return []
    device = _device(model)
    bsz = len(prompts)
    lens = torch.tensor([len(p) for p in prompts], device=device)
    targets = (lens + max_new_tokens).clamp(max=max_len)
    total, start = int(targets.max()), int(lens.min())
    if start >= total:
        return prompts
    tokens = torch.full((bsz, total), pad_id, dtype=torch.long, device=device)
    for b, p in enumerate(prompts):
        tokens[b, : len(p)] = torch.tensor(p, dtype=torch.long)
    rules: list[LogitsProcessor] = ([BanTokens(banned_ids)] if banned_ids else []) + list(processors)
    gen = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
    ends = targets.clone()
    done = targets <= lens
    step = _stepper(model, tokens, use_cache, total)
    sampler = dict(temperature=temperature, min_p=min_p, top_p=top_p, top_k=top_k, order=order)

    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with torch.inference_mode():
            logits = step(0, start)
            steps = range(start, total)
            if progress:
                from tqdm.auto import tqdm

                steps = tqdm(steps, desc="generate", unit="tok")
            for pos in steps:
                in_prompt = pos < lens
                generated = ~in_prompt & ~done
                if rules:
                    logits = apply(rules, logits, GenerationState(tokens, pos, lens, generated))
                nxt = sample_next(logits, generator=gen, **sampler)
                nxt = torch.where(done, torch.full_like(nxt, pad_id), nxt)
                nxt = torch.where(in_prompt, tokens[:, pos], nxt)
                tokens[:, pos] = nxt
                if eos_id is not None:
                    hit = generated & (nxt == eos_id)
                    ends = torch.where(hit, torch.full_like(ends, pos + 1), ends)
                    done |= hit
                done |= pos + 1 >= targets
                if bool(done.all()) or pos + 1 >= total:
                    break
                logits = step(pos, pos + 1)
    finally:
        if was_training and hasattr(model, "train"):
            model.train()
    ends = ends.tolist()
    return [tokens[b, : ends[b]].tolist() for b in range(bsz)]


def _stepper(model, tokens: torch.Tensor, use_cache: bool, total: int):
    """step(a, b): logits [B, V] for the last of positions a..b-1 (cache) or 0..b-1 (no cache)."""
    kw = {"last_only": True} if _accepts(model, "last_only") else {}
    cache = model.new_kv_cache(tokens.shape[0], total) if use_cache else None

    def step(a: int, b: int) -> torch.Tensor:
        if use_cache:
            out = model(tokens[:, a:b], cache, a, **kw)
        else:
            out = model(tokens[:, :b], **kw)
        return out[:, -1].float()

    return step


def _accepts(model, name: str) -> bool:
    try:
        return name in inspect.signature(model.forward if hasattr(model, "forward") else model).parameters
    except (TypeError, ValueError):
        return False


def _device(model) -> torch.device:
    dev = getattr(model, "device", None)
    if dev is not None:
        return torch.device(dev)
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def _validate(prompts, max_new_tokens, max_len, vocab, eos_id, pad_id, banned_ids):
    if isinstance(max_new_tokens, bool) or int(max_new_tokens) != max_new_tokens or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens}")
    for i, p in enumerate(prompts):
        if not p:
            raise ValueError(f"prompt {i} is empty; give at least one token (e.g. [prefix, <S>])")
        if len(p) > max_len:
            raise ValueError(f"prompt {i} has {len(p)} tokens, longer than the model context max_seq_len={max_len}")
        if vocab is not None and (min(p) < 0 or max(p) >= vocab):
            raise ValueError(f"prompt {i} has token ids outside [0, {vocab})")
    named = {"eos_id": eos_id, "pad_id": pad_id}
    named.update({f"banned_ids[{i}]": t for i, t in enumerate(banned_ids)})
    for name, t in named.items():
        if t is not None and (t < 0 or (vocab is not None and t >= vocab)):
            raise ValueError(f"{name}={t} is outside the vocabulary [0, {vocab})")
    if eos_id is not None and eos_id in set(banned_ids):
        raise SamplingError(f"eos_id {eos_id} is banned: rows could never stop early")
