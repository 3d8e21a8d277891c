"""DVC stage ``segment``: aligned MIDI + audio segments as a lhotse CutSet whose cuts carry
their MIDI segment, plus the MIDI segments themselves for symbolic stages.

Outputs ``data/segment/`` (cuts.jsonl.gz, midi/<cut>.mid, index.jsonl, dropped.jsonl).
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task

from pipeline.config import load_section, repo_root
from pipeline.params.data import SegmentParams
from pipeline.data.guards import require_pieces
from pipeline.data.jsonl import write_json, write_jsonl
from pipeline.data.manifests import load_cuts, write_manifest
from pipeline.data.segment import load_pm, segment_bounds, slice_midi
from pipeline.orchestration.runners import map_shards
from pipeline.orchestration.stage import StageOutputs, params_dump

OUT = "data/segment"


@task(name="segment-shard")
def segment_shard(cuts: list[dict], p: SegmentParams, seed: int, out_dir: str, root: str) -> list[dict]:
    results = []
    for c in cuts:
        pm = load_pm(Path(root) / c["midi"])
        for k, (start, end) in enumerate(segment_bounds(c["duration"], p, seed, c["id"])):
            seg_id = f"{c['id']}-{k:03d}"
            base = {"id": seg_id, "recording_id": c["id"], "start": start, "duration": round(end - start, 3)}
            if end - start < p.drop_under_s:
                results.append({**base, "ok": False, "reason": f"shorter than {p.drop_under_s} s"})
                continue
            part = slice_midi(pm, start, end)
            n_notes = sum(len(i.notes) for i in part.instruments)
            if n_notes == 0:
                results.append({**base, "ok": False, "reason": "no notes in the window"})
                continue
            part.write(str(Path(out_dir) / "midi" / f"{seg_id}.mid"))
            results.append({**base, "ok": True, "n_notes": n_notes, "midi": f"{OUT}/midi/{seg_id}.mid",
                            "piece_id": c["piece_id"], "condition": c["condition"], "split": c["split"]})
    return results


@flow(name="segment")
def segment() -> None:
    log = get_run_logger()
    base, p, rt, root = load_section("base"), load_section("segment"), load_section("runtime"), repo_root()
    cuts = load_cuts(root / "data/render_audio/cuts.jsonl.gz")
    require_pieces("data/render_audio/cuts.jsonl.gz (rendered recordings)", len(cuts),
                   "data/render_audio/rejected.jsonl and data/ingest/rejected.jsonl")
    by_rec = {c.recording_id: c for c in cuts}
    jobs = [{"id": c.recording_id, "duration": c.duration, **c.supervisions[0].custom} for c in cuts]
    with StageOutputs("segment", [OUT]) as out:
        (out[OUT] / "midi").mkdir()
        results = map_shards(segment_shard, jobs, rt.shard_size, p=p, seed=base.seed,
                             out_dir=str(out[OUT]), root=str(root))
        kept = [r for r in results if r["ok"]]
        segs = []
        for r in kept:
            cut = by_rec[r["recording_id"]].truncate(offset=r["start"], duration=r["duration"],
                                                   keep_excessive_supervisions=False)
            cut.id = r["id"]
            cut.custom = {"midi": r["midi"], "piece_id": r["piece_id"], "condition": r["condition"],
                          "split": r["split"]}
            segs.append(cut)
        from lhotse import CutSet

        write_manifest(CutSet.from_cuts(segs), out[OUT] / "cuts.jsonl.gz")
        write_jsonl([{k: v for k, v in r.items() if k != "ok"} for r in kept], out[OUT] / "index.jsonl")
        write_jsonl([r for r in results if not r["ok"]], out[OUT] / "dropped.jsonl")
        stats = {"segments": len(kept), "dropped": len(results) - len(kept),
                 "hours": round(sum(r["duration"] for r in kept) / 3600, 4)}
        write_json(out[OUT] / "stats.json", stats)
        out.commit(params_dump("base", "segment"), inputs=["data/render_audio/cuts.jsonl.gz"], seed=base.seed)
    log.info("segment: %s", stats)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(segment)
