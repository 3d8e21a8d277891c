"""DVC stage ``ingest``: corpus sources -> validated, deduplicated, split MIDI + index.

Outputs ``data/ingest/`` (midi/, scores/, index.jsonl, rejected.jsonl, duplicates.jsonl)
and ``reports/data/`` (stats.json, summary.md).
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task

from pipeline.config import load_section, repo_root
from pipeline.params.data import IngestLimits, MidiDirSource
from pipeline.data.ingest import finalize, process_candidate, summarize, summary_markdown
from pipeline.data.jsonl import write_json, write_jsonl
from pipeline.data.sources import list_midi_dir, list_music21, unique_ids
from pipeline.orchestration.runners import map_shards
from pipeline.orchestration.stage import StageOutputs, params_dump


@task(name="ingest-shard")
def ingest_shard(cands, limits: IngestLimits, out_dir: str) -> list[dict]:
    return [process_candidate(c, limits, Path(out_dir)) for c in cands]


@flow(name="ingest")
def ingest() -> None:
    log = get_run_logger()
    base, p, rt = load_section("base"), load_section("ingest"), load_section("runtime")
    root = repo_root()
    cands, problems = [], []
    for src in p.sources:
        if isinstance(src, MidiDirSource):
            c, pr = list_midi_dir(src, root)
            cands += c
            problems += pr
        else:
            cands += list_music21(src)
    cands = unique_ids(cands)
    log.info("ingest: %d candidates from %d source(s)", len(cands), len(p.sources))
    with StageOutputs("ingest", ["data/ingest", "reports/data"]) as out:
        results = map_shards(ingest_shard, cands, rt.shard_size, limits=p.limits,
                             out_dir=str(out["data/ingest"]))
        rows = [r["row"] for r in results if r["ok"]]
        rejected = [vars(x) | {"id": None} for x in problems] + [r["rejection"] for r in results if not r["ok"]]
        index, duplicates = finalize(rows, base.seed, p.split)
        for d in duplicates:  # keep only the first copy's files
            (out["data/ingest"] / "midi" / f"{d['id']}.mid").unlink(missing_ok=True)
            for s in (out["data/ingest"] / "scores").glob(f"{d['id']}.*"):
                s.unlink()
        write_jsonl(index, out["data/ingest"] / "index.jsonl")
        write_jsonl(rejected, out["data/ingest"] / "rejected.jsonl")
        write_jsonl(duplicates, out["data/ingest"] / "duplicates.jsonl")
        stats = summarize(index, rejected, duplicates)
        write_json(out["reports/data"] / "stats.json", stats)
        (out["reports/data"] / "summary.md").write_text(summary_markdown(stats))
        out_stats = {k: stats[k] for k in ("pieces", "hours", "notes", "rejected", "duplicates")}
        write_json(out["reports/data"] / "metrics.json", out_stats)
        out.commit(params_dump("base", "ingest"), seed=base.seed)
    log.info("ingest: %s", ", ".join(f"{k}={v}" for k, v in out_stats.items()))


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(ingest)
