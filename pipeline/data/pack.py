"""The pack stage's work: each tokenizer's token stores (``data/tokens/<name>/``) packed into
fixed-length int32 training rows (``pipeline.data.token_store.pack_store``) + meta.json."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pipeline.data.guards import require_pieces
from pipeline.data.jsonl import write_json
from pipeline.data.token_store import TokenStore, pack_store
from pipeline.params.pack import PackParams

SPLITS = ("train", "val")
LOG = logging.getLogger(__name__)


def pack_tokenizers(p: PackParams, root: Path, out_dir: Path, log=LOG) -> tuple[list[str], dict]:
    """Pack every tokenizer of ``p.tokenizers`` into ``out_dir/<name>/``; returns the inputs read
    and, per tokenizer, what identifies it (name, config hash, vocabulary size) for the manifest."""
    for name in p.tokenizers:
        if not (root / f"data/tokens/{name}/tokenizer.json").is_file():
            raise FileNotFoundError(
                f"pack.tokenizers names {name!r} but data/tokens/{name}/tokenizer.json does not exist"
            )
    inputs, ids = [], {}
    for name in p.tokenizers:
        src = f"data/tokens/{name}"
        meta = pack_tokenizer(root / src, out_dir / name, p, log)
        inputs += [f"{src}/{s}" for s in SPLITS] + [f"{src}/tokenizer.json"]
        ids[name] = {k: meta[k] for k in ("tokenizer", "config_hash", "vocab_size")}
    return inputs, ids


def pack_tokenizer(src: Path, dest: Path, p: PackParams, log=LOG) -> dict:
    """``src`` (a token dataset) -> ``dest/{train,val}.npy`` [rows, seq_len] + ``dest/meta.json``."""
    tok = json.loads((src / "tokenizer.json").read_text())
    meta = {
        "tokenizer": tok["name"],
        "config_hash": tok["config_hash"],
        "vocab_size": tok["vocab_size"],
        "pad_id": tok["pad_id"],
        "bos_id": tok["bos_id"],
        "eos_id": tok["eos_id"],
        "dim_id": tok.get("dim_id"),
        "seq_len": p.seq_len,
        "mode": p.mode,
        "dtype": "int32",
        "source": f"data/tokens/{src.name}",
        "splits": {},
    }
    dest.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        store = TokenStore(src / split)
        if split == "train":  # a tiny corpus may leave val empty; train never
            require_pieces(
                f"data/tokens/{src.name}/train",
                len(store),
                f"data/tokens/{src.name}/rejected.jsonl and data/ingest/rejected.jsonl",
            )
        stats = pack_store(store, dest / f"{split}.npy", p.seq_len, tok["pad_id"], p.mode)
        meta["splits"][split] = {
            "file": f"{split}.npy",
            "shape": [stats["rows"], p.seq_len],
            "pieces": len(store),
            **stats,
        }
        log.info(
            "pack %s/%s: %d pieces -> %s rows x %d (%d pad, %d truncated)",
            src.name,
            split,
            len(store),
            stats["rows"],
            p.seq_len,
            stats["pad_tokens"],
            stats["truncated_pieces"],
        )
    write_json(dest / "meta.json", meta)
    return meta
