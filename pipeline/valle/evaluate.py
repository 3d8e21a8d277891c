"""The MIDI-VALLE table over synthesised segments: FAD (two embeddings, vs ground truth and vs
codec reconstruction, FAD-inf), chroma and spectrogram distance, each with a 95% interval.

Rows are systems (VALL-E, FluidSynth baseline in the prompt's condition, codec reconstruction);
per-segment distances are against the segment's ground truth; FAD compares the set of a system's
segments with the set of ground-truth (or codec-reconstructed) segments, its interval from
resampling the system's segments. Embeddings: the codec's quantized latents (as MIDI-VALLE's
fadtk ``encodec-music``) and 64-bin log-mel frames (tied to no codec).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from pipeline.eval.audio_distance import AudioEvalError, chroma_distance, logmel_frames, spectrogram_distance
from pipeline.eval.frechet import FrechetError, fad_inf, fad_with_interval, mean_with_interval

SYSTEM_NAMES = {"valle": "VALL-E", "baseline": "FluidSynth (prompt's condition)", "codec": "codec reconstruction"}


def embed_all(waves: dict[str, list[np.ndarray]], embedders: dict[str, Callable[[np.ndarray], np.ndarray]]):
    """{embedding: {system: [frames per segment]}} (segments too short for a frame are dropped)."""
    out = {}
    for name, fn in embedders.items():
        out[name] = {s: [e for e in (fn(w) for w in ws if len(w)) if len(e) >= 1] for s, ws in waves.items()}
    return out


def distances(waves: dict[str, list[np.ndarray]], sr: int, n_boot: int, seed: int) -> dict:
    """{system: {chroma: {value, ci95}, spectrogram: {...}, skipped}} against ``waves["truth"]``."""
    out = {}
    for s in SYSTEM_NAMES:
        chroma, spec, skipped = [], [], 0
        for w, ref in zip(waves[s], waves["truth"]):
            try:
                chroma.append(chroma_distance(w, ref, sr))
                spec.append(spectrogram_distance(w, ref, sr))
            except AudioEvalError:
                skipped += 1
        out[s] = {
            "chroma": mean_with_interval(chroma, n_boot=n_boot, seed=seed) if chroma else None,
            "spectrogram": mean_with_interval(spec, n_boot=n_boot, seed=seed) if spec else None,
            "skipped": skipped,
        }
    return out


def fad_table(emb: dict[str, dict[str, list[np.ndarray]]], n_boot: int, steps: int, min_n: int, seed: int) -> dict:
    """{embedding: {system: {vs_truth, vs_codec, fad_inf}}}; None where a set is too small."""
    out = {}
    for name, systems in emb.items():
        out[name] = {}
        for s in SYSTEM_NAMES:
            row = {}
            for ref in ("truth", "codec"):
                if s == ref:
                    row[f"vs_{ref}"] = None
                    continue
                try:
                    row[f"vs_{ref}"] = fad_with_interval(systems[ref], systems[s], n_boot=n_boot, seed=seed)
                except (FrechetError, ValueError):
                    row[f"vs_{ref}"] = None
            try:
                res = fad_inf(
                    np.concatenate(systems["truth"]), np.concatenate(systems[s]), steps=steps, min_n=min_n, seed=seed
                )
                row["fad_inf"] = {"value": res["fad_inf"], "r2": res["r2"]}
            except (FrechetError, ValueError):
                row["fad_inf"] = None
            out[name][s] = row
    return out


def cell(x):
    """A report CI cell; 6 significant digits (FADs on small latents can be ~1e-4)."""
    return None if x is None else {"value": float(f"{x['value']:.6g}"), "ci95": [float(f"{v:.6g}") for v in x["ci95"]]}


def headline_rows(fads: dict, dist: dict) -> tuple[list[str], list[list]]:
    cols = ["system"]
    for name in fads:
        cols += [f"FAD {name} vs truth", f"FAD {name} vs codec", f"FAD-inf {name}"]
    cols += ["chroma distance", "spectrogram distance"]
    rows = []
    for s, label in SYSTEM_NAMES.items():
        row = [label]
        for name in fads:
            r = fads[name][s]
            row += [
                cell(r["vs_truth"]),
                cell(r["vs_codec"]),
                None if r["fad_inf"] is None else float(f"{r['fad_inf']['value']:.6g}"),
            ]
        row += [cell(dist[s]["chroma"]), cell(dist[s]["spectrogram"])]
        rows.append(row)
    return cols, rows


def logmel_embedder(sr: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda w: logmel_frames(w, sr)
