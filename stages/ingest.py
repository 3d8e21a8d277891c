"""DVC stage ``ingest``: corpus sources -> validated, deduplicated, split MIDI + index.

Outputs ``data/ingest/`` (midi/, scores/, index.jsonl, rejected.jsonl, duplicates.jsonl)
and ``reports/data/`` (stats.json, summary.md, metrics.json).
"""

from __future__ import annotations

from functools import partial

from prefect import flow, get_run_logger, task

from pipeline.config import load_section, repo_root
from pipeline.data.ingest import ingest_corpus, process_candidates
from pipeline.data.sources import list_sources
from pipeline.orchestration.runners import map_shards
from pipeline.orchestration.stage import StageOutputs, params_dump

OUT, REPORT = "data/ingest", "reports/data"
ingest_shard = task(process_candidates, name="ingest-shard")


@flow(name="ingest")
def ingest() -> None:
    log = get_run_logger()
    base, p, rt = load_section("base"), load_section("ingest"), load_section("runtime")
    cands, problems = list_sources(p.sources, repo_root())
    log.info("ingest: %d candidates from %d source(s)", len(cands), len(p.sources))
    with StageOutputs("ingest", [OUT, REPORT]) as out:
        metrics = ingest_corpus(
            cands,
            problems,
            p,
            base.seed,
            out[OUT],
            out[REPORT],
            process=partial(map_shards, ingest_shard, size=rt.shard_size),
        )
        out.commit(params_dump("base", "ingest"), seed=base.seed)
    log.info("ingest: %s", ", ".join(f"{k}={v}" for k, v in metrics.items()))


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(ingest)
