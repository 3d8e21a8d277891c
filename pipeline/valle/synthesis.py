"""MIDI + an audio prompt (with its MIDI) -> audio, through VALL-E and the codec.

The MIDI VALL-E reads is the prompt's notes followed by the target's, shifted by the prompt's
length (upstream prepends the prompt's MIDI the same way), tokenised as one sequence; the
prompt's codes start the AR stream and are the NAR's acoustic prompt. Only the generated frames
are decoded. Audio in: any sample rate (polyphase resampling), stereo folded to mono.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from pipeline.valle.checkpoint import check_codec
from pipeline.valle.data import TICKS_PER_SECOND
from pipeline.valle.infer import synthesize_codes
from pipeline.valle.midi_tokens import midi_notes, notes_to_tokens

Note = tuple[int, int, int, int]  # (onset tick, duration ticks, pitch, velocity) at 96 tpq, 120 bpm


class PromptTooShort(ValueError):
    """The audio prompt is shorter than the minimum the model is given."""


class LengthMismatch(ValueError):
    """MIDI and audio that should cover the same time do not (e.g. a prompt's wav and MIDI)."""


@dataclass(frozen=True)
class SynthesisOptions:
    prompt_seconds: float = 3.0
    min_prompt_seconds: float = 1.0
    temperature: float = 1.0
    top_k: int | None = None
    max_length_factor: float = 1.25
    seed: int = 0
    min_length_factor: float = 0.0  # upstream: EOS may end a segment at any frame after the first


def piano_notes(pm) -> list[Note]:
    """Every pitched part of a PrettyMIDI merged onto one piano track at 120 bpm, as tokenizer notes.
    The same merge ``codec_tokenize`` applies before ``midi_tokens`` (our scores are multi-part;
    upstream keeps only the first track, the same thing for single-track piano MIDI)."""
    import io

    import pretty_midi

    notes = sorted(
        (n for inst in pm.instruments if not inst.is_drum for n in inst.notes), key=lambda n: (n.start, n.pitch, n.end)
    )
    out = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    piano = pretty_midi.Instrument(program=0, name="piano")
    piano.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in notes]
    out.instruments.append(piano)
    buf = io.BytesIO()
    out.write(buf)
    return midi_notes(buf.getvalue())


def to_mono(wave: np.ndarray) -> np.ndarray:
    """[T], [T, C] or [C, T] -> float32 [T] (channels averaged)."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 2:
        wave = wave.mean(axis=0 if wave.shape[0] < wave.shape[1] else 1)
    if wave.ndim != 1 or wave.size == 0 or not np.isfinite(wave).all():
        raise ValueError(f"audio must be a non-empty finite [T] or [T, C] array, got {wave.shape}")
    return wave


def resample(wave: np.ndarray, sr: int, target: int) -> np.ndarray:
    from scipy.signal import resample_poly

    if int(sr) == int(target):
        return wave.astype(np.float32)
    g = math.gcd(int(sr), int(target))
    return resample_poly(wave, int(target) // g, int(sr) // g).astype(np.float32)


def prompt_clip(wave: np.ndarray, sr: int, codec, opts: SynthesisOptions) -> np.ndarray:
    """Mono, at the codec's rate, cut to ``prompt_seconds``; too short is :class:`PromptTooShort`."""
    wave = resample(to_mono(wave), sr, codec.sample_rate)
    seconds = len(wave) / codec.sample_rate
    if seconds < opts.min_prompt_seconds:
        raise PromptTooShort(
            f"the audio prompt is {seconds:.2f} s; at least {opts.min_prompt_seconds} s "
            f"is needed ({opts.prompt_seconds} s is used when available)"
        )
    return wave[: int(round(opts.prompt_seconds * codec.sample_rate))]


def joint_tokens(prompt_notes: list[Note], target_notes: list[Note], prompt_ticks: int) -> np.ndarray:
    """[BOS, prompt notes (cut at the prompt's end), target notes shifted by the prompt, EOS]."""
    head = [(on, max(1, min(d, prompt_ticks - on)), p, v) for on, d, p, v in prompt_notes if on < prompt_ticks]
    tail = [(on + prompt_ticks, d, p, v) for on, d, p, v in target_notes]
    if not tail:
        raise ValueError("the target MIDI has no notes")
    return notes_to_tokens(head + tail)


@torch.no_grad()
def synthesize(
    model,
    codec,
    target_notes: list[Note],
    target_seconds: float,
    prompt_wave: np.ndarray,
    prompt_sr: int,
    prompt_notes: list[Note],
    opts: SynthesisOptions,
) -> tuple[np.ndarray, dict]:
    """-> (mono float32 audio at the codec's rate, info: frames, prompt frames, EOS reached)."""
    check_codec(model, codec)
    clip = prompt_clip(prompt_wave, prompt_sr, codec, opts)
    dev = next(model.parameters()).device
    codes = codec.encode(torch.from_numpy(clip)[None, None].to(dev))  # [1, n_q, P]
    prompt = codes.transpose(1, 2).long()
    prompt_ticks = int(round(prompt.shape[1] / codec.frame_rate * TICKS_PER_SECOND))
    midi = torch.from_numpy(joint_tokens(prompt_notes, target_notes, prompt_ticks))[None].to(dev)
    cap = max(1, math.ceil(target_seconds * codec.frame_rate * opts.max_length_factor))
    floor = min(cap, max(1, int(target_seconds * codec.frame_rate * opts.min_length_factor)))
    gen = torch.Generator(device=dev).manual_seed(opts.seed)
    out = synthesize_codes(
        model,
        midi,
        prompt,
        temperature=opts.temperature,
        top_k=opts.top_k,
        max_frames=cap,
        min_frames=floor,
        generator=gen,
    )
    info = {
        "frames": int(out.shape[1]),
        "prompt_frames": int(prompt.shape[1]),
        "max_frames": cap,
        "eos": bool(out.shape[1] < cap),
        "midi_rows": int(midi.shape[1]),
    }
    if out.shape[1] == 0:
        return np.zeros(0, dtype=np.float32), info
    wave = codec.decode(out.transpose(1, 2))[0].mean(0).float().cpu().numpy()
    return wave, info


def stitch(segments: list[tuple[float, float, np.ndarray]], sr: int, crossfade_s: float) -> np.ndarray:
    """(start s, duration s, audio) segments -> one piece; each is placed at its start, trimmed or
    padded to its duration, and overlaps the next by a linear cross-fade of ``crossfade_s``."""
    if not segments:
        return np.zeros(0, dtype=np.float32)
    xf = int(round(crossfade_s * sr))
    total = int(round(max(s + d for s, d, _ in segments) * sr)) + xf
    out = np.zeros(total, dtype=np.float32)
    for k, (start, dur, wave) in enumerate(sorted(segments, key=lambda s: s[0])):
        a = int(round(start * sr))
        n = min(len(wave), int(round(dur * sr)) + xf, total - a)
        piece = wave[:n].astype(np.float32).copy()
        if xf and k > 0:
            ramp = min(xf, n)
            piece[:ramp] *= np.linspace(0.0, 1.0, ramp, dtype=np.float32)
        if xf and n > int(round(dur * sr)):
            tail = n - int(round(dur * sr))
            piece[-tail:] *= np.linspace(1.0, 0.0, tail, dtype=np.float32)
        out[a : a + n] += piece
    return out
