"""Real recordings paired with MIDI (MAESTRO/ATEPP style), read from a user manifest.

Manifest: JSONL or CSV with ``audio`` and ``midi`` columns (paths relative to the manifest's
folder, kept inside it), optional ``id``, ``condition``, ``split`` (train, val or validation as
MAESTRO spells it, test; rows without one are split by the hash of their id, 80/10/10, so the
held-out stages have test recordings) and ``dataset`` (a label such as atepp or maestro: valle_eval
reports each dataset apart; nothing upstream of it reads it). Audio is resampled to the
pipeline's rate and stored as mono FLAC like synthesized audio.
"""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np

from pipeline.data.metadata import MetadataError, _table_rows, normalise_split, resolve_inside
from pipeline.data.sources import slug
from pipeline.data.splits import assign_split
from pipeline.params.data import SplitParams


def read_pairs(manifest: Path) -> list[dict]:
    if not manifest.is_file():
        raise MetadataError(f"render_audio.real_recordings: {manifest} not found")
    root = manifest.parent.resolve()
    pairs = []
    for i, row in enumerate(_table_rows(manifest), 1):
        if "audio" not in row or "midi" not in row:
            raise MetadataError(f"{manifest}: row {i} needs 'audio' and 'midi' columns")
        audio, midi = resolve_inside(root, row["audio"]), resolve_inside(root, row["midi"])
        pid = row.get("id") or slug(Path(row["audio"]).with_suffix("").as_posix())
        try:
            given = normalise_split(row.get("split"))
        except MetadataError as e:
            raise MetadataError(f"{manifest}: row {i}: {e}") from None
        pairs.append(
            {
                "id": pid,
                "audio": audio,
                "midi": midi,
                "condition": row.get("condition") or "real",
                "split": assign_split(pid, 0, SplitParams(), given),
                "dataset": (row.get("dataset") or "").strip() or None,
            }
        )
    return pairs


def load_audio(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float32 at ``sample_rate``; unreadable audio raises ValueError naming the file."""
    import soundfile as sf
    from scipy.signal import resample_poly

    try:
        audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:
        raise ValueError(f"{path}: unreadable audio ({e})") from None
    audio = audio.mean(axis=1)
    if sr != sample_rate:
        g = gcd(sr, sample_rate)
        audio = resample_poly(audio, sample_rate // g, sr // g).astype(np.float32)
    return audio
