"""``ostinato synthesize MIDI --prompt-wav W --prompt-midi M --checkpoint C --codec K``: MIDI -> audio.

The same path as the ``valle_synthesize`` stage (``pipeline/valle/synthesis.py``): the target MIDI
is re-timed to 120 bpm (the tick grid VALL-E was trained on) with its parts merged on one piano
track, cut into ``--segment-seconds``
windows (VALL-E's Bar embedding covers 16 bars = 32 s, prompt included), each window is
synthesised with the same audio prompt (its first ``--prompt-seconds`` and the MIDI under them),
and the windows are stitched. Any sample rate in (resampled to the codec's), stereo folded to
mono. Named errors: a prompt shorter than ``--min-prompt-seconds``, a prompt wav and MIDI of
different lengths, a MIDI with no notes, a checkpoint of another codebook count or sample rate.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("midi", type=Path, metavar="MIDI", help="the MIDI file to synthesise")
    p.add_argument("--prompt-wav", required=True, type=Path, help="audio prompt (any rate, mono or stereo)")
    p.add_argument("--prompt-midi", required=True, type=Path, help="the MIDI of the prompt recording")
    p.add_argument(
        "--checkpoint",
        required=True,
        type=Path,
        help="VALL-E: models/valle_train, a .safetensors, or MIDI-VALLE's best-valid-loss.pt",
    )
    p.add_argument(
        "--codec",
        required=True,
        type=Path,
        help="codec: models/codec_train, a transformers Encodec dir, or an audiocraft export",
    )
    p.add_argument("--out", type=Path, help="output .wav/.flac (default: <midi>__prompt-<wav>.wav)")
    p.add_argument("--prompt-seconds", type=float, default=3.0)
    p.add_argument("--min-prompt-seconds", type=float, default=1.0)
    p.add_argument("--segment-seconds", type=float, default=15.0)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=None, help="default: off (upstream's -100)")
    p.add_argument(
        "--max-tail-seconds", type=float, default=4.0, help="prompt audio may outlast its MIDI by this much (default 4)"
    )
    p.add_argument(
        "--min-length-factor",
        type=float,
        default=0.8,
        help="ban EOS before this fraction of each window's frames (upstream: 0)",
    )
    p.add_argument("--seed", type=int, default=0)


def retimed(path: Path, start: float = 0.0, end: float | None = None):
    """Notes of ``path`` between start and end (s), every part merged onto one piano track at
    120 bpm (as codec_tokenize does): (notes, the file's end time in seconds)."""
    from pipeline.data.segment import load_pm, slice_midi
    from pipeline.valle.midi_tokens import MidiTokenError
    from pipeline.valle.synthesis import piano_notes

    try:
        pm = load_pm(path)
    except Exception as e:
        raise MidiTokenError("unreadable", f"{path}: {type(e).__name__}: {e}") from None
    total = pm.get_end_time()
    return piano_notes(slice_midi(pm, start, total if end is None else end)), total


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import soundfile as sf

    from pipeline.codec import load as load_codec
    from pipeline.valle import load
    from pipeline.valle.synthesis import LengthMismatch, PromptTooShort, SynthesisOptions, stitch, synthesize

    if args.segment_seconds <= 0 or args.segment_seconds > 25:
        raise ValueError("--segment-seconds must be in (0, 25]: the Bar embedding ends at 32 s, prompt included")
    model, codec = load(args.checkpoint), load_codec(args.codec)
    wave, sr = sf.read(str(args.prompt_wav), dtype="float32", always_2d=True)
    prompt_notes, _ = retimed(args.prompt_midi, 0.0, args.prompt_seconds)
    audio_s = len(wave) / sr
    if audio_s < args.min_prompt_seconds:
        raise PromptTooShort(
            f"{args.prompt_wav}: the audio prompt is {audio_s:.2f} s; at least {args.min_prompt_seconds} s is needed"
        )
    _, midi_total = retimed(args.prompt_midi)
    if audio_s > midi_total + args.max_tail_seconds or midi_total > audio_s + 0.5:
        raise LengthMismatch(
            f"prompt audio is {audio_s:.2f} s but its MIDI lasts {midi_total:.2f} s (they must be the same recording)"
        )
    opts = SynthesisOptions(
        args.prompt_seconds,
        args.min_prompt_seconds,
        args.temperature,
        args.top_k,
        1.25,
        args.seed,
        args.min_length_factor,
    )
    _, total = retimed(args.midi)
    segments, t = [], 0.0
    while t < total - 1e-3:
        end = min(t + args.segment_seconds, total)
        try:
            notes, _ = retimed(args.midi, t, end)
        except ValueError:  # a silent window: keep its length
            segments.append((t, end - t, np.zeros(int((end - t) * codec.sample_rate), np.float32)))
            t = end
            continue
        out, info = synthesize(model, codec, notes, end - t, wave.T, sr, prompt_notes, opts)
        segments.append((t, end - t, out))
        print(f"{t:7.2f}-{end:7.2f} s: {info['frames']} frames{' (EOS)' if info['eos'] else ''}")
        t = end
    if not segments:
        raise ValueError(f"{args.midi}: no notes")
    audio = stitch(segments, codec.sample_rate, 0.05)
    out_path = args.out or args.midi.with_name(f"{args.midi.stem}__prompt-{args.prompt_wav.stem}.wav")
    sf.write(str(out_path), np.clip(audio, -1, 1), codec.sample_rate)
    print(
        f"wrote {out_path} ({len(audio) / codec.sample_rate:.1f} s at {codec.sample_rate} Hz, "
        f"prompt {args.prompt_wav.name})"
    )
    return 0
