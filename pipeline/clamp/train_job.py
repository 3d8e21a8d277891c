"""The scorer's training job (stage ``clamp_train``): M3 masked-patch pretraining, then CLaMP
alignment of the M3 encoder with a text tower over each piece's metadata, on the training core.

Phase 1 trains ``M3Model`` (encoder + char decoder) on the corpus' patches; phase 2 copies its
encoder into ``ClampModel.music_model`` and trains both towers with symmetric InfoNCE. Both
phases resume from their own checkpoint dirs. Writes ``clamp.pth`` and ``m3.pth`` in upstream's
layout (``model`` + ``epoch`` / ``best_epoch`` / ``min_eval_loss``), which
``pipeline.clamp.load`` and upstream's extraction script both read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pipeline.clamp.batches import ClampBatches, MaskedPatchBatches, Piece
from pipeline.clamp.corpus import read_split
from pipeline.clamp.model import ClampConfig, ClampModel, M3Model
from pipeline.clamp.objectives import ClampObjective, MaskedPatchObjective
from pipeline.clamp.patches import drop_comment_lines, encode
from pipeline.clamp.text import VOCAB_SIZE, metadata_lines
from pipeline.train import distributed as D
from pipeline.data.jsonl import write_json
from pipeline.orchestration.stage import split_timings
from pipeline.train.job import write_training_outputs
from pipeline.train.loop import TrainConfig, train

ENTRY = "pipeline.clamp.train_job:run_job"


def model_config(m: dict) -> ClampConfig:
    return ClampConfig(patch_size=m["patch_size"], patch_length=m["patch_length"], hidden=m["hidden"],
                       layers=m["layers"], proj=m["proj"], decoder_layers=m["decoder_layers"],
                       text_vocab=VOCAB_SIZE, text_positions=m["text_len"] + 2, text_hidden=m["text_hidden"],
                       text_layers=m["text_layers"], text_intermediate=4 * m["text_hidden"])


def label_with_prompt(piece) -> dict:
    period, composer, instrumentation = piece.prompt
    return {**piece.label, "period": period, "composer": composer, "instrumentation": instrumentation}


def pieces(store: str, split: str, patch_size: int) -> list[Piece]:
    """The M3 patches (prompt lines dropped, as extraction does) and metadata lines of a split."""
    return [Piece(encode(drop_comment_lines(p.text), patch_size), metadata_lines(label_with_prompt(p)))
            for p in read_split(store, split)]


def save_pth(model: torch.nn.Module, path: Path, steps: int, val_loss: float | None) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_suffix(".tmp")
    torch.save({"model": state, "epoch": steps, "best_epoch": steps,
                "min_eval_loss": float(val_loss) if val_loss is not None else float("nan")}, tmp)
    tmp.replace(path)


def run_job(job: dict) -> dict | None:
    m = job["model"]
    cfg = model_config(m)
    tcfg = TrainConfig(**job["train"])
    m3cfg = TrainConfig(**{**job["train"], "steps": m["m3_steps"], "lr": m["m3_lr"],
                           "warmup_steps": min(job["train"]["warmup_steps"], m["m3_steps"])})
    info = D.setup(tcfg.device)
    train_p = pieces(job["store"], "train", cfg.patch_size)
    val_p = pieces(job["store"], "val", cfg.patch_size)
    kw = dict(seed=tcfg.seed, rank=info.rank, world_size=info.world_size)
    bs = int(job["batch_size"])

    torch.manual_seed(tcfg.seed)
    m3 = M3Model(cfg)
    masked = MaskedPatchBatches(train_p, bs, cfg.patch_length, mask_ratio=m["mask_ratio"], **kw)
    m3_val = MaskedPatchBatches(val_p, bs, cfg.patch_length, mask_ratio=m["mask_ratio"], **kw) if val_p else None
    m3_res = train(m3, MaskedPatchObjective(), masked, m3cfg, Path(job["ckpt_dir"]) / "m3", val=m3_val,
                   fingerprint_extra=job.get("fingerprint"), dist_info=info)

    torch.manual_seed(tcfg.seed + 1)
    clamp = ClampModel(cfg)
    clamp.music_model.load_state_dict(m3_res.model.encoder.state_dict())
    pairs = ClampBatches(train_p, bs, cfg.patch_length, text_len=m["text_len"], text_dropout=m["text_dropout"], **kw)
    pair_val = (ClampBatches(val_p, bs, cfg.patch_length, text_len=m["text_len"], **kw)
                if len(val_p) // info.world_size >= 2 else None)
    res = train(clamp, ClampObjective(m["temperature"]), pairs, tcfg, Path(job["ckpt_dir"]) / "clamp",
                val=pair_val, fingerprint_extra={"m3": job.get("fingerprint"), "phase": "clamp"}, dist_info=info)
    metrics = None
    if info.is_main:
        model_dir, report_dir = Path(job["model_dir"]), Path(job["report_dir"])
        model_dir.mkdir(parents=True, exist_ok=True)
        save_pth(m3_res.model, model_dir / "m3.pth", m3cfg.steps, m3_res.val_loss)
        save_pth(res.model, model_dir / "clamp.pth", tcfg.steps, res.val_loss)
        m3_metrics = write_training_outputs(m3_res, report_dir / "m3", m3cfg.steps)
        first = res.history[0] if res.history else {}
        extra = {"m3_val_loss": m3_metrics["val_loss"], "m3_val_char_acc": m3_metrics.get("val_char_acc"),
                 "first_train_loss": first.get("train_loss"), "loss_at_chance": float(np.log(pairs.batch_size)),
                 "train_pieces": len(train_p), "val_pieces": len(val_p)}
        metrics = write_training_outputs(res, report_dir, tcfg.steps, extra)
        write_json(model_dir / "config.json", {"model": cfg.to_dict(), "params": m, "metrics": split_timings(metrics)[0],
                                               "text": "metadata lines, character vocabulary (pipeline/clamp/text.py)"})
    D.barrier(info)
    D.cleanup()
    return metrics
