"""DVC stage ``pack``: flat token stores -> fixed-length int32 training rows, per tokenizer.

``concat`` lays every piece (``<S>`` ... ``<E>`` as tokenized) back to back and cuts rows of
``seq_len`` (the last row padded with ``<P>``); ``separate`` puts one piece per row, truncated
or padded (Aria's ``--sep_sequences``). ``<D>`` is not here: training inserts it.
Outputs ``data/pack/<tokenizer>/`` (train.npy, val.npy of shape [rows, seq_len], meta.json)
for every tokenizer in ``pack.tokenizers`` (``data/tokens/<tokenizer>/``).
"""

from __future__ import annotations

import json
import time

from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.data.guards import require_pieces
from pipeline.data.token_store import TokenStore, pack_store
from pipeline.data.jsonl import write_json
from pipeline.orchestration.stage import StageOutputs, params_dump

OUT = "data/pack"
SPLITS = ("train", "val")


@flow(name="pack")
def pack() -> None:
    log = get_run_logger()
    t0 = time.perf_counter()
    p, root = load_section("pack"), repo_root()
    inputs, extra = [], {}
    with StageOutputs("pack", [OUT]) as out:
        for name in p.tokenizers:
            src = f"data/tokens/{name}"
            if not (root / src / "tokenizer.json").is_file():
                raise FileNotFoundError(f"pack.tokenizers names {name!r} but {src}/tokenizer.json does not exist")
            meta = pack_one(root / src, out[OUT] / name, p, log)
            inputs += [f"{src}/{s}" for s in SPLITS] + [f"{src}/tokenizer.json"]
            extra[name] = {k: meta[k] for k in ("tokenizer", "config_hash", "vocab_size")}
        out.commit(params_dump("pack"), inputs=inputs, extra={"tokenizers": extra})
    log.info("pack: done in %.1f s", time.perf_counter() - t0)


def pack_one(src, dest, p, log) -> dict:
    tok = json.loads((src / "tokenizer.json").read_text())
    meta = {"tokenizer": tok["name"], "config_hash": tok["config_hash"], "vocab_size": tok["vocab_size"],
            "pad_id": tok["pad_id"], "bos_id": tok["bos_id"], "eos_id": tok["eos_id"],
            "dim_id": tok.get("dim_id"), "seq_len": p.seq_len, "mode": p.mode, "dtype": "int32",
            "source": f"data/tokens/{src.name}", "splits": {}}
    dest.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        store = TokenStore(src / split)
        if split == "train":  # a tiny corpus may leave val empty; train never
            require_pieces(f"data/tokens/{src.name}/train", len(store),
                           f"data/tokens/{src.name}/rejected.jsonl and data/ingest/rejected.jsonl")
        stats = pack_store(store, dest / f"{split}.npy", p.seq_len, tok["pad_id"], p.mode)
        meta["splits"][split] = {"file": f"{split}.npy", "shape": [stats["rows"], p.seq_len],
                                 "pieces": len(store), **stats}
        log.info("pack %s/%s: %d pieces -> %s rows x %d (%d pad, %d truncated)", src.name, split, len(store),
                 stats["rows"], p.seq_len, stats["pad_tokens"], stats["truncated_pieces"])
    write_json(dest / "meta.json", meta)
    return meta


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(pack)
