"""``codec_tokenize``'s work: every segment through ``tokenize.tokenize_one``, then the token stores.

Writes ``codes/{train,val,test}/`` (items int [n_q, frames]) and ``midi/{train,val,test}/`` (items
int [notes + 2, 6], same ids and order) token stores, ``codec.json`` (the codec's facts + model
hash), ``stats.json`` and ``rejected.jsonl`` into the data dir, ``metrics.json`` and
``rejected.jsonl`` into the report dir.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import torch

from pipeline.codec.tokenize import tokenize_one
from pipeline.data.jsonl import write_json, write_jsonl
from pipeline.data.token_store import SPLITS, write_split
from pipeline.train.loop import run_logger


def write_token_dataset(codec, specs: list[dict], p, root: Path, data: Path, report: Path, model_hash: str) -> dict:
    """Returns the stats plus ``wall_s`` (for the run log and environment.json, never a hashed file)."""
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    torch.set_grad_enabled(False)
    results = [tokenize_one(codec, s, p, root) for s in tqdm(specs, desc="codec_tokenize", unit="seg", mininterval=2)]
    wall = time.perf_counter() - t0
    ok = [r for r in results if r["ok"]]
    rejected = [{k: v for k, v in r.items() if k != "ok"} for r in results if not r["ok"]]
    splits = {}
    for split in SPLITS:
        mine = [r for r in ok if r["split"] == split]
        splits[split] = write_split(data / "codes" / split, ((r["label"], r["codes"]) for r in mine))
        write_split(data / "midi" / split, ((r["label"], r["midi"]) for r in mine))
    audio_s = sum(r["label"]["duration"] for r in ok)
    info = {
        "sample_rate": codec.sample_rate,
        "n_q": codec.n_q,
        "bins": codec.bins,
        "frame_rate": codec.frame_rate,
        "hop_length": codec.hop_length,
        "model": model_hash,
    }
    write_json(data / "codec.json", info)
    stats = {
        "segments": len(specs),
        "tokenized": len(ok),
        "rejected": len(rejected),
        "rejects_by_reason": dict(sorted(Counter(r["reason"] for r in rejected).items())),
        "splits": splits,
        "frames": int(sum(r["label"]["frames"] for r in ok)),
        "audio_seconds": round(audio_s, 2),
    }
    write_json(data / "stats.json", stats)
    write_jsonl(rejected, data / "rejected.jsonl")
    write_jsonl(rejected, report / "rejected.jsonl")
    write_json(report / "metrics.json", stats | {"codec": info})
    run_logger().info(
        "codec_tokenize: %.1f s of audio in %.1f s (%.1fx real time)", audio_s, wall, audio_s / max(wall, 1e-9)
    )
    return stats | {"wall_s": round(wall, 2)}
