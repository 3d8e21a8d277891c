"""The ``aria_tokenize`` stage's work: every ingested MIDI -> Aria "abs" token ids, per split.

No ``<D>`` token here (it is inserted at training time); prefix tokens come from the index
(instruments always, plus the ``prefix_metadata`` fields, e.g. composer). A piece that cannot be
tokenized is quarantined with its reason, never fatal.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task

from pipeline.aria.tokenizer import AbsTokenizer
from pipeline.data.ingest import midi_rows
from pipeline.data.jsonl import write_json, write_jsonl
from pipeline.data.token_store import accepted, quarantined, write_dataset
from pipeline.orchestration.runners import map_shards
from pipeline.params.aria import AriaTokenizeParams


def tokenizer_info(tok: AbsTokenizer) -> dict:
    """tokenizer.json: what a training or generation job needs to rebuild and check the tokenizer."""
    return {
        "name": "aria-abs",
        "config": tok.config,
        "config_hash": tok.config_hash(),
        "vocab_size": tok.vocab_size,
        "bos_id": tok.bos_id,
        "eos_id": tok.eos_id,
        "pad_id": tok.pad_id,
        "unk_id": tok.unk_id,
        "dim_id": tok.dim_id,
        "time_id": tok.time_id,
    }


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
                results.append(
                    quarantined(row, f"{ids.count(tok.unk_id)} tokens outside the vocabulary", "unknown_tokens")
                )
                continue
            prefix = [f"{t[1]}:{t[2]}" for t in tok.decode(ids[: ids.index(tok.bos_id)])]
            results.append(accepted(row, ids, prefix=prefix))
        except Exception as e:  # noqa: BLE001 - quarantine, never crash the stage
            results.append(quarantined(row, e))
    return results


@task(name="tokenize-aria-shard")
def tokenize_aria_shard(rows: list[dict], config: dict, prefix_metadata: list[str], ingest_dir: str) -> list[dict]:
    return tokenize_rows(rows, config, prefix_metadata, ingest_dir)


def tokenize_corpus(
    rows: list[dict], ingest_dir: Path, p: AriaTokenizeParams, shard_size: int, out: Path, report: Path
) -> tuple[dict, dict]:
    """Tokenize the index ``rows`` in shards on the flow's task runner; write the token store,
    tokenizer.json and skipped.jsonl (ABC-only pieces, no MIDI) to ``out``, stats.json to ``report``.
    Returns (tokenizer info, stats)."""
    rows, skipped = midi_rows(rows)
    config = p.config.model_dump()
    tok = AbsTokenizer(**config)
    info = tokenizer_info(tok)
    results = map_shards(
        tokenize_aria_shard,
        rows,
        shard_size,
        config=config,
        prefix_metadata=list(p.prefix_metadata),
        ingest_dir=str(ingest_dir),
    )
    stats = write_dataset(out, rows, results, tok.vocab_size)
    write_json(out / "tokenizer.json", info)
    write_jsonl(skipped, out / "skipped.jsonl")
    stats |= {"tokenizer": "aria-abs", "config_hash": info["config_hash"], "skipped": len(skipped)}
    write_json(report / "stats.json", stats)
    return info, stats
