"""VALL-E inference: AR sampling of codebook 0 (KV cache), then NAR greedy for codebooks 1..n-1.

AR: the prompt's codebook-0 codes start the audio stream; each step samples the next frame with
temperature and top-k (``pipeline.sample.sample_next``). Text rows never attend to audio, so one
prefill of [MIDI ; prompt] plus one cached step per frame gives exactly upstream's full
recomputation (kept as ``use_cache=False`` for the benchmark and the equivalence test). Stops
when EOS is the argmax or is sampled, or after ``max_frames`` (upstream: 16 x MIDI rows). EOS is
banned for the first ``min_frames`` steps (upstream raises on an immediate EOS).
NAR (prefix mode 1): for stage i, the decoder sees [MIDI ; prompt (all codebooks) + generated
(codebooks < i)] and the argmax of the generated frames becomes codebook i.
"""

from __future__ import annotations

import torch

from pipeline.sample.kv_cache import KVCache
from pipeline.sample.sampling import sample_next
from pipeline.valle.model import Valle, attention_mask


class SynthesisError(ValueError):
    """Inputs synthesis cannot use (empty prompt, batch > 1)."""


def _ar_step_logits_full(model: Valle, x: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
    """Upstream's step: re-run the whole decoder on [text ; audio]; last position's logits."""
    y = model.ar_audio_position(model.ar_audio_embedding(audio))
    lens_x = torch.tensor([x.shape[1]], device=x.device)
    lens_y = torch.tensor([y.shape[1]], device=x.device)
    mask = attention_mask(lens_x, lens_y, x.shape[1], y.shape[1], causal_audio=True)
    h = model.ar_decoder(torch.cat([x, y], dim=1), mask)
    return model.ar_predict_layer(h[:, -1])


@torch.no_grad()
def ar_decode(
    model: Valle,
    midi: torch.Tensor,
    prompt0: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    max_frames: int | None = None,
    min_frames: int = 1,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """midi int64 [1, N, 6], prompt0 int64 [1, P] -> generated codebook-0 frames [1, T]."""
    if midi.shape[0] != 1 or prompt0.shape[0] != 1:
        raise SynthesisError("VALL-E synthesis runs one item at a time")
    if prompt0.shape[1] < 1:
        raise SynthesisError("the acoustic prompt has no frames")
    model.check_inputs(midi)
    max_frames = 16 * midi.shape[1] if max_frames is None else max_frames
    cfg, dev = model.cfg, midi.device
    x = model.ar_text(midi)
    n, p = x.shape[1], prompt0.shape[1]
    cache = None
    if use_cache:
        cache = KVCache(
            cfg.n_layers, 1, cfg.nhead, n + p + max_frames + 1, cfg.d_model // cfg.nhead, dtype=x.dtype, device=dev
        )
        y = model.ar_audio_position(model.ar_audio_embedding(prompt0))
        mask = attention_mask(torch.tensor([n], device=dev), torch.tensor([p], device=dev), n, p, True)
        logits = model.ar_predict_layer(model.ar_decoder(torch.cat([x, y], 1), mask, cache=cache)[:, -1])
    else:
        logits = _ar_step_logits_full(model, x, prompt0)
    out: list[torch.Tensor] = []
    audio = prompt0
    while len(out) < max_frames:
        if len(out) < min_frames:
            logits = logits.clone()
            logits[:, model.eos] = float("-inf")
        tok = sample_next(logits, temperature=temperature, top_k=top_k, generator=generator)
        if int(tok) == model.eos or int(logits.argmax(-1)) == model.eos:
            break
        out.append(tok)
        if use_cache:
            step = p + len(out) - 1  # audio position of the new frame
            y = model.ar_audio_position(model.ar_audio_embedding(tok[:, None]), start=step)
            h = model.ar_decoder(y, None, cache=cache, start=n + step)
            logits = model.ar_predict_layer(h[:, -1])
        else:
            audio = torch.cat([audio, tok[:, None]], dim=1)
            logits = _ar_step_logits_full(model, x, audio)
    if not out:
        return prompt0.new_zeros((1, 0))
    return torch.stack(out, dim=1)


@torch.no_grad()
def nar_decode(model: Valle, midi: torch.Tensor, prompt: torch.Tensor, gen0: torch.Tensor) -> torch.Tensor:
    """prompt codes [1, P, n_q] + generated codebook 0 [1, T] -> generated codes [1, T, n_q]."""
    p, t = prompt.shape[1], gen0.shape[1]
    codes = [gen0]
    y = model.nar_audio_embeddings[0](torch.cat([prompt[..., 0], gen0], dim=1))
    extra = sum(model.nar_audio_embeddings[j](prompt[..., j]) for j in range(1, model.cfg.n_quantizers))
    y = torch.cat([y[:, :p] + extra, y[:, p:]], dim=1)
    x = model.nar_text_position(model.nar_text_embedding(model.text_features(midi)))
    for i in range(1, model.cfg.n_quantizers):
        h = model.nar_decoder(torch.cat([x, model.nar_audio_position(y)], dim=1), None, model.nar_stage(i))
        code = model.nar_predict_layers[i - 1](h[:, x.shape[1] + p :]).argmax(-1)
        codes.append(code)
        if i + 1 < model.cfg.n_quantizers:
            y = torch.cat([y[:, :p], y[:, p:] + model.nar_audio_embeddings[i](code)], dim=1)
    return torch.stack(codes, dim=-1) if t else prompt.new_zeros((1, 0, model.cfg.n_quantizers))


def synthesize_codes(model: Valle, midi: torch.Tensor, prompt: torch.Tensor, **ar_kwargs) -> torch.Tensor:
    """[1, N, 6] MIDI (prompt's MIDI then the target's) + prompt codes [1, P, n_q] -> [1, T, n_q]."""
    model.check_inputs(midi, prompt)
    gen0 = ar_decode(model, midi, prompt[..., 0], **ar_kwargs)
    return nar_decode(model, midi, prompt, gen0)
