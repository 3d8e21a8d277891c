"""DVC stage ``tokenize_aria``: every ingested MIDI -> Aria "abs" token ids, per split.

No ``<D>`` token here (it is inserted at training time); prefix tokens come from the index
(instruments always, plus the fields in ``tokenize_aria.prefix_metadata``, e.g. composer).
Outputs ``data/tokens/aria/`` ({train,val,test}/tokens.bin + index.jsonl + labels.jsonl,
rejected.jsonl, tokenizer.json) and ``reports/aria_tokenize/stats.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

from prefect import flow, get_run_logger, task

from pipeline.config import load_section, repo_root
from pipeline.data.guards import count_split, require_pieces
from pipeline.data.jsonl import read_jsonl, write_json
from pipeline.data.token_store import accepted, quarantined, write_dataset
from pipeline.orchestration.runners import map_shards
from pipeline.orchestration.stage import StageOutputs, params_dump
from pipeline.aria.tokenizer import AbsTokenizer

OUT, REPORT, INGEST = "data/tokens/aria", "reports/aria_tokenize", "data/ingest"


def tokenizer_info(tok: AbsTokenizer) -> dict:
    return {"name": "aria-abs", "config": tok.config, "config_hash": tok.config_hash(),
            "vocab_size": tok.vocab_size, "bos_id": tok.bos_id, "eos_id": tok.eos_id,
            "pad_id": tok.pad_id, "unk_id": tok.unk_id, "dim_id": tok.dim_id, "time_id": tok.time_id}


def tokenize_rows(rows: list[dict], config: dict, prefix_metadata: list[str], ingest_dir: str) -> list[dict]:
    """One result per row: accepted ids, or quarantined with a reason. Never raises per piece."""
    tok = AbsTokenizer(**config)
    results = []
    for row in rows:
        path = Path(ingest_dir) / row["midi"]
        try:
            if not path.is_file():
                results.append(quarantined(row, f"no such MIDI file: {row['midi']}", "missing_file"))
                continue
            meta = {k: row.get(k) for k in prefix_metadata}
            ids = tok.encode(tok.tokenize(path, add_dim_tok=False, metadata=meta))
            if tok.unk_id in ids:
                results.append(quarantined(row, f"{ids.count(tok.unk_id)} tokens outside the vocabulary",
                                           "unknown_tokens"))
                continue
            prefix = [f"{t[1]}:{t[2]}" for t in tok.decode(ids[:ids.index(tok.bos_id)])]
            results.append(accepted(row, ids, prefix=prefix))
        except Exception as e:  # noqa: BLE001 - quarantine, never crash the stage
            results.append(quarantined(row, e))
    return results


@task(name="tokenize-aria-shard")
def tokenize_aria_shard(rows: list[dict], config: dict, prefix_metadata: list[str], ingest_dir: str) -> list[dict]:
    return tokenize_rows(rows, config, prefix_metadata, ingest_dir)


@flow(name="aria_tokenize")
def tokenize_aria() -> None:
    log = get_run_logger()
    t0 = time.perf_counter()
    p, rt, root = load_section("aria_tokenize"), load_section("runtime"), repo_root()
    config = p.config.model_dump()
    tok = AbsTokenizer(**config)
    info = tokenizer_info(tok)
    rows = read_jsonl(root / INGEST / "index.jsonl")
    require_pieces("data/ingest/index.jsonl train split", count_split(rows, "train"))
    log.info("tokenize_aria: %d pieces, vocab %d, config_hash %s", len(rows), tok.vocab_size, info["config_hash"])
    with StageOutputs("aria_tokenize", [OUT, REPORT]) as out:
        results = map_shards(tokenize_aria_shard, rows, rt.shard_size, config=config,
                             prefix_metadata=list(p.prefix_metadata), ingest_dir=str(root / INGEST))
        stats = write_dataset(out[OUT], rows, results, tok.vocab_size)
        write_json(out[OUT] / "tokenizer.json", info)
        stats |= {"tokenizer": "aria-abs", "config_hash": info["config_hash"]}
        write_json(out[REPORT] / "stats.json", stats)
        out.commit(params_dump("aria_tokenize"), inputs=[INGEST],
                   extra={"tokenizer": {k: info[k] for k in ("name", "config_hash", "vocab_size")}})
    log.info("tokenize_aria: %d tokenized, %d rejected %s, tokens %s, vocab use %.3f (%.1f s)",
             stats["tokenized"], stats["rejected"], stats["rejects_by_reason"],
             {s: v["tokens"] for s, v in stats["splits"].items()}, stats["vocab_use"],
             time.perf_counter() - t0)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(tokenize_aria)
