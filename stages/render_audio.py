"""DVC stage ``render_audio``: FluidSynth audio of ingested MIDI under named acoustic
conditions (or users' real recordings), as mono FLAC + lhotse manifests.

Outputs ``data/render_audio/`` (audio/<condition>/<id>.flac, recordings/supervisions/cuts
manifests, rejected.jsonl) and ``reports/render_audio/metrics.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

import soundfile as sf
from prefect import flow, get_run_logger, task

from pipeline.config import load_section, repo_root
from pipeline.params.data import RenderAudioParams
from pipeline.data.guards import require_pieces
from pipeline.data.jsonl import read_jsonl, write_json, write_jsonl
from pipeline.data.manifests import recording, supervision, write_manifests
from pipeline.data.recordings import load_audio, read_pairs
from pipeline.data.render import load_fluidsynth, render_midi, resolve_soundfont
from pipeline.data.sources import spread
from pipeline.orchestration.runners import map_shards
from pipeline.orchestration.stage import StageOutputs, params_dump

OUT = "data/render_audio"


@task(name="render-shard")
def render_shard(jobs: list[dict], p: RenderAudioParams, out_dir: str, root: str) -> list[dict]:
    results = []
    for j in jobs:
        rel = f"audio/{j['condition']}/{j['id']}.flac"
        dest = Path(out_dir) / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        try:
            if j.get("audio"):
                audio = load_audio(Path(j["audio"]), p.sample_rate)[: int(p.max_seconds * p.sample_rate)]
            else:
                cond = p.conditions[j["condition"]]
                sf2 = resolve_soundfont(cond.soundfont, Path(root))
                audio = render_midi(Path(j["midi"]).read_bytes(), cond, sf2, p.sample_rate, p.max_seconds)
        except ValueError as e:
            results.append({"ok": False, "id": j["id"], "condition": j["condition"], "reason": str(e)})
            continue
        sf.write(str(dest), audio, p.sample_rate, format="FLAC", subtype="PCM_16")
        results.append({"ok": True, **{k: v for k, v in j.items() if k != "audio"},
                        "audio_rel": f"{OUT}/{rel}", "num_samples": len(audio),
                        "seconds": len(audio) / p.sample_rate, "wall_s": time.perf_counter() - t0})
    return results


def plan_jobs(p: RenderAudioParams, root: Path) -> list[dict]:
    if p.real_recordings:
        pairs = read_pairs(root / p.real_recordings)
        return [{"id": x["id"], "condition": x["condition"], "midi": str(x["midi"]),
                 "audio": str(x["audio"]), "piece_id": x["id"], "split": "train"} for x in pairs]
    index = read_jsonl(root / "data/ingest/index.jsonl")
    pieces = spread(index, p.max_pieces) if p.max_pieces else index
    return [{"id": f"{r['id']}__{name}", "piece_id": r["id"], "condition": name,
             "midi": str(root / "data/ingest" / r["midi"]), "split": r["split"]}
            for r in pieces for name in p.conditions]


@flow(name="render_audio")
def render_audio() -> None:
    log = get_run_logger()
    p, rt, root = load_section("render_audio"), load_section("runtime"), repo_root()
    if not p.real_recordings:
        load_fluidsynth()  # fail before any work, with the install hint
        for c in p.conditions.values():
            resolve_soundfont(c.soundfont, root)
    jobs = plan_jobs(p, root)
    require_pieces(p.real_recordings or "data/ingest/index.jsonl", len(jobs))
    log.info("render_audio: %d recordings at %d Hz", len(jobs), p.sample_rate)
    with StageOutputs("render_audio", [OUT, "reports/render_audio"]) as out:
        t0 = time.perf_counter()
        results = map_shards(render_shard, jobs, rt.shard_size, p=p, out_dir=str(out[OUT]), root=str(root))
        wall = time.perf_counter() - t0
        done = [r for r in results if r["ok"]]
        recs, sups = [], []
        for r in done:
            rec = recording(r["id"], r["audio_rel"], p.sample_rate, r["num_samples"])
            recs.append(rec)
            midi_rel = Path(r["midi"]).resolve().relative_to(root.resolve()).as_posix() \
                if Path(r["midi"]).resolve().is_relative_to(root.resolve()) else r["midi"]
            sups.append(supervision(rec, {"midi": midi_rel, "condition": r["condition"],
                                          "piece_id": r["piece_id"], "split": r["split"]}))
        write_manifests(recs, sups, out[OUT])
        write_jsonl([r for r in results if not r["ok"]], out[OUT] / "rejected.jsonl")
        audio_s = sum(r["seconds"] for r in done)
        metrics = {"recordings": len(done), "rejected": len(results) - len(done),
                   "audio_hours": round(audio_s / 3600, 4), "sample_rate": p.sample_rate,
                   "conditions": sorted(p.conditions) if not p.real_recordings else ["real"]}
        write_json(out["reports/render_audio"] / "metrics.json", metrics)
        out.commit(params_dump("render_audio"), inputs=["data/ingest/index.jsonl"])
    log.info("render_audio: %s; real-time factor %.1fx on %d workers", metrics,
             audio_s / max(wall, 1e-9), rt.workers)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(render_audio)
