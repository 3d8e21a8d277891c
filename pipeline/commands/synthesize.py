"""``ostinato synthesize MIDI... --prompt-wav W --prompt-midi M --checkpoint C --codec K``: MIDI -> audio.

The same path as the ``valle_synthesize`` stage (``pipeline/valle/synthesis.py``): the target MIDI
is re-timed to 120 bpm (the tick grid VALL-E was trained on) with its parts merged on one piano
track, cut into ``--segment-seconds``
windows (VALL-E's Bar embedding covers 16 bars = 32 s, prompt included), each window is
synthesised with the same audio prompt (its first ``--prompt-seconds`` and the MIDI under them),
and the windows are stitched. Any sample rate in (resampled to the codec's), stereo folded to
mono. Every input and output is checked before the models load: missing files, a prompt shorter
than ``--min-prompt-seconds``, silent (refused) or clipped (a warning), a prompt wav and MIDI of
different lengths, a MIDI with no notes (named: prompt or target), an output that exists
(``--force``) or lies inside a DVC output. ``ostinato prompt cut`` makes a matched prompt pair.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pipeline.commands.outputs import plan_output_files, temp_name
from pipeline.commands.prompt import check_prompt_audio

DEFAULT_OUT_DIR = Path("out/synthesize")
UPSTREAM = """upstream names (MIDI-VALLE egs/atepp/bin/infer.py), accepted as aliases:
  --midi "a.mid|b.mid"   target MIDI files (here also: positional MIDI...)
  --midi-prompts M       = --prompt-midi (one prompt per call: no "|")
  --audio-prompts W      = --prompt-wav
  --audio-tokenizer K    = --codec (a path here, not a codec name)
  --output-dir D         = --out-dir
  --output-file NAME     files NAME_<n>.wav, n = 0.. in target order (upstream's naming)
  --top-k -100           off, as upstream (any k <= 0)
  --checkpoint, --temperature: the same names"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = UPSTREAM
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("midi", type=Path, nargs="*", metavar="MIDI", help="the MIDI file(s) to synthesise")
    p.add_argument(
        "--midi",
        dest="midi_list",
        metavar='"A|B"',
        help="target MIDI files separated by | (upstream's spelling; adds to MIDI...)",
    )
    p.add_argument(
        "--prompt-wav",
        "--audio-prompts",
        required=True,
        type=Path,
        help="audio prompt (any rate, mono or stereo); `ostinato prompt cut` makes one with its MIDI",
    )
    p.add_argument(
        "--prompt-midi",
        "--midi-prompts",
        required=True,
        type=Path,
        help="the MIDI of exactly the prompt recording (same start, same length)",
    )
    p.add_argument(
        "--checkpoint",
        required=True,
        type=Path,
        help="VALL-E: models/valle_train, a .safetensors, or MIDI-VALLE's best-valid-loss.pt",
    )
    p.add_argument(
        "--codec",
        "--audio-tokenizer",
        required=True,
        type=Path,
        help="codec: models/codec_train, a transformers Encodec dir, or an audiocraft export",
    )
    p.add_argument(
        "--out", type=Path, help="output .wav/.flac for a single MIDI (default: OUT_DIR/<midi>__prompt-<wav>.wav)"
    )
    p.add_argument(
        "--out-dir",
        "--output-dir",
        type=Path,
        default=DEFAULT_OUT_DIR,
        help=f"folder for the outputs (default: {DEFAULT_OUT_DIR}, made if missing; never inside a DVC output)",
    )
    p.add_argument("--output-file", metavar="NAME", help="name the outputs NAME_0.wav, NAME_1.wav, ... (upstream)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs (default: refuse)")
    p.add_argument(
        "--prompt-seconds", type=float, default=3.0, help="seconds of the prompt given to the model (default 3)"
    )
    p.add_argument(
        "--min-prompt-seconds",
        type=float,
        default=1.0,
        help="refuse a prompt recording shorter than this (default 1)",
    )
    p.add_argument(
        "--segment-seconds",
        type=float,
        default=15.0,
        help="window length the target is cut into, at most 25 (default 15)",
    )
    p.add_argument("--temperature", type=float, default=1.0, help="AR sampling temperature (default 1.0)")
    p.add_argument("--top-k", type=int, default=None, help="AR top-k sampling (default: off; <= 0 is off, as -100)")
    p.add_argument(
        "--max-tail-seconds", type=float, default=4.0, help="prompt audio may outlast its MIDI by this much (default 4)"
    )
    p.add_argument(
        "--min-length-factor",
        type=float,
        default=0.8,
        help="ban EOS before this fraction of each window's frames (upstream: 0)",
    )
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")


def targets(args: argparse.Namespace) -> list[Path]:
    paths = list(args.midi) + [Path(m) for m in (args.midi_list or "").split("|") if m.strip()]
    if not paths:
        raise ValueError("no target MIDI: give MIDI files as arguments or --midi 'a.mid|b.mid'")
    return paths


def output_paths(args: argparse.Namespace, midis: list[Path]) -> list[Path]:
    if args.out is not None:
        if len(midis) > 1:
            raise ValueError(f"--out names one file but {len(midis)} MIDI files were given: use --out-dir")
        return [args.out]
    if args.output_file:
        return [args.out_dir / f"{args.output_file}_{n}.wav" for n in range(len(midis))]
    return [args.out_dir / f"{m.stem}__prompt-{args.prompt_wav.stem}.wav" for m in midis]


def check_inputs(args: argparse.Namespace, midis: list[Path]) -> None:
    for flag, value in (("--audio-prompts", args.prompt_wav), ("--midi-prompts", args.prompt_midi)):
        if "|" in str(value):
            raise ValueError(f"{flag} {value}: one prompt per call here (upstream's | lists are not supported)")
    named = [("MIDI", m) for m in midis] + [
        ("--prompt-wav", args.prompt_wav),
        ("--prompt-midi", args.prompt_midi),
        ("--checkpoint", args.checkpoint),
        ("--codec", args.codec),
    ]
    for flag, path in named:
        if not path.exists():
            raise FileNotFoundError(f"{flag} {path}: no such file or folder")
    if args.segment_seconds <= 0 or args.segment_seconds > 25:
        raise ValueError("--segment-seconds must be in (0, 25]: the Bar embedding ends at 32 s, prompt included")
    if args.prompt_seconds < args.min_prompt_seconds:
        raise ValueError("--prompt-seconds must be at least --min-prompt-seconds")


def retimed(path: Path, start: float = 0.0, end: float | None = None, role: str = "MIDI"):
    """Notes of ``path`` between start and end (s), every part merged onto one piano track at
    120 bpm (as codec_tokenize does): (notes, the file's end time in seconds). Errors name
    ``role`` (target or prompt) and the file."""
    from pipeline.data.segment import load_pm, slice_midi
    from pipeline.valle.midi_tokens import MidiTokenError
    from pipeline.valle.synthesis import piano_notes

    try:
        pm = load_pm(path)
    except Exception as e:
        raise ValueError(f"{role} {path}: unreadable ({type(e).__name__}: {e})") from None
    total = pm.get_end_time()
    try:
        return piano_notes(slice_midi(pm, start, total if end is None else end)), total
    except MidiTokenError as e:
        raise ValueError(f"{role} {path}: {e}") from None


def read_prompt(args: argparse.Namespace):
    """(wave [T, C], sample rate, prompt notes): every prompt check, before the models load."""
    import soundfile as sf

    from pipeline.valle.synthesis import LengthMismatch, PromptTooShort

    try:
        wave, sr = sf.read(str(args.prompt_wav), dtype="float32", always_2d=True)
    except RuntimeError as e:
        raise ValueError(f"--prompt-wav {args.prompt_wav}: not readable audio ({e})") from None
    audio_s = len(wave) / sr
    if audio_s < args.min_prompt_seconds:
        raise PromptTooShort(
            f"{args.prompt_wav}: the audio prompt is {audio_s:.2f} s; at least {args.min_prompt_seconds} s is needed"
        )
    role = f"prompt MIDI (first {args.prompt_seconds:g} s)"
    prompt_notes, midi_total = retimed(args.prompt_midi, 0.0, args.prompt_seconds, role=role)
    if audio_s > midi_total + args.max_tail_seconds or midi_total > audio_s + 0.5:
        raise LengthMismatch(
            f"prompt audio {args.prompt_wav} is {audio_s:.2f} s but its MIDI lasts {midi_total:.2f} s "
            f"({args.prompt_midi}; they must be the same recording: `ostinato prompt cut` makes a matched pair)"
        )
    check_prompt_audio(wave, sr, args.prompt_wav, args.prompt_seconds)
    return wave, sr, prompt_notes


def synthesize_file(midi: Path, model, codec, wave, sr, prompt_notes, opts, segment_seconds: float):
    """One target MIDI -> stitched mono audio at the codec's rate."""
    import numpy as np

    from pipeline.valle.synthesis import stitch, synthesize

    _, total = retimed(midi, role="target MIDI")
    segments, t = [], 0.0
    while t < total - 1e-3:
        end = min(t + segment_seconds, total)
        try:
            notes, _ = retimed(midi, t, end, role="target MIDI")
        except ValueError:  # a silent window: keep its length
            segments.append((t, end - t, np.zeros(int((end - t) * codec.sample_rate), np.float32)))
            t = end
            continue
        out, info = synthesize(model, codec, notes, end - t, wave.T, sr, prompt_notes, opts)
        segments.append((t, end - t, out))
        print(f"{midi.name} {t:7.2f}-{end:7.2f} s: {info['frames']} frames{' (EOS)' if info['eos'] else ''}")
        t = end
    return stitch(segments, codec.sample_rate, 0.05)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import soundfile as sf

    from pipeline.codec import load as load_codec
    from pipeline.valle import load
    from pipeline.valle.synthesis import SynthesisOptions

    midis = targets(args)
    check_inputs(args, midis)
    outs = output_paths(args, midis)
    plan_output_files(outs, args.force, "--out" if args.out is not None else "--out-dir")
    wave, sr, prompt_notes = read_prompt(args)
    for m in midis:  # a target with no notes at all is named now, not after the others are synthesised
        retimed(m, role="target MIDI")
    top_k = args.top_k if args.top_k is not None and args.top_k > 0 else None
    opts = SynthesisOptions(
        args.prompt_seconds, args.min_prompt_seconds, args.temperature, top_k, 1.25, args.seed, args.min_length_factor
    )
    model, codec = load(args.checkpoint), load_codec(args.codec)
    for midi, out_path in zip(midis, outs):
        audio = synthesize_file(midi, model, codec, wave, sr, prompt_notes, opts, args.segment_seconds)
        tmp = temp_name(out_path)
        sf.write(str(tmp), np.clip(audio, -1, 1), codec.sample_rate)
        os.replace(tmp, out_path)
        print(
            f"wrote {out_path} ({len(audio) / codec.sample_rate:.1f} s at {codec.sample_rate} Hz, "
            f"prompt {args.prompt_wav.name})"
        )
    return 0
