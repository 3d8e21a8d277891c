"""``ostinato prompt cut RECORDING [--midi M] --start S --seconds N --out DIR``: a matched prompt pair.

``ostinato synthesize`` needs an audio prompt and the MIDI of exactly that audio. The DAG holds
no such pair ready (renders cover the first ``render_audio.max_seconds`` of a piece whose MIDI
is the whole piece; segment audio exists only as cuts inside the FLAC), so this cuts one: the
audio between S and S+N and the notes sounding there (clipped, shifted to 0; the same slicing
the ``segment`` stage applies). A render from ``data/render_audio`` finds its MIDI in that
output's cuts; any other recording needs ``--midi``. Also here: the checks every audio prompt
gets (silent: refused; clipped: a warning).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from pathlib import Path

import numpy as np

from pipeline.commands.outputs import plan_output_files, project_of, temp_name
from pipeline.config import repo_root

RENDER_CUTS = "data/render_audio/cuts.jsonl.gz"
SILENT_PEAK = 1e-4  # -80 dBFS: nothing a codec can take a timbre from
FULL_SCALE = 0.999
CLIPPED_SHARE = 1e-3  # more than 0.1% of samples at full scale


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    c = sub.add_parser(
        "cut",
        help="cut a matched audio + MIDI prompt pair (for ostinato synthesize) from a recording",
        description=__doc__.split("\n\n")[1],
    )
    c.add_argument("recording", type=Path, metavar="RECORDING", help="audio file (e.g. a FLAC in data/render_audio)")
    c.add_argument("--midi", type=Path, help=f"the recording's MIDI (default: looked up in {RENDER_CUTS} for a render)")
    c.add_argument("--start", type=float, default=0.0, help="where the prompt starts, seconds (default 0)")
    c.add_argument(
        "--seconds", type=float, default=3.0, help="prompt length, seconds (default 3, what synthesize uses)"
    )
    c.add_argument("--out", type=Path, required=True, help="folder for <recording>.wav and <recording>.mid")
    c.add_argument("--force", action="store_true", help="overwrite an existing pair")


def render_midi(recording: Path, root: Path | None = None) -> Path:
    """The MIDI a ``render_audio`` recording was rendered from (its cut's supervision), looked up
    in the project that holds the recording (else the current one)."""
    root = root or project_of(recording) or repo_root()
    cuts = root / RENDER_CUTS
    if not cuts.is_file():
        raise FileNotFoundError(f"{recording}: no --midi given and no {cuts} to look its MIDI up in")
    target = recording.resolve()
    with gzip.open(cuts, "rt") as f:
        for line in f:
            cut = json.loads(line)
            src = cut["recording"]["sources"][0]["source"]
            if (root / src).resolve() == target:
                return root / cut["supervisions"][0]["custom"]["midi"]
    raise ValueError(f"{recording} is not a recording of {cuts}: give its MIDI with --midi")


def check_prompt_audio(wave: np.ndarray, sr: int, path: Path, seconds: float) -> None:
    """Refuse a silent prompt (its first ``seconds``), warn about a clipped one on stderr.
    ``wave`` is [T] or [T, C]; each frame counts with its loudest channel."""
    clip = np.abs(np.asarray(wave, dtype=np.float32)[: int(round(seconds * sr))])
    clip = clip.max(axis=1) if clip.ndim == 2 and clip.shape[1] else clip.reshape(-1)
    peak = float(clip.max()) if clip.size else 0.0
    if peak < SILENT_PEAK:
        db = "-inf" if peak == 0 else f"{20 * np.log10(peak):.0f}"
        raise ValueError(f"{path}: the first {seconds:g} s are silent (peak {db} dBFS); the prompt must be audible")
    full = int((clip >= FULL_SCALE).sum())
    if full > max(2, CLIPPED_SHARE * clip.size):
        print(
            f"warning: {path}: {full} samples ({100 * full / clip.size:.1f}%) of the first {seconds:g} s are at "
            "full scale: the prompt is clipped and the synthesis will imitate the distortion",
            file=sys.stderr,
        )


def cut(recording: Path, midi: Path | None, start: float, seconds: float, out: Path, force: bool) -> tuple[Path, Path]:
    import soundfile as sf

    from pipeline.data.segment import load_pm, slice_midi

    if seconds <= 0 or start < 0:
        raise ValueError("--start must be >= 0 and --seconds > 0")
    if not recording.is_file():
        raise FileNotFoundError(f"RECORDING {recording}: no such file")
    midi = midi or render_midi(recording)
    if not midi.is_file():
        raise FileNotFoundError(f"--midi {midi}: no such file")
    wav_path, mid_path = out / f"{recording.stem}.wav", out / f"{recording.stem}.mid"
    plan_output_files([wav_path, mid_path], force, "--out", suffixes=(".wav", ".mid"))
    try:
        info = sf.info(str(recording))
    except RuntimeError as e:
        raise ValueError(f"{recording}: not readable audio ({e})") from None
    if start + seconds > info.duration + 1e-6:
        raise ValueError(f"{recording} lasts {info.duration:.2f} s: it has no {seconds:g} s from {start:g} s")
    sr = info.samplerate
    wave, _ = sf.read(str(recording), start=int(round(start * sr)), frames=int(round(seconds * sr)), dtype="float32")
    check_prompt_audio(wave, sr, recording, seconds)
    try:
        pm = slice_midi(load_pm(midi), start, start + seconds)
    except Exception as e:
        raise ValueError(f"--midi {midi}: unreadable ({type(e).__name__}: {e})") from None
    if not any(i.notes for i in pm.instruments if not i.is_drum):
        raise ValueError(f"--midi {midi}: no notes between {start:g} s and {start + seconds:g} s")
    tmp_wav, tmp_mid = temp_name(wav_path), temp_name(mid_path)
    sf.write(str(tmp_wav), wave, sr)
    pm.write(str(tmp_mid))
    os.replace(tmp_wav, wav_path)
    os.replace(tmp_mid, mid_path)
    return wav_path, mid_path


def run(args: argparse.Namespace) -> int:
    wav, mid = cut(args.recording, args.midi, args.start, args.seconds, args.out, args.force)
    print(f"wrote {wav} and {mid} ({args.seconds:g} s from {args.start:g} s of {args.recording.name})")
    print(f"use them as: ostinato synthesize TARGET.mid --prompt-wav {wav} --prompt-midi {mid} ...")
    return 0
