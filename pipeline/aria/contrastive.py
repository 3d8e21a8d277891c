"""The Aria contrastive-embedding job: pretrained LM -> ``TransformerEMB`` by SimCSE-style finetune.

``run_job(job)`` (like :mod:`pipeline.aria.lm`) reads ``job.p`` (aria_contrastive) and
``job.inputs``: ``ingest`` (the ingested corpus), ``init_from`` (the LM checkpoint), ``tokenizer``,
and ``init`` when ``aria_contrastive.init`` names released weights (:func:`start_model`).
  1. reads the pieces of the train (and val) split from the ingested MIDI (unreadable ones are
     counted and listed, never fatal unless fewer than 2 pieces remain),
  2. builds a ``TransformerEMB`` with the LM's config plus ``emb_size``, copies every trunk
     tensor (``model.*``) from the LM checkpoint, initialises ``emb_head`` fresh (normal, 0.02),
  3. trains it with :class:`ContrastiveObjective` in THE training loop (``pipeline.train.loop``),
  4. rank 0 writes ``<model_dir>/model.safetensors`` (Aria layout with ``emb_head.weight``),
     ``config.json``, ``tokenizer.json``, and ``<report_dir>/metrics.json`` + ``plots/loss.csv``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pipeline.aria.lm import train_settings
from pipeline.data.jsonl import read_jsonl, write_json
from pipeline.orchestration.stage import split_timings
from pipeline.train.job import TrainJob, write_training_outputs
from pipeline.train.job import rounded as _r
from pipeline.train.loop import TrainConfig

ENTRY = "pipeline.aria.contrastive:run_job"


def init_from_lm(lm_path: str | Path, emb_size: int, tok, seed: int):
    """A TransformerEMB whose trunk is the LM's; a new ``emb_head`` [emb_size, d]."""
    from pipeline.aria.checkpoints import load_checked
    from pipeline.aria.model import TransformerEMB, init_weights

    lm = load_checked(lm_path, tok, head="lm")
    torch.manual_seed(seed)
    model = TransformerEMB(lm.config.replace(emb_size=int(emb_size)))
    init_weights(model)
    trunk = {k: v for k, v in lm.state_dict().items() if k.startswith("model.")}
    missing, unexpected = model.load_state_dict(trunk, strict=False)
    if unexpected or missing != ["emb_head.weight"]:
        raise RuntimeError(f"trunk copy from {lm_path} failed: missing {missing}, unexpected {unexpected}")
    return model.train()


def start_model(job: TrainJob, emb_size: int, tok, seed: int):
    """``aria_contrastive.init`` (pipeline/aria/released.py): an embedding checkpoint continues as
    it is (its emb_size wins), a language model gives its trunk; else ``init_from``'s trunk."""
    from pipeline.aria.checkpoints import load_checked
    from pipeline.aria.load import EMB_HEAD, read_header
    from pipeline.aria.released import checked_init

    if "init" not in job.inputs:
        return init_from_lm(job.inputs["init_from"], emb_size, tok, seed)
    path = checked_init(job.stage, job.inputs["init"], tok.vocab_size)
    if EMB_HEAD in read_header(path)[0]:
        return load_checked(path, tok, head="emb").train()
    return init_from_lm(path, emb_size, tok, seed)


def run_job(job: TrainJob) -> dict | None:
    from pipeline.aria.pairs import PairBatches
    from pipeline.aria.pieces import read_pieces
    from pipeline.aria.tokenizer import AbsTokenizer
    from pipeline.train import distributed as D
    from pipeline.train.contrastive import ContrastiveObjective
    from pipeline.train.loop import train

    p, tcfg, ingest = job.p, job.train_config(), job.inputs["ingest"]
    tok = AbsTokenizer(**job.inputs["tokenizer"]["config"])
    with D.session(job.device) as info:
        rows = read_jsonl(Path(ingest) / "index.jsonl")
        train_pieces, problems = read_pieces(ingest, [r for r in rows if r.get("split") == "train"])
        val_pieces, val_problems = read_pieces(ingest, [r for r in rows if r.get("split") == "val"])
        problems += val_problems
        model = start_model(job, p.emb_size, tok, tcfg.seed)
        if p.max_tokens > model.config.max_seq_len:
            raise ValueError(
                f"contrastive.max_tokens {p.max_tokens} exceeds the pretrained model's "
                f"max_seq_len {model.config.max_seq_len}"
            )
        views = dict(
            notes=tuple(p.slice_notes),
            max_tokens=p.max_tokens,
            seed=tcfg.seed,
            rank=info.rank,
            world_size=info.world_size,
        )
        batches = PairBatches(train_pieces, tok, p.batch_size, **views, augment=p.augment)
        val = None
        if len(val_pieces) // max(info.world_size, 1) >= 2:
            val = PairBatches(val_pieces, tok, p.batch_size, **views)
        objective = ContrastiveObjective(tok.eos_id, tok.pad_id, p.temperature)
        result = train(
            model,
            objective,
            batches,
            tcfg,
            job.ckpt_dir,
            resume=job.resume,
            val=val,
            fingerprint_extra=job.fingerprint,
            dist_info=info,
        )
        metrics = None
        if info.is_main:
            data = {"train_pieces": len(train_pieces), "val_pieces": len(val_pieces), "unreadable": problems}
            metrics = write_outputs(job, tcfg, result, objective, val, data)
    return metrics


@torch.no_grad()
def pair_accuracy(model, objective, batches) -> float | None:
    """Mean in-batch top-1 pair accuracy over the fixed validation batches of every val piece
    (not only rank 0's shard)."""
    from pipeline.aria.pairs import PairBatches

    if batches is None:
        return None
    whole = PairBatches(
        batches.pieces, batches.tok, batches.batch_size, batches.notes, batches.max_tokens, seed=batches.seed
    )
    model.eval()
    accs = [objective(model, b).stats["pair_acc"] for b in whole.once()]
    return float(np.mean(accs)) if accs else None


def write_outputs(job: TrainJob, tcfg: TrainConfig, result, objective, val, data: dict) -> dict:
    from pipeline.aria.model import save

    p, tokenizer = job.p, job.inputs["tokenizer"]
    model = result.model.to("cpu").eval()
    job.model_dir.mkdir(parents=True, exist_ok=True)
    save(
        model,
        job.model_dir / "model.safetensors",
        metadata={
            "tokenizer_hash": tokenizer.get("config_hash") or "",
            "vocab_size": str(tokenizer["vocab_size"]),
            "stage": job.stage,
            "temperature": str(p.temperature),
        },
    )
    first = result.history[0]["train_loss"] if result.history else None
    extra = {
        "train_loss": _r(result.history[-1]["train_loss"]) if result.history else None,
        "first_train_loss": _r(first),
        "val_pair_acc": _r(pair_accuracy(model, objective, val)),
        "val_batch_size": val.batch_size if val is not None else None,
        "loss_at_chance": _r(float(np.log(p.batch_size))),
        "train_pieces": data["train_pieces"],
        "val_pieces": data["val_pieces"],
        "unreadable_pieces": len(data["unreadable"]),
    }
    metrics = write_training_outputs(result, job.report_dir, tcfg.steps, extra)
    write_json(
        job.model_dir / "config.json",
        {
            "model": model.config.to_dict(),
            "tokenizer": tokenizer,
            "tokenizer_hash": tokenizer.get("config_hash"),
            "stage": job.stage,
            "init_from": job.inputs["init_from"],
            **({"init": Path(job.inputs["init"]).name} if "init" in job.inputs else {}),
            "temperature": p.temperature,
            "slice_notes": list(p.slice_notes),
            "max_tokens": p.max_tokens,
            "augment": p.augment,
            "batch_size": p.batch_size,
            "train": train_settings(job, tcfg),
            "metrics": split_timings(metrics)[0],
        },
    )
    write_json(job.model_dir / "tokenizer.json", tokenizer)
    write_json(job.report_dir / "unreadable.json", data["unreadable"])
    return metrics
