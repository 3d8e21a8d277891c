"""DVC stage ``aria_tokenize``: every ingested MIDI -> Aria "abs" token ids, per split (the work is
``pipeline/aria/tokenize.py``).
Outputs ``data/tokens/aria/`` ({train,val,test}/tokens.bin + index.jsonl + labels.jsonl,
rejected.jsonl, tokenizer.json) and ``reports/aria_tokenize/stats.json``.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from pipeline.aria.tokenize import tokenize_corpus
from pipeline.config import load_section, repo_root
from pipeline.data.guards import count_split, require_pieces
from pipeline.data.jsonl import read_jsonl
from pipeline.orchestration.stage import StageOutputs, params_dump

OUT, REPORT, INGEST = "data/tokens/aria", "reports/aria_tokenize", "data/ingest"


@flow(name="aria_tokenize")
def tokenize_aria() -> None:
    p, rt, root = load_section("aria_tokenize"), load_section("runtime"), repo_root()
    rows = read_jsonl(root / INGEST / "index.jsonl")
    require_pieces("data/ingest/index.jsonl train split", count_split(rows, "train"))
    with StageOutputs("aria_tokenize", [OUT, REPORT]) as out:
        info, stats = tokenize_corpus(rows, root / INGEST, p, rt.shard_size, out[OUT], out[REPORT])
        out.commit(
            params_dump("aria_tokenize"),
            inputs=[INGEST],
            extra={"tokenizer": {k: info[k] for k in ("name", "config_hash", "vocab_size")}},
        )
    get_run_logger().info(
        "aria_tokenize: %d pieces, %d tokenized, %d rejected %s, tokens %s, vocab %d, use %.3f",
        len(rows),
        stats["tokenized"],
        stats["rejected"],
        stats["rejects_by_reason"],
        {s: v["tokens"] for s, v in stats["splits"].items()},
        info["vocab_size"],
        stats["vocab_use"],
    )


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(tokenize_aria)
