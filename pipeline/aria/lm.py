"""The Aria LM training job shared by the ``pretrain`` and ``finetune`` stages.

``run_job(job)`` is a plain function of a JSON-able spec, so a stage runs it in-process or under
torchrun through ``pipeline.train.job.run_training(ENTRY, job, launcher, nproc)``; every worker
builds the same data and model, and rank 0 writes the outputs:
  <model_dir>/model.safetensors   Aria key layout, config + tokenizer hash in the metadata
  <model_dir>/config.json         model config, tokenizer info, training summary
  <report_dir>/metrics.json       final val loss / perplexity, tokens/s, steps, parameters
  <report_dir>/plots/loss.csv     step, train_loss, val_loss, lr

Data specs: ``{"kind": "pack", "dir": "data/pack/aria"}`` (packed rows from the pack stage) or
``{"kind": "filter", "tokens": "data/tokens/aria", "filters": {...}, "seq_len", "mode"}``
(pieces whose labels match every filter, packed in memory, as the generative finetune uses).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.train.batches import RowBatches
from pipeline.data.jsonl import write_json
from pipeline.train.job import check_same_tokenizer, write_training_outputs

ENTRY = "pipeline.aria.lm:run_job"


# ----------------------------------------------------------------------------- data
def load_pack(pack_dir: str | Path, split: str) -> np.ndarray:
    """Rows [N, seq_len] int32 of one split written by the pack stage (memory-mapped)."""
    path = Path(pack_dir) / f"{split}.npy"
    if not path.is_file():
        raise FileNotFoundError(f"no packed rows at {path}: run the pack stage first")
    rows = np.load(path, mmap_mode="r")
    if rows.ndim != 2 or len(rows) == 0:
        raise ValueError(f"{path}: packed rows must be a non-empty 2-D array, got shape {rows.shape}")
    return rows


def label_value(label: dict, key: str) -> Any:
    """A metadata field of a piece: top-level label key, else inside its ``labels`` dict."""
    if key in label:
        return label[key]
    return (label.get("labels") or {}).get(key)


def matches(label: dict, filters: dict[str, list]) -> bool:
    return all(str(label_value(label, k)) in {str(v) for v in allowed} for k, allowed in filters.items())


def filtered_rows(tokens_dir: str | Path, split: str, filters: dict[str, list], seq_len: int,
                  pad_id: int, mode: str = "concat") -> tuple[np.ndarray, dict]:
    """Pieces of ``split`` whose labels pass ``filters``, packed in memory; plus counts."""
    from pipeline.data.token_store import TokenStore, pack

    store = TokenStore(Path(tokens_dir) / split)
    keep = [i for i, lab in enumerate(store.labels) if matches(lab, filters)]
    if not keep:
        seen = {k: sorted({str(label_value(lab, k)) for lab in store.labels}) for k in filters}
        raise ValueError(f"no {split} piece matches filters {filters}; values present: {seen}")
    rows = pack([np.asarray(store.piece(i)) for i in keep], seq_len, pad_id, mode)
    return rows, {"pieces": len(keep), "of": len(store), "rows": int(len(rows)),
                  "tokens": int(sum(store.lengths[i] for i in keep))}


class AriaRows:
    """Row transform applied at training time (the pack stage leaves both out):

    * ``<D>`` insertion as Aria's tokenizer does it: for each piece in the row that ends here
      (the row is cut after every ``<E>``), ``<D>`` goes ~100 (+-10) tokens before its end when
      the part of the piece in this row is longer than 150 tokens, never inside a note;
    * with ``augment``, Aria's pretraining augmentation, one draw per row applied piece by piece
      (so each piece's own ``<T>`` count restarts): tempo x U(1+-0.2) with note mixup, pitch
      +-5 semitones, velocity +-1 step.
    The result is re-encoded and cut/padded (``<P>``) to the row length.
    """

    def __init__(self, tokenizer_config: dict, pad_id: int, augment: bool = False, dim: bool = True) -> None:
        from pipeline.aria.tokenizer import AbsTokenizer

        self.tok, self.pad_id, self.augment, self.dim = AbsTokenizer(**tokenizer_config), pad_id, augment, dim

    def __call__(self, row: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        tok, n = self.tok, len(row)
        ids = [int(i) for i in row if int(i) != self.pad_id]
        if self.augment:
            semitones, steps = int(rng.integers(-5, 6)), int(rng.integers(-1, 2))
            factor = float(rng.uniform(0.8, 1.2))
        out, chunk = [], []
        tokens = tok.decode(ids)
        for k, t in enumerate(tokens):
            chunk.append(t)
            if t == "<E>" or k == len(tokens) - 1:
                if self.augment:
                    chunk = tok.tempo_scale(chunk, factor, rng)
                    chunk = tok.velocity_shift(tok.pitch_shift(chunk, semitones), steps)
                if self.dim and chunk and chunk[-1] == "<E>":
                    chunk = tok.insert_dim(chunk, rng)
                out += chunk
                chunk = []
        new = tok.encode(out)[:n]
        return np.asarray(new + [self.pad_id] * (n - len(new)), dtype=row.dtype)


def build_rows(data: dict, pad_id: int) -> tuple[np.ndarray, np.ndarray, dict]:
    if data["kind"] == "pack":
        train, val = load_pack(data["dir"], "train"), load_pack(data["dir"], "val")
        return train, val, {"train_rows": len(train), "val_rows": len(val)}
    if data["kind"] == "filter":
        args = (data["tokens"],)
        kw = dict(filters=data["filters"], seq_len=data["seq_len"], pad_id=pad_id, mode=data.get("mode", "concat"))
        train, ti = filtered_rows(*args, "train", **kw)
        val, vi = filtered_rows(*args, "val", **kw)
        return train, val, {"train": ti, "val": vi}
    raise ValueError(f"unknown data kind {data['kind']!r}")


# ----------------------------------------------------------------------------- model
def build_model(spec: dict, vocab_size: int, seq_len: int, tokenizer_hash: str | None):
    from pipeline.aria import model as aria
    from pipeline.aria.load import read_header

    if spec.get("init_from"):
        path = Path(spec["init_from"])
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint to fine-tune from at {path}")
        check_same_tokenizer(read_header(path)[1].get("tokenizer_hash"), tokenizer_hash, str(path),
                             "fine-tune from a checkpoint of this tokenizer, or rerun its pretraining")
        model = aria.load(path, expected_vocab_size=vocab_size, dtype=torch.float32)
        if model.config.max_seq_len < seq_len:
            raise ValueError(f"{path} has max_seq_len {model.config.max_seq_len} < data seq_len {seq_len}")
        return model.train()
    cfg = aria.CONFIGS[spec["name"]].replace(vocab_size=vocab_size, max_seq_len=seq_len,
                                              **(spec.get("overrides") or {}))
    return aria.build(cfg).train()


# ----------------------------------------------------------------------------- job
def run_job(job: dict) -> dict | None:
    """Train per ``job`` (see module doc); rank 0 writes the outputs and returns the metrics."""
    from pipeline.train import distributed as D
    from pipeline.train.loop import TrainConfig, train
    from pipeline.train.objectives import LMObjective

    tcfg = TrainConfig(**job["train"])
    info = D.setup(tcfg.device)
    tokenizer = job["tokenizer"]
    pad_id, vocab = int(tokenizer["pad_id"]), int(tokenizer["vocab_size"])
    train_rows, val_rows, data_info = build_rows(job["data"], pad_id)
    seq_len = int(train_rows.shape[1])
    torch.manual_seed(tcfg.seed)  # identical initial weights on every rank
    model = build_model(job["model"], vocab, seq_len, tokenizer.get("config_hash"))
    bs, dim = int(job["batch_size"]), bool(job.get("insert_dim", True))
    batches = RowBatches(train_rows, bs, seed=tcfg.seed, rank=info.rank, world_size=info.world_size,
                         transform=AriaRows(tokenizer["config"], pad_id, bool(job.get("augment")), dim))
    val = RowBatches(val_rows, bs, seed=tcfg.seed, shuffle=False, rank=info.rank, world_size=info.world_size,
                     transform=AriaRows(tokenizer["config"], pad_id, False, dim))
    result = train(model, LMObjective(pad_id), batches, tcfg, job["ckpt_dir"], resume=job.get("resume", True),
                   val=val, fingerprint_extra=job.get("fingerprint"), dist_info=info)
    metrics = None
    if info.is_main:
        metrics = write_outputs(job, result, tokenizer, data_info)
    D.barrier(info)
    D.cleanup()
    return metrics


def write_outputs(job: dict, result, tokenizer: dict, data_info: dict) -> dict:
    from pipeline.aria.model import save

    model = result.model.to("cpu").eval()
    model_dir = Path(job["model_dir"])
    model_dir.mkdir(parents=True, exist_ok=True)
    tok_hash = tokenizer.get("config_hash")
    save(model, model_dir / "model.safetensors",
         metadata={"tokenizer_hash": tok_hash or "", "vocab_size": str(tokenizer["vocab_size"]),
                   "stage": job.get("stage", "")})
    metrics = write_training_outputs(result, job["report_dir"], job["train"]["steps"])
    # only what the weights determine: timings stay in reports/, so equal runs give equal bytes
    write_json(model_dir / "config.json", {
        "model": model.config.to_dict(), "tokenizer": tokenizer, "tokenizer_hash": tok_hash,
        "stage": job.get("stage"), "data": data_info, "train": job["train"],
        "metrics": {k: metrics[k] for k in ("val_loss", "val_perplexity", "tokens", "steps", "parameters")}})
    write_json(model_dir / "tokenizer.json", tokenizer)
    return metrics
