"""gnm_tokenize's work: every ingested MIDI -> GnM events -> ids + the vocabulary (or miditok REMI).

GnM events (default): ``Composer_None`` at position 0 (the mastery/scratch jobs swap in the
piece's composer token); the vocabulary as upstream's ``events2words`` from the corpus + the
mastery composers; splits per category as upstream (sorted ids, ``random.Random(seed)`` shuffle).
A piece that cannot be read is quarantined with its reason, never crashes the stage.
"""

from __future__ import annotations

import random
from pathlib import Path

from prefect import get_run_logger, task

from pipeline.config import repo_root
from pipeline.data.ingest import midi_rows
from pipeline.data.jsonl import write_json, write_jsonl
from pipeline.data.token_store import accepted, quarantined, write_dataset
from pipeline.gnm.encode import composer_name, events
from pipeline.gnm.released import adopted_vocab, outside_quarantined
from pipeline.gnm.remi import RemiTokenizer, composer_token
from pipeline.gnm.vocab import Vocab
from pipeline.orchestration.runners import map_shards
from pipeline.params.gnm import GnmTokenizeParams


def event_rows(rows: list[dict], pickup: str, ingest_dir: str) -> list[dict]:
    """One result per row: the event strings, or a quarantine record. Never raises per piece."""
    results = []
    for row in rows:
        try:
            results.append(
                {"id": row["id"], "ok": True, "events": events(Path(ingest_dir) / row["midi"], None, pickup=pickup)}
            )
        except Exception as e:  # noqa: BLE001 - quarantine, never crash the stage
            results.append(quarantined(row, e))
    return results


@task(name="gnm-events-shard")
def events_shard(rows: list[dict], pickup: str, ingest_dir: str) -> list[dict]:
    return event_rows(rows, pickup, ingest_dir)


@task(name="gnm-miditok-shard")
def miditok_shard(rows: list[dict], params: dict, ingest_dir: str) -> list[dict]:
    tok = RemiTokenizer(params)
    known = {composer_token(c) for c in params["composers"]}
    out = []
    for row in rows:
        try:
            c = row.get("composer") if composer_token(row.get("composer")) in known else None
            out.append(accepted(row, tok.encode(Path(ingest_dir) / row["midi"], composer=c)))
        except Exception as e:  # noqa: BLE001
            out.append(quarantined(row, e))
    return out


def split_rows(rows: list[dict], group: dict[str, str], val_fraction: float, seed: int) -> dict[str, str]:
    """id -> train/val, per group as upstream (sorted, Random(seed) shuffle)."""
    by: dict[str, list[str]] = {}
    for r in rows:
        by.setdefault(group[r["id"]], []).append(r["id"])
    out = {}
    for ids in by.values():
        ids = sorted(ids)
        random.Random(seed).shuffle(ids)
        n_val = max(1, round(len(ids) * val_fraction)) if len(ids) >= 2 and val_fraction > 0 else 0
        out |= {i: ("val" if k < n_val else "train") for k, i in enumerate(ids)}
    return out


def tokenize_corpus(
    rows: list[dict], p: GnmTokenizeParams, seed: int, ingest_dir: Path, out_dir: Path, shard_size: int
) -> tuple[dict, dict]:
    """Write the token store (+ vocabulary, ``tokenizer_meta.json``) into ``out_dir``; return the
    tokenizer info and the stats (inside a flow: the shards run on its task runner). ABC-only sheet
    pieces (no MIDI) are listed in ``skipped.jsonl``."""
    rows, skipped = midi_rows(rows)
    if p.tokenizer == "miditok":
        info, stats = tokenize_miditok(rows, p, ingest_dir, out_dir, shard_size)
    else:
        info, stats = tokenize_events(rows, p, seed, ingest_dir, out_dir, shard_size)
    write_json(out_dir / "tokenizer_meta.json", info)
    write_jsonl(skipped, out_dir / "skipped.jsonl")
    return info, stats | {"tokenizer": info["name"], "vocab_hash": info["vocab_hash"], "skipped": len(skipped)}


def tokenize_miditok(
    rows: list[dict], p: GnmTokenizeParams, ingest_dir: Path, out_dir: Path, shard_size: int
) -> tuple[dict, dict]:
    params = p.miditok.model_dump(mode="json")
    tok = RemiTokenizer(params)
    results = map_shards(miditok_shard, rows, shard_size, params=params, ingest_dir=str(ingest_dir))
    stats = write_dataset(out_dir, rows, results, len(tok))
    tok.save(out_dir / "tokenizer.json")
    return {"name": "remi-miditok", "vocab_size": len(tok), "vocab_hash": tok.vocab_hash(), "pad_id": tok.pad_id}, stats


def tokenize_events(
    rows: list[dict], p: GnmTokenizeParams, seed: int, ingest_dir: Path, out_dir: Path, shard_size: int
) -> tuple[dict, dict]:
    mastery = {c.lower() for c in p.composers}
    results = map_shards(events_shard, rows, shard_size, pickup=p.pickup, ingest_dir=str(ingest_dir))
    names = {c: composer_name(c) for c in mastery}
    row_of = {r["id"]: r for r in rows}
    if p.vocab:  # a released dictionary is the vocabulary; pieces with events outside it are quarantined
        vocab = adopted_vocab(repo_root() / p.vocab, sorted(names.values()))
        results = [outside_quarantined(r, row_of[r["id"]], vocab) if r["ok"] else r for r in results]
    ok = [r for r in results if r["ok"]]
    if not p.vocab:
        vocab = Vocab.build({t for r in ok for t in r["events"]}, names.values())
    for r in ok:
        row = row_of[r["id"]]
        c = (row.get("composer") or "").lower()
        r.update(
            accepted(row, vocab.encode(r.pop("events")), gnm_composer=names.get(c), category=str(row.get(p.category)))
        )
    # a mastery composer's pieces are split on their own, the rest per category
    group = {
        r["id"]: (r["composer"].lower() if (r.get("composer") or "").lower() in mastery else str(r.get(p.category)))
        for r in rows
    }
    split = split_rows(rows, group, p.val_fraction, seed)
    stats = write_dataset(out_dir, [r | {"split": split[r["id"]]} for r in rows], results, len(vocab))
    vocab.save(out_dir)
    info = {
        "name": "gnm-events",
        "vocab_size": len(vocab),
        "pad_id": vocab.pad_id,
        "vocab_hash": vocab.sha256(),
        "mastery_composers": [names[c] for c in p.composers if c.lower() in names],
        "pickup": p.pickup,
        "category": p.category,
    }
    per = {}
    for r in ok:
        per.setdefault(r["label"]["gnm_composer"] or "None", 0)
        per[r["label"]["gnm_composer"] or "None"] += 1
    stats["pieces_per_composer_token"] = dict(sorted(per.items()))
    missing = [c for c in info["mastery_composers"] if per.get(c, 0) == 0]
    if missing:
        get_run_logger().warning("gnm_tokenize: mastery composers with no piece: %s", missing)
    return info, stats
