"""DVC stage ``gnm_tokenize``: every ingested MIDI -> GnM score events -> ids, + the vocabulary.

Default (``tokenizer: gnm``): upstream's events (pipeline/gnm/events.py) with ``Composer_None``
stored at position 0 (the mastery/scratch stages swap in the piece's composer token); the
vocabulary is built as upstream's ``events2words`` from the corpus + the mastery composers and
written as ``vocab.json`` (with its sha256) and upstream's ``dictionary.pkl``. Splits are drawn
per category as upstream (sorted ids, ``random.Random(seed)`` shuffle), with ``val_fraction``
held out (at least one piece of a category with two or more). Files with pitches outside
21..108, no bars or unreadable bytes are quarantined in ``rejected.jsonl`` with the reason.
``tokenizer: miditok`` writes miditok REMI ids instead (pipeline/gnm/remi.py; not trainable here).
Outputs ``data/tokens/remi/`` and ``reports/gnm_tokenize/stats.json``.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from prefect import flow, get_run_logger, task

from pipeline.config import load_section, repo_root
from pipeline.data.jsonl import read_jsonl, write_json
from pipeline.data.token_store import accepted, quarantined, write_dataset
from pipeline.gnm.events import composer_name, events
from pipeline.gnm.remi import RemiTokenizer, composer_token
from pipeline.gnm.vocab import Vocab
from pipeline.orchestration.runners import map_shards
from pipeline.orchestration.stage import StageOutputs, params_dump

OUT, REPORT, INGEST = "data/tokens/remi", "reports/gnm_tokenize", "data/ingest"


def event_rows(rows: list[dict], pickup: str, ingest_dir: str) -> list[dict]:
    """One result per row: the event strings, or a quarantine record. Never raises per piece."""
    results = []
    for row in rows:
        try:
            results.append({"id": row["id"], "ok": True, "events": events(Path(ingest_dir) / row["midi"],
                                                                         None, pickup=pickup)})
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


@flow(name="gnm_tokenize")
def gnm_tokenize() -> None:
    log = get_run_logger()
    t0 = time.perf_counter()
    p, base, rt, root = load_section("gnm_tokenize"), load_section("base"), load_section("runtime"), repo_root()
    rows = read_jsonl(root / INGEST / "index.jsonl")
    mastery = {c.lower() for c in p.composers}
    with StageOutputs("gnm_tokenize", [OUT, REPORT]) as out:
        if p.tokenizer == "miditok":
            params = p.miditok.model_dump(mode="json")
            tok = RemiTokenizer(params)
            results = map_shards(miditok_shard, rows, rt.shard_size, params=params, ingest_dir=str(root / INGEST))
            stats = write_dataset(out[OUT], rows, results, len(tok))
            tok.save(out[OUT] / "tokenizer.json")
            info = {"name": "remi-miditok", "vocab_size": len(tok), "vocab_hash": tok.vocab_hash(),
                    "pad_id": tok.pad_id}
        else:
            results = map_shards(events_shard, rows, rt.shard_size, pickup=p.pickup, ingest_dir=str(root / INGEST))
            names = {c: composer_name(c) for c in mastery}
            ok = [r for r in results if r["ok"]]
            vocab = Vocab.build({t for r in ok for t in r["events"]}, names.values())
            row_of = {r["id"]: r for r in rows}
            for r in ok:
                row = row_of[r["id"]]
                c = (row.get("composer") or "").lower()
                r.update(accepted(row, vocab.encode(r.pop("events")), gnm_composer=names.get(c),
                                  category=str(row.get(p.category))))
            group = {r["id"]: (r["composer"].lower() if (r.get("composer") or "").lower() in mastery
                               else str(r.get(p.category))) for r in rows}
            split = split_rows(rows, group, p.val_fraction, base.seed)
            rows = [r | {"split": split[r["id"]]} for r in rows]
            stats = write_dataset(out[OUT], rows, results, len(vocab))
            vocab.save(out[OUT])
            info = {"name": "gnm-events", "vocab_size": len(vocab), "pad_id": vocab.pad_id,
                    "vocab_hash": vocab.sha256()}
            info |= {"mastery_composers": [names[c] for c in p.composers if c.lower() in names],
                     "pickup": p.pickup, "category": p.category}
            per = {}
            for r in ok:
                per.setdefault(r["label"]["gnm_composer"] or "None", 0)
                per[r["label"]["gnm_composer"] or "None"] += 1
            stats["pieces_per_composer_token"] = dict(sorted(per.items()))
            missing = [c for c in info["mastery_composers"] if per.get(c, 0) == 0]
            if missing:
                log.warning("gnm_tokenize: mastery composers with no piece: %s", missing)
        write_json(out[OUT] / "tokenizer_meta.json", info)
        stats |= {"tokenizer": info["name"], "vocab_hash": info["vocab_hash"]}
        write_json(out[REPORT] / "stats.json", stats)
        out.commit(params_dump("base", "gnm_tokenize"), inputs=[INGEST],
                   extra={"tokenizer": {k: info[k] for k in ("name", "vocab_hash", "vocab_size")}})
    log.info("gnm_tokenize: %d tokenized, %d rejected %s, vocab %d (%s), %.1f s", stats["tokenized"],
             stats["rejected"], stats["rejects_by_reason"], stats["vocab_size"], stats["vocab_hash"][:12],
             time.perf_counter() - t0)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(gnm_tokenize)
