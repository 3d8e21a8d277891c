"""Token datasets on disk: one flat int32 array per split plus a piece index, read by memmap.

Items may have any shape: flat token ids [N], compound tokens [N, fields], codec codes
[n_q, frames], character patches [P, 16]. A tokenize stage writes ``data/tokens/<tokenizer>/``
(or ``data/<stage>/``)::

    train/ val/ test/
        tokens.bin     every item's values back to back (C order), little-endian int32 (numpy.memmap)
        index.jsonl    {"id", "offset", "length"} per item, in index order; ``length`` counts values,
                       and items that are not 1-D also carry their ``shape``
        labels.jsonl   {"id", composer, period, genre, collection, ...} per piece, same order
    rejected.jsonl     {"id", "split", "reason", "detail"} per quarantined piece

``TokenStore(split_dir)`` reads one split without loading it; ``pack_store`` turns a store
into fixed-length training rows (``concat`` or ``separate``, as Aria's pretrain-dataset).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Sequence

import numpy as np

from pipeline.data.jsonl import read_jsonl, write_jsonl

DTYPE = np.dtype("<i4")
SPLITS = ("train", "val", "test")
LABEL_KEYS = (
    "composer",
    "period",
    "genre",
    "collection",
    "split",
    "source",
    "n_parts",
    "key_mode",
    "time_signature",
    "n_notes",
    "duration_s",
    "labels",
)

# message pattern -> reason slug, so rejects group by cause in stats.json
_REASONS = (
    (r"unreadable|could not parse|cannot parse|not a midi|bad header", "unreadable"),
    (r"no such|not found|missing", "missing_file"),
    (r"contains no notes|no pitched notes|no notes|empty", "no_notes"),
    (r"out of range", "pitch_out_of_range"),
    (r"time division", "bad_time_division"),
)


# ---------------------------------------------------------------- quarantine
def reason_of(exc: BaseException | str) -> str:
    """Short reason slug for an exception (or message) raised while tokenizing one piece."""
    msg = str(exc).lower()
    for pattern, slug in _REASONS:
        if re.search(pattern, msg):
            return slug
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower() if isinstance(exc, BaseException) else "other"


def label_row(row: dict) -> dict:
    """What the embedding and probe stages need from an ingest index row."""
    return {"id": row["id"], **{k: row.get(k) for k in LABEL_KEYS}}


def accepted(row: dict, ids: Sequence[int], **label_extra: Any) -> dict:
    return {"id": row["id"], "ok": True, "ids": np.asarray(ids, dtype=DTYPE), "label": label_row(row) | label_extra}


def quarantined(row: dict, exc: BaseException | str, reason: str | None = None) -> dict:
    detail = f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else str(exc)
    return {
        "id": row["id"],
        "ok": False,
        "split": row.get("split"),
        "reason": reason or reason_of(exc),
        "detail": detail[:500],
    }


# ---------------------------------------------------------------- writing
def write_split(out_dir: Path, pieces: Iterable[tuple[dict, Sequence[int]]]) -> dict:
    """Write ``(label, ids)`` pairs as tokens.bin + index.jsonl + labels.jsonl."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    index, labels, offset = [], [], 0
    with open(out_dir / "tokens.bin", "wb") as fh:
        for label, ids in pieces:
            arr = np.ascontiguousarray(ids, dtype=DTYPE)
            if arr.ndim == 0:
                raise ValueError(f"piece {label.get('id')}: ids must be an array, got a scalar")
            fh.write(arr.tobytes())
            row = {"id": label["id"], "offset": offset, "length": int(arr.size)}
            index.append(row | ({"shape": list(arr.shape)} if arr.ndim != 1 else {}))
            labels.append(label)
            offset += int(arr.size)
    write_jsonl(index, out_dir / "index.jsonl")
    write_jsonl(labels, out_dir / "labels.jsonl")
    return {"pieces": len(index), "tokens": offset}


def write_dataset(out_dir: Path, rows: list[dict], results: list[dict], vocab_size: int | None) -> dict:
    """Per-split stores + rejected.jsonl from one result per ingest row; returns stats.

    Every row must have exactly one result (accepted or quarantined): nothing vanishes.
    ``vocab_size`` None skips the vocabulary check (items whose fields have vocabularies of their own)."""
    by_id = {r["id"]: r for r in results}
    lost = [row["id"] for row in rows if row["id"] not in by_id]
    if lost or len(by_id) != len(results):
        raise RuntimeError(f"{len(lost)} pieces have no tokenize result (e.g. {lost[:3]}) or results are duplicated")
    out_dir = Path(out_dir)
    splits, seen_all = {}, np.zeros(vocab_size or 0, dtype=bool)
    for split in SPLITS:
        ok = [by_id[row["id"]] for row in rows if row.get("split") == split and by_id[row["id"]]["ok"]]
        seen = np.zeros(vocab_size or 0, dtype=bool)
        for r in ok:
            if vocab_size is None:
                continue
            if r["ids"].size and (r["ids"].min() < 0 or r["ids"].max() >= vocab_size):
                raise ValueError(f"piece {r['id']}: ids outside the vocabulary (size {vocab_size})")
            seen[r["ids"]] = True
        seen_all |= seen
        info = write_split(out_dir / split, ((r["label"], r["ids"]) for r in ok))
        lengths = [r["ids"].size for r in ok]
        info |= {
            "mean_len": round(float(np.mean(lengths)), 1) if lengths else 0,
            "max_len": int(max(lengths, default=0)),
        }
        if vocab_size is not None:
            info["vocab_use"] = round(float(seen.mean()), 4)
        splits[split] = info
    other = [row["id"] for row in rows if row.get("split") not in SPLITS and by_id[row["id"]]["ok"]]
    if other:
        raise ValueError(f"{len(other)} pieces have a split outside {SPLITS} (e.g. {other[:3]})")
    rejected = [by_id[row["id"]] for row in rows if not by_id[row["id"]]["ok"]]
    write_jsonl([{k: v for k, v in r.items() if k != "ok"} for r in rejected], out_dir / "rejected.jsonl")
    stats = {
        "pieces": len(rows),
        "tokenized": len(rows) - len(rejected),
        "rejected": len(rejected),
        "rejects_by_reason": dict(sorted(Counter(r["reason"] for r in rejected).items())),
        "splits": splits,
        "tokens": sum(s["tokens"] for s in splits.values()),
        "vocab_size": vocab_size,
    }
    if vocab_size is not None:
        stats |= {"vocab_ids_seen": int(seen_all.sum()), "vocab_use": round(float(seen_all.mean()), 4)}
    return stats


# ---------------------------------------------------------------- reading
class TokenStore:
    """One split of a token dataset: ``len(store)``, ``store.piece(i)`` (a memmap view in the
    item's own shape), ``store.ids`` (piece ids), ``store.labels`` (label dicts),
    ``store.shapes`` (each item's shape), ``store.find(piece_id)``."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.index = read_jsonl(self.path / "index.jsonl")
        labels = self.path / "labels.jsonl"
        self.labels = read_jsonl(labels) if labels.exists() else [{"id": r["id"]} for r in self.index]
        self.offsets = np.array([r["offset"] for r in self.index], dtype=np.int64)
        self.lengths = np.array([r["length"] for r in self.index], dtype=np.int64)
        self.shapes = [tuple(r.get("shape") or (r["length"],)) for r in self.index]
        bad = [r["id"] for r, sh in zip(self.index, self.shapes) if math.prod(sh) != r["length"]]
        if bad:
            raise ValueError(f"{self.path}/index.jsonl: shape and length disagree for {bad[:3]}")
        self.n_tokens = int(self.lengths.sum())
        size = (self.path / "tokens.bin").stat().st_size
        if size != self.n_tokens * DTYPE.itemsize:
            raise ValueError(
                f"{self.path}/tokens.bin holds {size} bytes, index says "
                f"{self.n_tokens} tokens of {DTYPE.itemsize} bytes"
            )
        self.tokens = (
            np.memmap(self.path / "tokens.bin", dtype=DTYPE, mode="r", shape=(self.n_tokens,))
            if self.n_tokens
            else np.zeros(0, dtype=DTYPE)
        )
        self._pos = {r["id"]: i for i, r in enumerate(self.index)}

    def __len__(self) -> int:
        return len(self.index)

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self.piece(i) for i in range(len(self)))

    @property
    def ids(self) -> list[str]:
        return [r["id"] for r in self.index]

    def piece(self, i: int) -> np.ndarray:
        o, n = int(self.offsets[i]), int(self.lengths[i])
        flat = self.tokens[o : o + n]
        return flat if len(self.shapes[i]) == 1 else flat.reshape(self.shapes[i])

    def find(self, piece_id: str) -> np.ndarray:
        return self.piece(self._pos[piece_id])


# ---------------------------------------------------------------- packing
Mode = Literal["concat", "separate"]


def packed_rows(lengths: Sequence[int], seq_len: int, mode: Mode) -> int:
    if mode == "concat":
        return math.ceil(int(np.sum(lengths, dtype=np.int64)) / seq_len)
    if mode == "separate":
        return len(lengths)
    raise ValueError(f"pack mode must be 'concat' or 'separate', not {mode!r}")


def pack_into(out: np.ndarray, pieces: Iterable[np.ndarray], seq_len: int, pad_id: int, mode: Mode) -> dict:
    """Fill ``out`` [rows, seq_len]: ``concat`` lays pieces back to back and cuts rows (the last
    padded); ``separate`` puts one piece per row, truncated or padded. Returns pad/truncation counts."""
    out[...] = pad_id
    truncated = dropped = used = 0
    if mode == "concat":
        flat = out.reshape(-1)
        for p in pieces:
            flat[used : used + len(p)] = p
            used += len(p)
    else:
        for row, p in enumerate(pieces):
            n = min(len(p), seq_len)
            out[row, :n] = p[:n]
            used += n
            if len(p) > seq_len:
                truncated += 1
                dropped += len(p) - seq_len
    return {
        "rows": int(out.shape[0]),
        "tokens": used,
        "pad_tokens": int(out.size - used),
        "truncated_pieces": truncated,
        "dropped_tokens": dropped,
    }


def pack(pieces: Sequence[np.ndarray], seq_len: int, pad_id: int, mode: Mode = "concat") -> np.ndarray:
    """In-memory packing of a few pieces (tests, small data)."""
    out = np.empty((packed_rows([len(p) for p in pieces], seq_len, mode), seq_len), dtype=DTYPE)
    pack_into(out, pieces, seq_len, pad_id, mode)
    return out


def pack_store(store: TokenStore, path: Path, seq_len: int, pad_id: int, mode: Mode = "concat") -> dict:
    """Pack a split straight into a ``.npy`` file (``np.load(path, mmap_mode="r")`` reads it)."""
    rows = packed_rows(store.lengths, seq_len, mode)
    out = np.lib.format.open_memmap(Path(path), mode="w+", dtype=DTYPE, shape=(rows, seq_len))
    stats = pack_into(out, iter(store), seq_len, pad_id, mode)
    out.flush()
    del out
    return stats
