"""SI short / mid / long of GnM pieces (``pipeline.eval.structureness``: Wu & Yang's indicator, MusDr's code).

SI is an audio metric: generated pieces are scored on the audio ``gnm_generate`` rendered; real
held-out pieces are rendered here the same way (the acoustic condition, sample rate and length cap
that ``gnm_generate``'s manifest records), so both sides go through one synthesiser and one cap.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import soundfile as sf

from pipeline.config import repo_root
from pipeline.data.render import render_midi, resolve_soundfont
from pipeline.eval.structureness import StructurenessError, structureness
from pipeline.gnm.decode import write_midi
from pipeline.params.gnm import GnmGenerateParams


def si_or_none(wave, sr: int) -> dict | None:
    try:
        return structureness(wave, sr)
    except StructurenessError:
        return None


def generated_si(gen_dir: Path, entry: dict) -> dict | None:
    """SI of one generated piece's rendered audio (None without audio)."""
    if not entry.get("audio"):
        return None
    wave, sr = sf.read(str(gen_dir / entry["audio"]), dtype="float32")
    return si_or_none(wave, sr)


def render_params(gen_dir: Path) -> GnmGenerateParams:
    """The rendering settings ``gnm_generate`` used, from its manifest."""
    path = gen_dir / "manifest.json"
    try:
        return GnmGenerateParams(**json.loads(path.read_text())["params"]["gnm_generate"])
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(f"{path}: cannot read gnm_generate's rendering params ({e})") from e


def real_si(pieces: list[list[str]], gen_dir: Path) -> list[dict | None]:
    """SI of real pieces (event lists), rendered as ``gnm_generate`` renders its samples."""
    p = render_params(gen_dir)
    soundfont = resolve_soundfont(p.audio.soundfont, repo_root())
    out = []
    with tempfile.TemporaryDirectory(prefix="gnm-si-") as tmp:
        for i, events in enumerate(pieces):
            midi = Path(tmp) / f"{i}.mid"
            write_midi(events, midi)
            out.append(
                si_or_none(
                    render_midi(midi.read_bytes(), p.audio, soundfont, p.sample_rate, p.max_seconds), p.sample_rate
                )
            )
    return out
