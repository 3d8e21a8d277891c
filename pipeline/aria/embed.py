"""The ``aria_embed`` stage's work: one global embedding per piece of the probe splits, from every embedder.

Embedders (``aria_embed.embedders``):
  contrastive   the contrastive model: ``emb_head`` output at ``<E>``, averaged over the piece's
                ``chunk_notes``-note chunks (no ``<D>``, no metadata prefix), as upstream Aria.
  frozen        the pretrained LM (frozen) trunk states over the same chunks, averaged:
                -> ``frozen_mean`` (mean over tokens) and ``frozen_last`` (state at ``<E>``).
  handcrafted   normalised pitch-class / interval / duration / onset-density histograms
                (``pipeline/eval/features.py``) of the whole piece.
  clamp         CLaMP 2 (or M3) features of the piece's MIDI as MTF (``pipeline/aria/embed_clamp.py``);
                no retrieval views.
For the retrieval check, each piece of ``retrieval_split`` with enough notes also gets two
disjoint slices of ``retrieval_notes`` notes (seeded), each embedded alone.
Writes per embedding ``<out>/<name>/``: embeddings.npy [N, D] float32, index.jsonl (id, split,
source_id, n_notes, chunks, labels), retrieval.npy [M, 2, D], retrieval.jsonl (id, slices); plus
``<out>/stats.json`` (per embedding its dim, chunks and the weights it ran: :func:`model_weights`)
and ``<out>/rejected.jsonl`` (unreadable pieces and why).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pipeline.aria.checkpoints import load_checked
from pipeline.aria.chunks import chunk_ids
from pipeline.aria.embed_clamp import embed_clamp
from pipeline.aria.embedding import embed_pieces
from pipeline.aria.encoders import EmbEncoder, TrunkEncoder, encode_rows
from pipeline.aria.pieces import read_pieces
from pipeline.aria.tokenizer import AbsTokenizer
from pipeline.data.jsonl import write_json, write_jsonl
from pipeline.data.notes import slice_notes
from pipeline.eval.features import handcrafted_many
from pipeline.eval.retrieval import disjoint_slices
from pipeline.orchestration.model_origin import model_origin
from pipeline.orchestration.stage import hash_path
from pipeline.params.aria import AriaEmbedParams

LABEL_FIELDS = ("composer", "period", "genre", "collection", "source", "n_parts", "key_mode", "time_signature")


def index_row(row: dict, piece) -> dict:
    labels = {k: row.get(k) for k in LABEL_FIELDS if row.get(k) is not None}
    labels |= {k: v for k, v in (row.get("labels") or {}).items() if k not in labels and v is not None}
    return {
        "id": row["id"],
        "split": row.get("split"),
        "source_id": row.get("source_id"),
        "n_notes": len(piece.notes),
        "labels": labels,
    }


def retrieval_slices(rows: list[dict], pieces: list, split: str, notes: int, seed: int) -> tuple[list, list[dict]]:
    """(piece, two disjoint (start, length) views) per piece of ``split`` long enough, and their index rows."""
    slices, index = [], []
    for i, (row, piece) in enumerate(zip(rows, pieces)):
        if row.get("split") != split:
            continue
        views = disjoint_slices(len(piece.notes), notes, np.random.default_rng([seed, i]))
        if views is not None:
            slices.append((piece, views))
            index.append({"id": row["id"], "slices": [list(v) for v in views]})
    return slices, index


def _progress(desc: str, total: int):
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="chunk", mininterval=2.0, dynamic_ncols=True)
    return bar, bar.update


class Corpus:
    """The pieces and retrieval slices, in a plain box: Prefect walks dataclasses and lists in task
    arguments (84k notes took ~10 s per task), but leaves plain objects alone."""

    def __init__(self, pieces: list, slices: list) -> None:
        self.pieces, self.slices = pieces, slices


@task(name="embed-neural", cache_policy=NO_CACHE)  # never hash pieces or models
def embed_neural(kind: str, corpus: Corpus, tok: AbsTokenizer, p: AriaEmbedParams, checkpoint: Path) -> dict:
    """{name: (piece embeddings [N, D], retrieval [M, 2, D], chunks per piece)} for one model."""
    pieces, slices = corpus.pieces, corpus.slices
    if kind == "contrastive":
        encoder = EmbEncoder(load_checked(checkpoint, tok, head="emb"))
    else:
        encoder = TrunkEncoder(load_checked(checkpoint, tok, head="lm"))
    max_tokens = min(p.max_tokens, encoder.max_seq_len)
    n_chunks = sum(min(-(-len(x.notes) // p.chunk_notes), p.max_chunks or 10**9) for x in pieces)
    bar, tick = _progress(f"embed {kind}", n_chunks + 2 * len(slices))
    emb, counts = embed_pieces(encoder, tok, pieces, p.chunk_notes, max_tokens, p.batch_tokens, p.max_chunks, tick)
    rows = [chunk_ids(tok, slice_notes(piece, s, n), max_tokens) for piece, views in slices for s, n in views]
    ret = encode_rows(encoder, rows, tok.pad_id, tok.eos_id, p.batch_tokens, tick) if rows else {}
    bar.close()
    return {
        name: (v, ret[name].reshape(len(slices), 2, -1) if rows else np.zeros((0, 2, v.shape[1]), np.float32), counts)
        for name, v in emb.items()
    }


@task(name="embed-handcrafted", cache_policy=NO_CACHE)
def embed_handcrafted(corpus: Corpus) -> dict:
    pieces, slices = corpus.pieces, corpus.slices
    x = handcrafted_many(pieces)
    views = handcrafted_many(slice_notes(piece, s, n) for piece, vs in slices for s, n in vs)
    return {"handcrafted": (x, views.reshape(len(slices), 2, -1), None)}


def model_weights(checkpoint: Path | None) -> dict | None:
    """Which weights an embedder ran (None for features): its model dir and, from the dir's
    manifest, the released file it was imported or trained from (path + hash, None when trained
    from scratch) and the steps trained here (0: the released weights as they are)."""
    if checkpoint is None:
        return None
    if checkpoint.is_file() and checkpoint.parent.parent.name == "weights":  # a released file, read as it is
        rel = f"weights/{checkpoint.parent.name}/{checkpoint.name}"
        return {"model": rel, "init": {"path": rel, "hash": hash_path(checkpoint)}, "steps": 0}
    return model_origin(checkpoint if checkpoint.is_dir() else checkpoint.parent)


def write_embedding(
    d: Path, x: np.ndarray, ret: np.ndarray, counts: list[int] | None, index: list[dict], ret_index: list[dict]
) -> None:
    d.mkdir(parents=True)
    np.save(d / "embeddings.npy", x.astype(np.float32))
    np.save(d / "retrieval.npy", ret.astype(np.float32))
    write_jsonl(
        [r | ({"chunks": c} if counts else {}) for r, c in zip(index, counts or [None] * len(index))], d / "index.jsonl"
    )
    write_jsonl(ret_index, d / "retrieval.jsonl")


def embed_corpus(
    out: Path,
    ingest: Path,
    rows: list[dict],
    tok: AbsTokenizer,
    p: AriaEmbedParams,
    checkpoints: dict[str, Path],
    seed: int,
) -> dict[str, float]:
    """Embed the pieces of index ``rows`` with every embedder of ``p`` into ``out`` (see module doc);
    ``checkpoints``: embedder kind -> model dir. Returns the seconds each embedder took (for the log
    and environment.json, never a hashed output)."""
    log = get_run_logger()
    pieces, rejected = read_pieces(ingest, rows)
    bad = {r["id"] for r in rejected}
    rows = [r for r in rows if r["id"] not in bad]
    index = [index_row(r, x) for r, x in zip(rows, pieces)]
    slices, ret_index = retrieval_slices(rows, pieces, p.retrieval_split, p.retrieval_notes, seed)
    log.info(
        "embed: %d pieces (%d unreadable) of splits %s, %d retrieval pairs from %s, embedders %s",
        len(pieces),
        len(rejected),
        list(p.splits),
        len(slices),
        p.retrieval_split,
        list(p.embedders),
    )
    stats = {
        "pieces": len(pieces),
        "unreadable": len(rejected),
        "retrieval_pairs": len(slices),
        "retrieval_skipped_short": sum(r.get("split") == p.retrieval_split for r in rows) - len(slices),
        "embeddings": {},
    }
    seconds = {}
    for kind in p.embedders:
        t0 = time.perf_counter()
        corpus = Corpus(pieces, slices)
        if kind == "handcrafted":
            results = embed_handcrafted(corpus)
        elif kind == "clamp":
            results = embed_clamp([ingest / r["midi"] for r in rows], checkpoints[kind])
        else:
            results = embed_neural(kind, corpus, tok, p, checkpoints[kind])
        seconds[kind] = round(time.perf_counter() - t0, 2)
        for name, (x, ret, counts) in results.items():
            write_embedding(out / name, x, ret, counts, index, ret_index if len(ret) else [])
            stats["embeddings"][name] = {
                "dim": int(x.shape[1]),
                "from": kind,
                "chunks": int(sum(counts)) if counts else None,
                "weights": model_weights(checkpoints.get(kind)),
            }
        log.info("embed %s: %s in %.1f s", kind, sorted(results), seconds[kind])
    write_jsonl(rejected, out / "rejected.jsonl")
    write_json(out / "stats.json", stats)
    return seconds
