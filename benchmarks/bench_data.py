"""Data-stage throughput: ingest files/s and FluidSynth render real-time factor with 1 and
2 workers, through the same Prefect task runner and shard mapping the stages use.

    python benchmarks/bench_data.py [--pieces 48] [--render 16] [--runner processes|threads] [--quick]

--quick: 2 pieces, 1 rendered, thread workers: a smoke run (seconds, numbers not meaningful).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from prefect import flow, task

import stages  # noqa: F401  (Prefect env before prefect is imported)
from pipeline.config import RuntimeParams
from pipeline.data.ingest import process_candidate
from pipeline.data.render import render_midi, resolve_soundfont
from pipeline.data.sources import list_music21
from pipeline.orchestration.runners import make_task_runner, map_shards
from pipeline.orchestration.stage import prefect_api
from pipeline.params.data import AcousticCondition, IngestLimits, Music21Source


@task
def ingest_shard(cands, out_dir):
    return [process_candidate(c, IngestLimits(), Path(out_dir)) for c in cands]


@task
def render_shard(paths, sf2):
    secs = 0.0
    for p in paths:
        secs += len(render_midi(Path(p).read_bytes(), AcousticCondition(reverb=0.5), sf2, 32000, 60)) / 32000
    return [secs]


def timed(fn, workers: int, items, shard: int, runner: str = "processes", **kw):
    rt = RuntimeParams(task_runner=runner, workers=workers)

    @flow(name=f"bench-{workers}")
    def bench():
        return map_shards(fn, items, shard, **kw)

    t = time.perf_counter()
    out = bench.with_options(task_runner=make_task_runner(rt))()
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pieces", type=int, default=48)
    ap.add_argument("--render", type=int, default=16)
    ap.add_argument(
        "--runner",
        choices=["processes", "threads"],
        default=None,
        help="Prefect task runner (default: processes, as the stages; threads with --quick)",
    )
    ap.add_argument("--quick", action="store_true", help="2 pieces, 1 render, threads: a smoke run")
    args = ap.parse_args()
    if args.quick:
        args.pieces, args.render = 2, 1
    runner = args.runner or ("threads" if args.quick else "processes")
    src = Music21Source(
        collections={
            "bach": {
                "composer": "bach",
                "period": "baroque",
                "genre": "chorale",
                "paths": ["bach/bwv*.mxl"],
                "cap": args.pieces // 2,
            },
            "folk": {
                "composer": "traditional",
                "period": "folk",
                "genre": "folk_song",
                "paths": ["essenFolksong/*.abc"],
                "cap": args.pieces - args.pieces // 2,
            },
        }
    )
    cands = list_music21(src)
    sf2 = resolve_soundfont("default", Path("."))
    rows = []
    with prefect_api(), tempfile.TemporaryDirectory() as d:
        timed(ingest_shard, 1, cands[:2], 2, runner, out_dir=d)  # warm-up: imports, corpus cache
        ingest = {w: timed(ingest_shard, w, cands, 4, runner, out_dir=d)[0] for w in (1, 2)}
        midis = sorted(Path(d, "midi").glob("*.mid"))[: args.render]
        render = {}
        for w in (1, 2):
            wall, secs = timed(render_shard, w, [str(m) for m in midis], 2, runner, sf2=sf2)
            render[w] = sum(secs) / wall
    for w in (1, 2):
        rows.append((w, len(cands) / ingest[w], render[w]))
    print(f"{'workers':>8} {'ingest files/s':>15} {'render x real-time':>19}")
    for w, fps, rtf in rows:
        print(f"{w:>8} {fps:>15.2f} {rtf:>19.1f}")
    print(
        f"ratio 2/1 workers: ingest {rows[1][1] / rows[0][1]:.2f}x, render {rows[1][2] / rows[0][2]:.2f}x "
        f"({len(cands)} pieces ingested, {len(midis)} rendered at 32 kHz, {runner})"
    )


if __name__ == "__main__":
    main()
