"""The Aria LM training job shared by the ``aria_pretrain`` and ``aria_finetune`` stages.

``run_job(job)`` reads ``job.p`` (the stage's params) and ``job.inputs``: ``tokenizer`` (the
tokenizer.json dict) and either ``pack`` (the pack stage's dir: pretraining from scratch, model
``p.model`` + ``p.model_overrides``) or ``tokens`` + ``init_from`` + ``seq_len`` (finetuning: the
pieces whose labels match ``p.filters``, packed in memory at ``seq_len``). Every worker builds the
same data and model; rank 0 writes:
  <model_dir>/model.safetensors   Aria key layout, config + tokenizer hash in the metadata
  <model_dir>/config.json         model config, tokenizer info, training summary
  <report_dir>/metrics.json       final val loss / perplexity, tokens/s, steps, parameters
  <report_dir>/plots/loss.csv     step, train_loss, val_loss, lr
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.aria.labels import label_value, matches
from pipeline.data.guards import check_same_tokenizer
from pipeline.data.jsonl import write_json
from pipeline.train.batches import RowBatches
from pipeline.train.job import TrainJob, write_training_outputs
from pipeline.train.loop import TrainConfig

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


def filtered_rows(
    tokens_dir: str | Path, split: str, filters: dict[str, list], seq_len: int, pad_id: int, mode: str = "concat"
) -> tuple[np.ndarray, dict]:
    """Pieces of ``split`` whose labels pass ``filters``, packed in memory; plus counts."""
    from pipeline.data.token_store import TokenStore, pack

    store = TokenStore(Path(tokens_dir) / split)
    keep = [i for i, lab in enumerate(store.labels) if matches(lab, filters)]
    if not keep:
        seen = {k: sorted({str(label_value(lab, k)) for lab in store.labels}) for k in filters}
        raise ValueError(f"no {split} piece matches filters {filters}; values present: {seen}")
    rows = pack([np.asarray(store.piece(i)) for i in keep], seq_len, pad_id, mode)
    return rows, {
        "pieces": len(keep),
        "of": len(store),
        "rows": int(len(rows)),
        "tokens": int(sum(store.lengths[i] for i in keep)),
    }


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


def build_rows(job: TrainJob, pad_id: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """(train rows, val rows, counts): the packed rows, or the filtered pieces packed here."""
    if "pack" in job.inputs:
        train, val = load_pack(job.inputs["pack"], "train"), load_pack(job.inputs["pack"], "val")
        return train, val, {"train_rows": len(train), "val_rows": len(val)}
    kw = dict(filters=dict(job.p.filters), seq_len=int(job.inputs["seq_len"]), pad_id=pad_id, mode=job.p.pack_mode)
    train, ti = filtered_rows(job.inputs["tokens"], "train", **kw)
    val, vi = filtered_rows(job.inputs["tokens"], "val", **kw)
    return train, val, {"train": ti, "val": vi}


# ----------------------------------------------------------------------------- model
def build_model(job: TrainJob, vocab_size: int, seq_len: int, tokenizer_hash: str | None):
    """From ``inputs["init"]`` (``<stage>.init``: released weights) or ``inputs["init_from"]`` (checked
    against this tokenizer and context), else a fresh
    ``ModelConfig.from_name(p.model, **p.model_overrides)`` sized to the data."""
    from pipeline.aria import model as aria
    from pipeline.aria.load import read_header
    from pipeline.aria.model_config import ModelConfig
    from pipeline.aria.released import checked_init

    if "init" in job.inputs or "init_from" in job.inputs:
        path = Path(job.inputs.get("init") or job.inputs["init_from"])  # the user's released weights win
        if "init" in job.inputs:
            path = checked_init(job.stage, path, vocab_size, head="lm")
        elif not path.is_file():
            raise FileNotFoundError(f"no checkpoint to fine-tune from at {path}")
        check_same_tokenizer(
            read_header(path)[1].get("tokenizer_hash"),
            tokenizer_hash,
            str(path),
            "fine-tune from a checkpoint of this tokenizer, or rerun its pretraining",
        )
        model = aria.load(path, expected_vocab_size=vocab_size, dtype=torch.float32)
        if model.config.max_seq_len < seq_len:
            raise ValueError(f"{path} has max_seq_len {model.config.max_seq_len} < data seq_len {seq_len}")
        return model.train()
    cfg = ModelConfig.from_name(job.p.model, **job.p.model_overrides, vocab_size=vocab_size, max_seq_len=seq_len)
    return aria.build(cfg).train()


# ----------------------------------------------------------------------------- job
def run_job(job: TrainJob) -> dict | None:
    """Train per ``job`` (see module doc); rank 0 writes the outputs and returns the metrics."""
    from pipeline.train import distributed as D
    from pipeline.train.loop import train
    from pipeline.train.objectives import LMObjective

    tcfg, tokenizer = job.train_config(), job.inputs["tokenizer"]
    pad_id, vocab = int(tokenizer["pad_id"]), int(tokenizer["vocab_size"])
    with D.session(job.device) as info:
        train_rows, val_rows, data_info = build_rows(job, pad_id)
        seq_len = int(train_rows.shape[1])
        torch.manual_seed(tcfg.seed)  # identical initial weights on every rank
        model = build_model(job, vocab, seq_len, tokenizer.get("config_hash"))
        bs, shard = job.p.batch_size, dict(rank=info.rank, world_size=info.world_size)
        batches = RowBatches(
            train_rows, bs, seed=tcfg.seed, **shard, transform=AriaRows(tokenizer["config"], pad_id, job.p.augment)
        )
        val = RowBatches(
            val_rows, bs, seed=tcfg.seed, shuffle=False, **shard, transform=AriaRows(tokenizer["config"], pad_id, False)
        )
        result = train(
            model,
            LMObjective(pad_id),
            batches,
            tcfg,
            job.ckpt_dir,
            resume=job.resume,
            val=val,
            fingerprint_extra=job.fingerprint,
            dist_info=info,
        )
        metrics = write_outputs(job, tcfg, result, tokenizer, data_info) if info.is_main else None
    return metrics


def train_settings(job: TrainJob, tcfg: TrainConfig) -> dict[str, Any]:
    """The loop settings the stage's params chose (+ seed, device), as config.json records them."""
    chosen = set(type(job.p).model_fields) | {"seed", "device"}
    return {k: v for k, v in dataclasses.asdict(tcfg).items() if k in chosen}


def write_outputs(job: TrainJob, tcfg: TrainConfig, result, tokenizer: dict, data_info: dict) -> dict:
    from pipeline.aria.model import save

    model = result.model.to("cpu").eval()
    job.model_dir.mkdir(parents=True, exist_ok=True)
    tok_hash = tokenizer.get("config_hash")
    save(
        model,
        job.model_dir / "model.safetensors",
        metadata={"tokenizer_hash": tok_hash or "", "vocab_size": str(tokenizer["vocab_size"]), "stage": job.stage},
    )
    metrics = write_training_outputs(result, job.report_dir, tcfg.steps)
    # only what the weights determine: timings stay in reports/, so equal runs give equal bytes
    write_json(
        job.model_dir / "config.json",
        {
            "model": model.config.to_dict(),
            "tokenizer": tokenizer,
            "tokenizer_hash": tok_hash,
            "stage": job.stage,
            "data": data_info,
            "train": train_settings(job, tcfg),
            "metrics": {k: metrics[k] for k in ("val_loss", "val_perplexity", "tokens", "steps", "parameters")},
        },
    )
    write_json(job.model_dir / "tokenizer.json", tokenizer)
    return metrics
