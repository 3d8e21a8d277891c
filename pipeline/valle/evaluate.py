"""The MIDI-VALLE table over synthesised segments: FAD (two embeddings, vs ground truth and vs
codec reconstruction, FAD-inf), chroma and spectrogram distance, each with a 95% interval.

Rows are systems (VALL-E, FluidSynth baseline in the prompt's condition, codec reconstruction);
per-segment distances are against the segment's ground truth and against its codec reconstruction
(the paper's Table 4 gives spectrogram distance vs reconstruction, chroma vs ground truth); FAD
compares the set of a system's segments with the set of ground-truth (or codec-reconstructed)
segments, its interval from resampling the system's segments. Embeddings: the codec's quantized
latents (as MIDI-VALLE's fadtk ``encodec-music``) and 64-bin log-mel frames (tied to no codec).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from pipeline.eval.audio_distance import (
    AudioEvalError,
    chroma,
    chroma_rows_distance,
    logmel_frames,
    mel01_distance,
    mel_db,
    midispec,
    spec_rows_distance,
    upstream_rows,
)
from pipeline.eval.frechet import FrechetError, fad_inf, fad_with_interval, mean_with_interval

SYSTEM_NAMES = {"valle": "VALL-E", "baseline": "FluidSynth (prompt's condition)", "codec": "codec reconstruction"}


def embed_each(waves: dict[str, list[np.ndarray]], embedders: dict[str, Callable[[np.ndarray], np.ndarray]]):
    """{embedding: {system: [frames, or None for a segment too short for a frame]}}, aligned with
    the segments (so a subset of segments is a subset of each list)."""
    out = {}
    for name, fn in embedders.items():
        out[name] = {}
        for s, ws in waves.items():
            frames = [fn(w) if len(w) else None for w in ws]
            out[name][s] = [e if e is not None and len(e) >= 1 else None for e in frames]
    return out


def present(emb: dict) -> dict:
    """``embed_each``'s lists without the segments that gave no frame (what FAD reads)."""
    return {name: {s: [e for e in es if e is not None] for s, es in systems.items()} for name, systems in emb.items()}


def embed_all(waves: dict[str, list[np.ndarray]], embedders: dict[str, Callable[[np.ndarray], np.ndarray]]):
    """{embedding: {system: [frames per segment]}} (segments too short for a frame are dropped)."""
    return present(embed_each(waves, embedders))


def subset(tree: dict, keep: list[bool]) -> dict:
    """A nested {...: {system: [per segment]}} tree cut to the segments where ``keep`` is true."""
    return {
        k: subset(v, keep) if isinstance(v, dict) else [x for x, ok in zip(v, keep, strict=True) if ok]
        for k, v in tree.items()
    }


DISTANCES = {  # name -> (per-wave features, distance(generated features, reference features))
    "chroma": (lambda w, sr: upstream_rows(chroma(w, sr)), chroma_rows_distance),
    "spectrogram": (lambda w, sr: upstream_rows(midispec(w, sr)), spec_rows_distance),
    "spectrogram_mel01": (mel_db, mel01_distance),
}
REFERENCES = ("truth", "codec")


def wave_features(waves: dict[str, list[np.ndarray]], sr: int) -> dict:
    """{system: [{distance name: features} or None (unusable audio) per segment]}, each wave once."""
    out = {}
    for s, ws in waves.items():
        out[s] = []
        for w in ws:
            try:
                out[s].append({k: feat(w, sr) for k, (feat, _) in DISTANCES.items()})
            except AudioEvalError:
                out[s].append(None)
    return out


def distance_table(feats: dict, n_boot: int, seed: int, systems=tuple(SYSTEM_NAMES), references=REFERENCES) -> dict:
    """{system: {vs_<ref>: {distance name: {value, ci95}} or None, skipped: {vs_<ref>: n}}} over
    ``wave_features`` output: each system's per-segment distances to each reference's segment (None
    for a system against itself). The codec table is this with the codecs as systems, truth alone
    as reference."""
    out = {}
    for s in systems:
        out[s] = {"skipped": {}}
        for ref in references:
            if s == ref:
                out[s][f"vs_{ref}"], out[s]["skipped"][f"vs_{ref}"] = None, 0
                continue
            values, skipped = {k: [] for k in DISTANCES}, 0
            for g, r in zip(feats[s], feats[ref], strict=True):
                try:
                    if g is None or r is None:
                        raise AudioEvalError("empty or non-finite audio")
                    row = {k: dist(g[k], r[k]) for k, (_, dist) in DISTANCES.items()}
                except AudioEvalError:
                    skipped += 1
                    continue
                for k, v in row.items():
                    values[k].append(v)
            out[s][f"vs_{ref}"] = {
                k: mean_with_interval(v, n_boot=n_boot, seed=seed) if v else None for k, v in values.items()
            }
            out[s]["skipped"][f"vs_{ref}"] = skipped
    return out


def distances(waves: dict[str, list[np.ndarray]], sr: int, n_boot: int, seed: int) -> dict:
    """{system: {vs_truth|vs_codec: {chroma, spectrogram, spectrogram_mel01: {value, ci95}} or None,
    skipped: {vs_truth, vs_codec}}}: per-segment distances to the segment's ground truth and to its
    codec reconstruction (None for the codec row against itself)."""
    return distance_table(wave_features(waves, sr), n_boot, seed)


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


DISTANCE_COLUMNS = (  # (column, reference, distance): the paper's Table 4 pairs first
    ("chroma distance vs truth", "truth", "chroma"),
    ("chroma distance vs codec", "codec", "chroma"),
    ("spectrogram distance vs truth", "truth", "spectrogram"),
    ("spectrogram distance vs codec", "codec", "spectrogram"),
    ("spectrogram distance (mel, 0-1 dB) vs truth", "truth", "spectrogram_mel01"),
)


def headline_rows(fads: dict, dist: dict) -> tuple[list[str], list[list]]:
    cols = ["system"]
    for name in fads:
        cols += [f"FAD {name} vs truth", f"FAD {name} vs codec", f"FAD-inf {name}"]
    cols += [c for c, _, _ in DISTANCE_COLUMNS]
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
        row += [cell((dist[s][f"vs_{ref}"] or {}).get(k)) for _, ref, k in DISTANCE_COLUMNS]
        rows.append(row)
    return cols, rows


CODEC_COLUMNS = (  # the paper's Table 3: each codec's reconstruction of the ground truth
    ("spectrogram distance vs truth", "spectrogram"),
    ("chroma distance vs truth", "chroma"),
    ("spectrogram distance (mel, 0-1 dB) vs truth", "spectrogram_mel01"),
)


def codec_rows(codecs: dict) -> tuple[list[str], list[list]]:
    """The codec table: one row per codec ({label: {vs_truth: {distance: {value, ci95}}}})."""
    cols = ["codec", *(c for c, _ in CODEC_COLUMNS)]
    return cols, [
        [label, *(cell((r["vs_truth"] or {}).get(k)) for _, k in CODEC_COLUMNS)] for label, r in codecs.items()
    ]


def dataset_groups(labels: list[str | None]) -> dict[str, list[bool]]:
    """{dataset: which segments belong to it}, when the segments come from more than one dataset
    (a segment without one is in ``(no dataset)``); {} otherwise."""
    names = [x or "(no dataset)" for x in labels]
    if len(set(names)) < 2:
        return {}
    return {d: [n == d for n in names] for d in sorted(set(names))}


def logmel_embedder(sr: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda w: logmel_frames(w, sr)
