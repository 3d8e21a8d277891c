"""DVC stage ``tokenize_remi``: every ingested MIDI -> GnM-style REMI ids, per split.

Each piece is ``Composer_<x> TempoClass_<c> BOS ...REMI... EOS``; composers not listed in
``tokenize_remi.composers`` get ``Composer_None``. Files with pitches outside the range are
quarantined (GnM drops them) unless ``out_of_range: drop_notes``.
Outputs ``data/tokens/remi/`` ({train,val,test}/..., rejected.jsonl, tokenizer.json (miditok),
tokenizer_meta.json) and ``reports/gnm_tokenize/stats.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

from prefect import flow, get_run_logger, task

from pipeline.config import load_section, repo_root
from pipeline.data.jsonl import read_jsonl
from pipeline.data.token_store import accepted, quarantined, write_dataset
from pipeline.orchestration.runners import map_shards
from pipeline.orchestration.stage import StageOutputs, dump_json, params_dump
from pipeline.gnm.remi import RemiTokenizer, composer_token

OUT, REPORT, INGEST = "data/tokens/remi", "reports/gnm_tokenize", "data/ingest"


def tokenize_rows(rows: list[dict], params: dict, ingest_dir: str) -> list[dict]:
    """One result per row: accepted ids, or quarantined with a reason. Never raises per piece."""
    tok = RemiTokenizer(params)
    known = {composer_token(c) for c in params["composers"]}
    results = []
    for row in rows:
        path = Path(ingest_dir) / row["midi"]
        try:
            if not path.is_file():
                results.append(quarantined(row, f"no such MIDI file: {row['midi']}", "missing_file"))
                continue
            composer = row.get("composer")
            composer = composer if composer and composer_token(composer) in known else None
            ids = tok.encode(path, composer=composer)
            _, tempo, _ = tok.split_prefix(ids[:3])
            results.append(accepted(row, ids, composer_token=composer_token(composer), tempo_class=tempo))
        except Exception as e:  # noqa: BLE001 - quarantine, never crash the stage
            results.append(quarantined(row, e))
    return results


@task(name="tokenize-remi-shard")
def tokenize_remi_shard(rows: list[dict], params: dict, ingest_dir: str) -> list[dict]:
    return tokenize_rows(rows, params, ingest_dir)


@flow(name="gnm_tokenize")
def tokenize_remi() -> None:
    log = get_run_logger()
    t0 = time.perf_counter()
    p, rt, root = load_section("gnm_tokenize"), load_section("runtime"), repo_root()
    params = p.model_dump(mode="json")
    tok = RemiTokenizer(params)
    rows = read_jsonl(root / INGEST / "index.jsonl")
    log.info("tokenize_remi: %d pieces, vocab %d, vocab hash %s", len(rows), len(tok), tok.vocab_hash()[:16])
    with StageOutputs("gnm_tokenize", [OUT, REPORT]) as out:
        results = map_shards(tokenize_remi_shard, rows, rt.shard_size, params=params,
                             ingest_dir=str(root / INGEST))
        stats = write_dataset(out[OUT], rows, results, len(tok))
        tok.save(out[OUT] / "tokenizer.json")
        info = {"name": "remi-gnm", "vocab_size": len(tok), "vocab_hash": tok.vocab_hash(),
                "pad_id": tok.pad_id, "bos_id": tok.bos_id, "eos_id": tok.eos_id,
                "composers": tok.composers}
        dump_json(info, out[OUT] / "tokenizer_meta.json")
        composer_none = sum(1 for r in results if r["ok"] and r["label"]["composer_token"] == "Composer_None")
        stats |= {"tokenizer": "remi-gnm", "vocab_hash": info["vocab_hash"], "composer_none": composer_none}
        dump_json(stats, out[REPORT] / "stats.json")
        out.commit(params_dump("gnm_tokenize"), inputs=[INGEST],
                   extra={"tokenizer": {k: info[k] for k in ("name", "vocab_hash", "vocab_size")}})
    log.info("tokenize_remi: %d tokenized, %d rejected %s, tokens %s, vocab use %.3f (%.1f s)",
             stats["tokenized"], stats["rejected"], stats["rejects_by_reason"],
             {s: v["tokens"] for s, v in stats["splits"].items()}, stats["vocab_use"],
             time.perf_counter() - t0)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(tokenize_remi)
