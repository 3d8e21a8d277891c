"""The ``clamp`` embedder of ``aria_embed``: the global music feature of each piece's MIDI read as
MIDI Text Format by the CLaMP model the DAG holds (``models/clamp_train``: CLaMP 2 or M3 imported
with ``clamp_train.init``, or ours), the baseline of the Aria paper's probe table. Upstream
extraction (``pipeline/clamp/scorer.py``): length-weighted mean over patch windows, no L2 norm.
No retrieval views: a slice of notes has no MIDI file to read as MTF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE
from tqdm.auto import tqdm

from pipeline.clamp.midi_text import mtf
from pipeline.clamp.scorer import load


@task(name="embed-clamp", cache_policy=NO_CACHE)
def embed_clamp(midi_paths: list[Path], checkpoint: Path) -> dict:
    """{"clamp": (features [N, D], no retrieval views, no chunk counts)} in ``midi_paths`` order."""
    scorer = load(checkpoint)
    feats = [scorer.music_features(mtf(p)) for p in tqdm(midi_paths, desc="embed clamp", unit="piece", mininterval=2.0)]
    x = np.stack(feats) if feats else np.zeros((0, scorer.dim), np.float32)
    return {"clamp": (x, np.zeros((0, 2, scorer.dim), np.float32), None)}
