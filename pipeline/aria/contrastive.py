"""The Aria contrastive-embedding job: pretrained LM -> ``TransformerEMB`` by SimCSE-style finetune.

``run_job(job)`` is a plain function of a JSON-able spec (like :mod:`pipeline.aria.lm`), so
the ``aria_contrastive`` stage runs it in-process or under torchrun (``pipeline.train.job``). It
  1. reads the pieces of the train (and val) split from the ingested MIDI (unreadable ones are
     counted and listed, never fatal unless fewer than 2 pieces remain),
  2. builds a ``TransformerEMB`` with the LM's config plus ``emb_size``, copies every trunk
     tensor (``model.*``) from the LM checkpoint, initialises ``emb_head`` fresh (normal, 0.02),
  3. trains it with :class:`ContrastiveObjective` in THE training loop (``pipeline.train.loop``),
  4. rank 0 writes ``<model_dir>/model.safetensors`` (Aria layout with ``emb_head.weight``),
     ``config.json``, ``tokenizer.json``, and ``<report_dir>/metrics.json`` + ``plots/loss.csv``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from pipeline.data.jsonl import write_json
from pipeline.orchestration.stage import split_timings
from pipeline.train.job import rounded as _r
from pipeline.train.job import write_training_outputs

ENTRY = "pipeline.aria.contrastive:run_job"


def init_from_lm(lm_path: str | Path, emb_size: int, tok, seed: int):
    """A TransformerEMB whose trunk is the LM's; a new ``emb_head`` [emb_size, d]."""
    from pipeline.aria.model import TransformerEMB, init_weights
    from pipeline.aria.checkpoints import load_checked

    lm = load_checked(lm_path, tok, head="lm")
    torch.manual_seed(seed)
    model = TransformerEMB(lm.config.replace(emb_size=int(emb_size)))
    init_weights(model)
    trunk = {k: v for k, v in lm.state_dict().items() if k.startswith("model.")}
    missing, unexpected = model.load_state_dict(trunk, strict=False)
    if unexpected or missing != ["emb_head.weight"]:
        raise RuntimeError(f"trunk copy from {lm_path} failed: missing {missing}, unexpected {unexpected}")
    return model.train()


def run_job(job: dict) -> dict | None:
    from pipeline.aria.pieces import read_pieces
    from pipeline.aria.tokenizer import AbsTokenizer
    from pipeline.train import distributed as D
    from pipeline.aria.pairs import PairBatches
    from pipeline.train.contrastive import ContrastiveObjective
    from pipeline.train.loop import TrainConfig, train

    tcfg = TrainConfig(**job["train"])
    info = D.setup(tcfg.device)
    tok = AbsTokenizer(**job["tokenizer"]["config"])
    rows = [json.loads(line) for line in open(Path(job["ingest"]) / "index.jsonl", encoding="utf-8") if line.strip()]
    train_pieces, problems = read_pieces(job["ingest"], [r for r in rows if r.get("split") == "train"])
    val_pieces, val_problems = read_pieces(job["ingest"], [r for r in rows if r.get("split") == "val"])
    problems += val_problems
    model = init_from_lm(job["init_from"], job["emb_size"], tok, tcfg.seed)
    if job["max_tokens"] > model.config.max_seq_len:
        raise ValueError(f"contrastive.max_tokens {job['max_tokens']} exceeds the pretrained model's "
                         f"max_seq_len {model.config.max_seq_len}")
    notes, bs, aug = tuple(job["slice_notes"]), int(job["batch_size"]), bool(job.get("augment"))
    batches = PairBatches(train_pieces, tok, bs, notes, job["max_tokens"], seed=tcfg.seed, rank=info.rank,
                          world_size=info.world_size, augment=aug)
    val = None
    if len(val_pieces) // max(info.world_size, 1) >= 2:
        val = PairBatches(val_pieces, tok, bs, notes, job["max_tokens"], seed=tcfg.seed, rank=info.rank,
                          world_size=info.world_size)
    objective = ContrastiveObjective(tok.eos_id, tok.pad_id, job["temperature"])
    result = train(model, objective, batches, tcfg, job["ckpt_dir"], resume=job.get("resume", True), val=val,
                   fingerprint_extra=job.get("fingerprint"), dist_info=info)
    metrics = None
    if info.is_main:
        data = {"train_pieces": len(train_pieces), "val_pieces": len(val_pieces), "unreadable": problems}
        metrics = write_outputs(job, result, objective, val, data)
    D.barrier(info)
    D.cleanup()
    return metrics


@torch.no_grad()
def pair_accuracy(model, objective, batches) -> float | None:
    """Mean in-batch top-1 pair accuracy over the fixed validation batches of every val piece
    (not only rank 0's shard)."""
    from pipeline.aria.pairs import PairBatches

    if batches is None:
        return None
    whole = PairBatches(batches.pieces, batches.tok, batches.batch_size, batches.notes, batches.max_tokens,
                        seed=batches.seed)
    model.eval()
    accs = [objective(model, b).stats["pair_acc"] for b in whole.once()]
    return float(np.mean(accs)) if accs else None


def write_outputs(job: dict, result, objective, val, data: dict) -> dict:
    from pipeline.aria.model import save

    model = result.model.to("cpu").eval()
    model_dir, report_dir = Path(job["model_dir"]), Path(job["report_dir"])
    model_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = job["tokenizer"]
    save(model, model_dir / "model.safetensors",
         metadata={"tokenizer_hash": tokenizer.get("config_hash") or "", "vocab_size": str(tokenizer["vocab_size"]),
                   "stage": "aria_contrastive", "temperature": str(job["temperature"])})
    first = result.history[0]["train_loss"] if result.history else None
    extra = {"train_loss": _r(result.history[-1]["train_loss"]) if result.history else None,
             "first_train_loss": _r(first), "val_pair_acc": _r(pair_accuracy(model, objective, val)),
             "val_batch_size": val.batch_size if val is not None else None,
             "loss_at_chance": _r(float(np.log(job["batch_size"]))),
             "train_pieces": data["train_pieces"], "val_pieces": data["val_pieces"],
             "unreadable_pieces": len(data["unreadable"])}
    metrics = write_training_outputs(result, report_dir, job["train"]["steps"], extra)
    write_json(model_dir / "config.json", {
        "model": model.config.to_dict(), "tokenizer": tokenizer, "tokenizer_hash": tokenizer.get("config_hash"),
        "stage": "aria_contrastive", "init_from": job["init_from"], "temperature": job["temperature"],
        "slice_notes": job["slice_notes"], "max_tokens": job["max_tokens"], "augment": job.get("augment"),
        "batch_size": job["batch_size"], "train": job["train"], "metrics": split_timings(metrics)[0]})
    write_json(model_dir / "tokenizer.json", tokenizer)
    write_json(report_dir / "unreadable.json", data["unreadable"])
    return metrics
