"""Where the demo's models come from: the DAG's ``models/`` by default, released checkpoints by flag.

A family whose model is missing keeps its tab, which says what to build or pass instead. The
default VALL-E audio prompt is the first segment of the DAG's rendered corpus that starts at
0 s (its MIDI from ``data/segment``, its audio the head of the ``data/render_audio`` recording).
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DIRS = {  # family -> the DAG stage whose model the tab uses
    "aria": "aria_finetune",
    "gnm": "gnm_finetune",
    "notagen": "abc_finetune",
    "valle": "valle_train",
    "codec": "codec_train",
}


@dataclass
class Sources:
    models: dict[str, Path]  # family -> checkpoint path (may not exist)
    prompt_wav: Path | None = None
    prompt_midi: Path | None = None
    device: str | None = None

    def has(self, family: str) -> bool:
        return self.models[family].exists()

    def missing(self, family: str) -> str:
        return (
            f"no {family} model at {self.models[family]}: build it ('make repro', stage "
            f"{DEFAULT_DIRS[family]}) or pass --{family} PATH to a released checkpoint"
        )

    def valle_ready(self) -> bool:
        return self.has("valle") and self.has("codec") and self.prompt_wav is not None

    def valle_argv(self, midi: Path, out: Path, prompt_wav: Path, prompt_midi: Path) -> list[str]:
        return [
            "synthesize",
            str(midi),
            "--prompt-wav",
            str(prompt_wav),
            "--prompt-midi",
            str(prompt_midi),
            "--checkpoint",
            str(self.models["valle"]),
            "--codec",
            str(self.models["codec"]),
            "--out",
            str(out),
        ]


def resolve(models_dir: Path, overrides: dict[str, Path | None], data_dir: Path, workdir: Path) -> Sources:
    models = {f: (overrides.get(f) or models_dir / d).resolve() for f, d in DEFAULT_DIRS.items()}
    src = Sources(models, overrides.get("prompt_wav"), overrides.get("prompt_midi"))
    if (src.prompt_wav is None) != (src.prompt_midi is None):
        raise ValueError("give both --prompt-wav and --prompt-midi (the audio prompt and its MIDI), or neither")
    for p in (src.prompt_wav, src.prompt_midi):
        if p is not None and not p.is_file():
            raise FileNotFoundError(f"{p}: no such file")
    if src.prompt_wav is None:
        src.prompt_wav, src.prompt_midi = default_prompt(data_dir, workdir) or (None, None)
    return src


def default_prompt(data_dir: Path, workdir: Path) -> tuple[Path, Path] | None:
    """(wav, midi) of the DAG's first segment that starts at 0 s, or None when the DAG has none."""
    index, recordings = data_dir / "segment/index.jsonl", data_dir / "render_audio/recordings.jsonl.gz"
    if not (index.is_file() and recordings.is_file()):
        return None
    with gzip.open(recordings, "rt") as fh:
        audio = {r["id"]: r["sources"][0]["source"] for r in map(json.loads, fh)}
    root = data_dir.resolve().parent  # cut paths are relative to the repo root
    for line in index.read_text().splitlines():
        seg = json.loads(line)
        if seg["start"] == 0.0 and seg["recording_id"] in audio:
            return _cut(root / audio[seg["recording_id"]], seg["duration"], workdir / "prompt.wav"), root / seg["midi"]
    return None


def _cut(recording: Path, seconds: float, out: Path) -> Path:
    import soundfile as sf

    wave, sr = sf.read(str(recording), dtype="float32")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.wav")
    sf.write(str(tmp), wave[: int(round(seconds * sr))], sr)
    os.replace(tmp, out)
    return out
