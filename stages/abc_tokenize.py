"""DVC stage ``abc_tokenize``: every ingested score -> NotaGen-style interleaved ABC + patch ids
(pipeline/notagen/tokenize.py).

Outputs ``data/tokens/abc/`` ({train,val,test}/tokens.bin + index.jsonl + labels.jsonl +
texts.jsonl, rejected.jsonl, tokenizer.json) and ``reports/abc_tokenize/stats.json``.
"""

from __future__ import annotations

import time

from prefect import flow, get_run_logger, task

from pipeline.config import load_section, repo_root
from pipeline.data.jsonl import read_jsonl, write_json
from pipeline.notagen.tokenize import tokenize_rows, write_store
from pipeline.orchestration.runners import map_shards
from pipeline.orchestration.stage import StageOutputs, params_dump
from pipeline.params.notagen import AbcTokenizeParams

OUT, REPORT, INGEST = "data/tokens/abc", "reports/abc_tokenize", "data/ingest"


@task(name="tokenize-abc-shard")
def tokenize_abc_shard(rows: list[dict], p: AbcTokenizeParams, ingest_dir: str) -> list[dict]:
    return tokenize_rows(rows, p, ingest_dir)


@flow(name="abc_tokenize")
def abc_tokenize() -> None:
    log = get_run_logger()
    t0 = time.perf_counter()
    p, rt, root = load_section("abc_tokenize"), load_section("runtime"), repo_root()
    rows = read_jsonl(root / INGEST / "index.jsonl")
    log.info("abc_tokenize: %d pieces, patch size %d", len(rows), p.patch_size)
    with StageOutputs("abc_tokenize", [OUT, REPORT]) as out:
        results = map_shards(tokenize_abc_shard, rows, max(1, rt.shard_size // 2), p=p, ingest_dir=str(root / INGEST))
        stats, tokenizer = write_store(out[OUT], rows, results, p.patch_size)
        write_json(out[REPORT] / "stats.json", stats)
        out.commit(params_dump("abc_tokenize"), inputs=[INGEST], extra={"tokenizer": tokenizer})
    log.info(
        "abc_tokenize: %d tokenized, %d rejected %s, patches %s, char use %.3f (%.1f s)",
        stats["tokenized"],
        stats["rejected"],
        stats["rejects_by_reason"],
        {s: v["patches"] for s, v in stats["splits"].items()},
        stats["vocab_use"],
        time.perf_counter() - t0,
    )


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(abc_tokenize)
