"""DVC stage ``gnm_tokenize``: every ingested MIDI -> GnM score events -> ids, + the vocabulary
(pipeline/gnm/tokenize.py). Files with pitches outside 21..108, no bars or unreadable bytes are
quarantined in ``rejected.jsonl`` with the reason; ``tokenizer: miditok`` writes miditok REMI ids
instead (not trainable here). Outputs ``data/tokens/remi/`` (splits, ``vocab.json`` + sha256,
upstream's ``dictionary.pkl``, ``tokenizer_meta.json``) and ``reports/gnm_tokenize/stats.json``.
``gnm_tokenize.vocab``: a released ``dictionary.pkl`` under ``weights/gnm_tokenize/`` becomes the
vocabulary (for upstream's weights as ``gnm_*.init``); pieces with other events are quarantined.
"""

from __future__ import annotations

import time

from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.data.jsonl import read_jsonl, write_json
from pipeline.gnm.tokenize import tokenize_corpus
from pipeline.orchestration.stage import StageOutputs, params_dump
from pipeline.train.released import resolve_init

OUT, REPORT, INGEST = "data/tokens/remi", "reports/gnm_tokenize", "data/ingest"


@flow(name="gnm_tokenize")
def gnm_tokenize() -> None:
    t0 = time.perf_counter()
    p, base, rt, root = load_section("gnm_tokenize"), load_section("base"), load_section("runtime"), repo_root()
    rows = read_jsonl(root / INGEST / "index.jsonl")
    resolve_init("gnm_tokenize", p.vocab, root, key="vocab")  # under weights/gnm_tokenize/, where DVC sees it
    with StageOutputs("gnm_tokenize", [OUT, REPORT]) as out:
        info, stats = tokenize_corpus(rows, p, base.seed, root / INGEST, out[OUT], rt.shard_size)
        write_json(out[REPORT] / "stats.json", stats)
        out.commit(
            params_dump("base", "gnm_tokenize"),
            inputs=[INGEST],
            extra={"tokenizer": {k: info[k] for k in ("name", "vocab_hash", "vocab_size")}},
        )
    get_run_logger().info(
        "gnm_tokenize: %d tokenized, %d rejected %s, vocab %d (%s), %.1f s",
        stats["tokenized"],
        stats["rejected"],
        stats["rejects_by_reason"],
        stats["vocab_size"],
        stats["vocab_hash"][:12],
        time.perf_counter() - t0,
    )


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(gnm_tokenize)
