"""gnm_generate's work: N pieces per mastery composer from the mastery and scratch models, N from
the generality model (``Composer_None``), each written as events, MIDI, piano roll and audio.

Per piece ``<out>/<model>/<Composer>/<k>.{txt,mid,png,flac}``; ``index.json`` lists them,
``metrics.json`` holds the event and guard counts (the speed goes to the manifest's timings).
``index.json``'s ``weights`` names each model's weights (the released file it imported, or its
own params.pt; path and content hash), for gnm_eval's report.
"""

from __future__ import annotations

import time
import zlib
from pathlib import Path

import soundfile as sf
from prefect import get_run_logger

from pipeline.config import repo_root
from pipeline.data.jsonl import write_json
from pipeline.data.render import render_midi
from pipeline.gnm.checkpoint import load, weights_used
from pipeline.gnm.decode import write_midi
from pipeline.gnm.generation import sample_pieces
from pipeline.orchestration.stage import split_timings
from pipeline.params.gnm import GnmGenerateParams
from pipeline.report.figures import plot_piano_roll


def piece_seed(seed: int, model: str, label: str) -> int:
    """One seed per (model, composer), independent of which other models run."""
    return seed + zlib.crc32(f"{model}/{label}".encode()) % 100_000


def write_piece(events: list[str], out_dir: Path, rel: str, title: str, p: GnmGenerateParams, soundfont) -> dict:
    """``<rel>.{txt,mid,png,flac}`` under ``out_dir``; returns the piece's index entry (paths relative)."""
    (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{rel}.txt").write_text("\n".join(events) + "\n")
    midi = write_midi(events, out_dir / f"{rel}.mid")
    png = plot_piano_roll(out_dir / f"{rel}.mid", out_dir / f"{rel}.png", title)
    audio = render_midi((out_dir / f"{rel}.mid").read_bytes(), p.audio, soundfont, p.sample_rate, p.max_seconds)
    sf.write(out_dir / f"{rel}.flac", audio, p.sample_rate)
    return {
        "events": len(events),
        "bars": midi["bars"],
        "notes": midi["notes"],
        "tempo": midi["tempo"],
        "txt": f"{rel}.txt",
        "midi": f"{rel}.mid",
        "audio": f"{rel}.flac",
        "image": f"{rel}.png" if png else None,
    }


def write_samples(
    models: dict[str, Path], composers: list[str], p: GnmGenerateParams, seed: int, device, soundfont, out_dir: Path
) -> dict:
    """Sample and write every piece of ``models`` (name -> model dir); return the metrics, speed included."""
    log = get_run_logger()  # inside the stage's flow
    entries, stats = [], {"events": 0, "seconds": 0.0, "gave_up": 0}
    for name, model_dir in models.items():
        model = load(model_dir, device=device)
        for composer in [None] if name == "generality" else composers:
            label = composer or "None"
            t0 = time.perf_counter()
            pieces, info = sample_pieces(
                model,
                model.vocab,
                composer,
                p.pieces,
                seed=piece_seed(seed, name, label),
                temperature=p.temperature,
                top_p=p.top_p,
                max_bars=p.max_bars,
                max_events=p.max_events,
                max_fails=p.max_fails,
            )
            stats["seconds"] += time.perf_counter() - t0
            stats["events"] += sum(info["events"])
            stats["gave_up"] += info["gave_up"]
            for k, events in enumerate(pieces):
                entry = write_piece(
                    events, out_dir, f"{name}/{label}/{k}", f"{name} model, Composer_{label}, piece {k}", p, soundfont
                )
                entries.append({"model": name, "composer": label, "index": k, **entry})
            log.info(
                "gnm_generate %s %s: %d pieces, events %s, gave up %d",
                name,
                label,
                len(pieces),
                info["events"],
                info["gave_up"],
            )
    metrics = {
        "pieces": len(entries),
        "events": stats["events"],
        "guard_gave_up": stats["gave_up"],
        "tokens_per_s": round(stats["events"] / max(stats["seconds"], 1e-9), 1),
        "mean_events": round(stats["events"] / max(len(entries), 1), 1),
    }
    weights = {name: weights_used(model_dir, repo_root()) for name, model_dir in models.items()}  # named in gnm_eval
    index = {"composers": composers, "models": list(models), "weights": weights, "samples": entries}
    write_json(out_dir / "index.json", index)
    write_json(out_dir / "metrics.json", split_timings(metrics)[0])  # the speed is not a hashed output
    return metrics
