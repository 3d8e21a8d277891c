"""The render_audio stage's work: one job per (piece, acoustic condition) or real recording,
rendered shard by shard to mono FLAC, then the lhotse manifests and the metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import soundfile as sf

from pipeline.data.guards import require_pieces
from pipeline.data.ingest import midi_rows
from pipeline.data.jsonl import read_jsonl, write_json, write_jsonl
from pipeline.data.manifests import recording, supervision, write_manifests
from pipeline.data.recordings import load_audio, read_pairs
from pipeline.data.render import load_fluidsynth, render_midi, resolve_soundfont
from pipeline.data.sources import spread
from pipeline.params.data import RenderAudioParams

OUT = "data/render_audio"  # manifests name audio by repo-relative paths under it
INDEX = "data/ingest/index.jsonl"


def plan_renders(p: RenderAudioParams, root: Path) -> list[dict]:
    """The recordings to make; checks FluidSynth and every soundfont before any work is done."""
    if p.real_recordings:
        jobs = [
            {
                "id": x["id"],
                "condition": x["condition"],
                "midi": str(x["midi"]),
                "audio": str(x["audio"]),
                "piece_id": x["id"],
                "split": x["split"],
            }
            for x in read_pairs(root / p.real_recordings)
        ]
    else:
        load_fluidsynth()  # fails with the install hint
        for c in p.conditions.values():
            resolve_soundfont(c.soundfont, root)
        index, skipped = midi_rows(read_jsonl(root / INDEX))  # ABC-only sheet pieces have no MIDI to render
        pieces = spread(index, p.max_pieces) if p.max_pieces else index
        jobs = [
            {
                "id": f"{r['id']}__{name}",
                "piece_id": r["id"],
                "condition": name,
                "midi": str(root / "data/ingest" / r["midi"]),
                "split": r["split"],
            }
            for r in pieces
            for name in p.conditions
        ]
        require_pieces(INDEX, len(jobs))
        return jobs + [s | {"skip": True} for s in skipped]  # recorded in skipped.jsonl, never rendered
    require_pieces(p.real_recordings, len(jobs))
    return jobs


def render_jobs(jobs: list[dict], p: RenderAudioParams, out_dir: Path, root: Path) -> list[dict]:
    """Render (or load and resample) one shard of jobs into ``out_dir/audio/<condition>/<id>.flac``;
    a job that fails with a ValueError becomes a rejection."""
    results = []
    for j in jobs:
        if j.get("skip"):
            results.append({k: v for k, v in j.items() if k != "skip"} | {"ok": False, "skipped": True})
            continue
        rel = f"audio/{j['condition']}/{j['id']}.flac"
        dest = out_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            if j.get("audio"):
                audio = load_audio(Path(j["audio"]), p.sample_rate)[: int(p.max_seconds * p.sample_rate)]
            else:
                cond = p.conditions[j["condition"]]
                sf2 = resolve_soundfont(cond.soundfont, root)
                audio = render_midi(Path(j["midi"]).read_bytes(), cond, sf2, p.sample_rate, p.max_seconds)
        except ValueError as e:
            results.append({"ok": False, "id": j["id"], "condition": j["condition"], "reason": str(e)})
            continue
        sf.write(str(dest), audio, p.sample_rate, format="FLAC", subtype="PCM_16")
        results.append(
            {
                "ok": True,
                **{k: v for k, v in j.items() if k != "audio"},
                "audio_rel": f"{OUT}/{rel}",
                "num_samples": len(audio),
                "seconds": len(audio) / p.sample_rate,
            }
        )
    return results


def repo_relative(path: str, root: Path) -> str:
    """``path`` relative to the repo when inside it (portable manifests), else as given."""
    p, root = Path(path).resolve(), root.resolve()
    return p.relative_to(root).as_posix() if p.is_relative_to(root) else path


def render_corpus(
    jobs: list[dict],
    p: RenderAudioParams,
    out_dir: Path,
    report_dir: Path,
    root: Path,
    render: Callable[..., list[dict]] = render_jobs,
) -> dict:
    """Render every job, write the manifests, rejected.jsonl, skipped.jsonl (ABC-only pieces) and
    ``report_dir/metrics.json``; returns the metrics. ``render`` is ``render_jobs`` or a parallel map
    of it over shards."""
    results = render(jobs, p=p, out_dir=out_dir, root=root)
    skipped = [{k: v for k, v in r.items() if k not in ("ok", "skipped")} for r in results if r.get("skipped")]
    results = [r for r in results if not r.get("skipped")]
    done = [r for r in results if r["ok"]]
    recs = [recording(r["id"], r["audio_rel"], p.sample_rate, r["num_samples"]) for r in done]
    sups = [
        supervision(
            rec,
            {
                "midi": repo_relative(r["midi"], root),
                "condition": r["condition"],
                "piece_id": r["piece_id"],
                "split": r["split"],
            },
        )
        for rec, r in zip(recs, done)
    ]
    write_manifests(recs, sups, out_dir)
    write_jsonl([r for r in results if not r["ok"]], out_dir / "rejected.jsonl")
    write_jsonl(skipped, out_dir / "skipped.jsonl")
    metrics = {
        "recordings": len(done),
        "rejected": len(results) - len(done),
        "skipped": len(skipped),
        "audio_hours": round(sum(r["seconds"] for r in done) / 3600, 4),
        "sample_rate": p.sample_rate,
        "conditions": sorted(p.conditions) if not p.real_recordings else ["real"],
    }
    write_json(report_dir / "metrics.json", metrics)
    return metrics
