"""Segment audio for the codec stages: the ``segment`` stage's lhotse cuts -> plain specs -> audio.

A spec is JSON-able (``id``, ``audio`` path, ``start``/``duration`` seconds, ``sample_rate``,
``split``, ``condition``, ``piece_id``, ``midi``), so a training job launched under torchrun can
load its own audio. Audio is read with soundfile (mono float32), as written by ``render_audio``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def read_specs(cuts_path: Path, root: Path, conditions: list[str] | None = None) -> list[dict]:
    from pipeline.data.manifests import load_cuts

    specs = []
    for cut in load_cuts(cuts_path):
        custom = cut.custom or {}
        if conditions is not None and custom.get("condition") not in conditions:
            continue
        source = Path(cut.recording.sources[0].source)
        specs.append(
            {
                "id": cut.id,
                "audio": str(source if source.is_absolute() else root / source),
                "start": float(cut.start),
                "duration": float(cut.duration),
                "sample_rate": int(cut.sampling_rate),
                "split": custom.get("split", "train"),
                "condition": custom.get("condition"),
                "piece_id": custom.get("piece_id"),
                "midi": custom.get("midi"),
                "recording_id": cut.recording_id,
            }
        )
    return specs


def spread(items: list, n: int | None) -> list:
    """At most ``n`` items evenly spaced over the list (deterministic)."""
    if n is None or len(items) <= n:
        return list(items)
    idx = np.linspace(0, len(items) - 1, n).round().astype(int)
    return [items[i] for i in idx]


def pick_segments(specs: list[dict], max_segments: int | None, val_segments: int) -> tuple[list[dict], list[dict], str]:
    """(training segments, held-out segments, the split those came from): ``max_segments`` spread over
    the train split; ``val_segments`` from val, else test, else train (a corpus without held-out data)."""
    train = spread([s for s in specs if s["split"] == "train"], max_segments)
    held = [s for s in specs if s["split"] == "val"] or [s for s in specs if s["split"] == "test"]
    source = "val" if held and held[0]["split"] == "val" else "test" if held else "train"
    val = spread(held or train, val_segments) if val_segments else []
    return train, val, source


def load_segment(spec: dict) -> np.ndarray:
    """Mono float32 samples of one segment at the recording's rate."""
    import soundfile as sf

    sr = int(spec["sample_rate"])
    start = int(round(spec["start"] * sr))
    frames = int(round(spec["duration"] * sr))
    try:
        audio, file_sr = sf.read(spec["audio"], start=start, frames=frames, dtype="float32", always_2d=True)
    except Exception as e:
        raise ValueError(f"{spec['audio']}: unreadable audio ({e})") from None
    if file_sr != sr:
        raise ValueError(f"{spec['audio']}: file is {file_sr} Hz, its manifest says {sr} Hz")
    return audio.mean(axis=1)


def to_int16(wave: np.ndarray) -> np.ndarray:
    """Compact in-memory copy for training crops (the FLACs are 16-bit anyway)."""
    return np.round(np.clip(wave, -1.0, 1.0) * 32767.0).astype(np.int16)
