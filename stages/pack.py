"""DVC stage ``pack``: Aria token stores -> fixed-length int32 training rows.

``concat`` lays every piece (``<S>`` ... ``<E>`` as tokenized) back to back and cuts rows of
``seq_len`` (the last row padded with ``<P>``); ``separate`` puts one piece per row, truncated
or padded (Aria's ``--sep_sequences``). ``<D>`` is not here: training inserts it.
Outputs ``data/pack/`` (train.npy, val.npy of shape [rows, seq_len], meta.json).
"""

from __future__ import annotations

import json
import time

from prefect import flow, get_run_logger

from pipeline.config import load_section, repo_root
from pipeline.data.token_store import TokenStore, pack_store
from pipeline.orchestration.stage import StageOutputs, dump_json, params_dump

OUT = "data/pack"
SPLITS = ("train", "val")


@flow(name="pack")
def pack() -> None:
    log = get_run_logger()
    t0 = time.perf_counter()
    p, root = load_section("pack"), repo_root()
    src = f"data/tokens/{p.tokenizer}"
    tok = json.loads((root / src / "tokenizer.json").read_text())
    meta = {"tokenizer": tok["name"], "config_hash": tok["config_hash"], "vocab_size": tok["vocab_size"],
            "pad_id": tok["pad_id"], "bos_id": tok["bos_id"], "eos_id": tok["eos_id"],
            "dim_id": tok["dim_id"], "seq_len": p.seq_len, "mode": p.mode, "dtype": "int32",
            "source": src, "splits": {}}
    with StageOutputs("pack", [OUT]) as out:
        for split in SPLITS:
            store = TokenStore(root / src / split)
            stats = pack_store(store, out[OUT] / f"{split}.npy", p.seq_len, tok["pad_id"], p.mode)
            meta["splits"][split] = {"file": f"{split}.npy", "shape": [stats["rows"], p.seq_len],
                                     "pieces": len(store), **stats}
            log.info("pack %s: %d pieces -> %s rows x %d (%d pad, %d truncated)", split, len(store),
                     stats["rows"], p.seq_len, stats["pad_tokens"], stats["truncated_pieces"])
        dump_json(meta, out[OUT] / "meta.json")
        out.commit(params_dump("pack"), inputs=[f"{src}/{s}" for s in SPLITS] + [f"{src}/tokenizer.json"],
                   extra={"tokenizer": {k: meta[k] for k in ("tokenizer", "config_hash", "vocab_size")}})
    log.info("pack: done in %.1f s", time.perf_counter() - t0)


if __name__ == "__main__":
    from pipeline.orchestration.stage import run_stage

    run_stage(pack)
