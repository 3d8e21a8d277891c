"""DVC stage ``render_audio``: FluidSynth audio of ingested MIDI under named acoustic
conditions (or users' real recordings), as mono FLAC + lhotse manifests.

Outputs ``data/render_audio/`` (audio/<condition>/<id>.flac, recordings/supervisions/cuts
manifests, rejected.jsonl) and ``reports/render_audio/metrics.json``.
"""

from __future__ import annotations

import time
from functools import partial

from prefect import flow, get_run_logger, task

from pipeline.config import load_section, repo_root
from pipeline.data.render_corpus import INDEX, OUT, plan_renders, render_corpus, render_jobs
from pipeline.orchestration.runners import map_shards
from pipeline.orchestration.stage import StageOutputs, params_dump

REPORT = "reports/render_audio"
render_shard = task(render_jobs, name="render-shard")


@flow(name="render_audio")
def render_audio() -> None:
    log = get_run_logger()
    p, rt, root = load_section("render_audio"), load_section("runtime"), repo_root()
    jobs = plan_renders(p, root)
    log.info("render_audio: %d recordings at %d Hz", len(jobs), p.sample_rate)
    with StageOutputs("render_audio", [OUT, REPORT]) as out:
        t0 = time.perf_counter()
        metrics = render_corpus(
            jobs, p, out[OUT], out[REPORT], root, render=partial(map_shards, render_shard, size=rt.shard_size)
        )
        wall_s = time.perf_counter() - t0
        out.commit(params_dump("render_audio"), inputs=[INDEX], extra={"wall_s": wall_s})  # -> environment.json
    log.info(
        "render_audio: %s; real-time factor %.1fx on %d workers",
        metrics,
        metrics["audio_hours"] * 3600 / max(wall_s, 1e-9),
        rt.workers,
    )


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(render_audio)
