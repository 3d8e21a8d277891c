"""DVC stage ``segment``: aligned MIDI + audio segments as a lhotse CutSet whose cuts carry
their MIDI segment, plus the MIDI segments themselves for symbolic stages.

Outputs ``data/segment/`` (cuts.jsonl.gz, midi/<cut>.mid, index.jsonl, dropped.jsonl, stats.json).
"""

from __future__ import annotations

from functools import partial

from prefect import flow, get_run_logger, task

from pipeline.config import load_section, repo_root
from pipeline.data.guards import require_pieces
from pipeline.data.manifests import load_cuts
from pipeline.data.segment_corpus import CUTS, OUT, segment_corpus, segment_recordings
from pipeline.orchestration.runners import map_shards
from pipeline.orchestration.stage import StageOutputs, params_dump

segment_shard = task(segment_recordings, name="segment-shard")


@flow(name="segment")
def segment() -> None:
    log = get_run_logger()
    base, p, rt, root = load_section("base"), load_section("segment"), load_section("runtime"), repo_root()
    cuts = load_cuts(root / CUTS)
    require_pieces(
        f"{CUTS} (rendered recordings)", len(cuts), "data/render_audio/rejected.jsonl and data/ingest/rejected.jsonl"
    )
    with StageOutputs("segment", [OUT]) as out:
        stats = segment_corpus(
            cuts, p, base.seed, out[OUT], root, segment=partial(map_shards, segment_shard, size=rt.shard_size)
        )
        out.commit(params_dump("base", "segment"), inputs=[CUTS], seed=base.seed)
    log.info("segment: %s", stats)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(segment)
