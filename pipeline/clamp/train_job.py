"""The scorer's training job (stage ``clamp_train``): M3 masked-patch pretraining, then CLaMP
alignment of the M3 encoder with a text tower over each piece's metadata, on the training core.

Phase 1 trains ``M3Model`` (encoder + char decoder) on the corpus' patches; phase 2 copies its
encoder into ``ClampModel.music_model`` and trains both towers with symmetric InfoNCE. Both
phases resume from their own checkpoint dirs. Writes ``clamp.pth`` and ``m3.pth`` in upstream's
layout (``model`` + ``epoch`` / ``best_epoch`` / ``min_eval_loss``), which
``pipeline.clamp.load`` and upstream's extraction script both read. ``job.inputs["store"]``: the
interleaved-ABC token store; ``job.inputs["init"]`` (``clamp_train.init``): released weights to
start from (pipeline/clamp/released.py: an M3 checkpoint starts phase 1, a CLaMP one skips it).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from pipeline.clamp.batches import ClampBatches, MaskedPatchBatches, Piece
from pipeline.clamp.corpus import read_split
from pipeline.clamp.model import ClampConfig, ClampModel, M3Model
from pipeline.clamp.objectives import ClampObjective, MaskedPatchObjective
from pipeline.clamp.patches import drop_comment_lines, encode
from pipeline.clamp.pth import save_pth
from pipeline.clamp.released import start_models
from pipeline.clamp.text import metadata_lines
from pipeline.data.jsonl import write_json
from pipeline.orchestration.stage import split_timings
from pipeline.params.clamp import ClampTrainParams
from pipeline.params.train import StageTrainParams
from pipeline.train import distributed as D
from pipeline.train.job import TrainJob, write_training_outputs
from pipeline.train.loop import run_logger, train

ENTRY = "pipeline.clamp.train_job:run_job"


def model_config(p: ClampTrainParams) -> ClampConfig:
    """The "tiny" config with every shape the section sets; the text tower's positions and width follow
    ``text_len`` (+ BOS/EOS) and ``text_hidden`` (x 4), as xlm-roberta-base's do."""
    shape = {f.name: getattr(p, f.name) for f in dataclasses.fields(ClampConfig) if f.name in type(p).model_fields}
    return ClampConfig.from_name("tiny", **shape, text_positions=p.text_len + 2, text_intermediate=4 * p.text_hidden)


def label_with_prompt(piece) -> dict:
    period, composer, instrumentation = piece.prompt
    return {**piece.label, "period": period, "composer": composer, "instrumentation": instrumentation}


def pieces(store: str, split: str, patch_size: int) -> list[Piece]:
    """The M3 patches (prompt lines dropped, as extraction does) and metadata lines of a split."""
    return [
        Piece(encode(drop_comment_lines(p.text), patch_size), metadata_lines(label_with_prompt(p)))
        for p in read_split(store, split)
    ]


def run_job(job: TrainJob) -> dict | None:
    p = job.p
    cfg, m3_start, clamp_start = start_models(job, model_config(p))
    tcfg = job.train_config()
    m3cfg = job.train_config(steps=p.m3_steps, lr=p.m3_lr, warmup_steps=min(p.warmup_steps, p.m3_steps))
    with D.session(job.device) as info:
        train_p = pieces(job.inputs["store"], "train", cfg.patch_size)
        val_p = pieces(job.inputs["store"], "val", cfg.patch_size)
        kw = dict(seed=tcfg.seed, rank=info.rank, world_size=info.world_size)
        if info.is_main:
            run_logger().info(
                "clamp_train: M3 %d steps (lr %g), CLaMP %d steps (lr %g), batch %d, H %d x %d layers, patch %d x %d",
                m3cfg.steps,
                m3cfg.lr,
                tcfg.steps,
                tcfg.lr,
                p.batch_size,
                cfg.hidden,
                cfg.layers,
                cfg.patch_size,
                cfg.patch_length,
            )

        m3_res = None if clamp_start is not None else phase_m3(job, cfg, m3cfg, m3_start, train_p, val_p, info, kw)
        torch.manual_seed(tcfg.seed + 1)
        clamp = clamp_start or ClampModel(cfg)
        text_len = cfg.text_positions - 2  # p.text_len, or what a CLaMP init fixes
        if m3_res is not None:
            clamp.music_model.load_state_dict(m3_res.model.encoder.state_dict())
        pairs = ClampBatches(
            train_p, p.batch_size, cfg.patch_length, text_len=text_len, text_dropout=p.text_dropout, **kw
        )
        pair_val = (
            ClampBatches(val_p, p.batch_size, cfg.patch_length, text_len=text_len, **kw)
            if len(val_p) // info.world_size >= 2
            else None
        )
        res = train(
            clamp,
            ClampObjective(p.temperature),
            pairs,
            tcfg,
            Path(job.ckpt_dir) / "clamp",
            resume=job.resume,
            val=pair_val,
            fingerprint_extra={"m3": job.fingerprint, "phase": "clamp"},
            dist_info=info,
        )
        if not info.is_main:
            return None
        model_dir, report_dir = Path(job.model_dir), Path(job.report_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        save_pth(res.model, model_dir / "clamp.pth", tcfg.steps, res.val_loss)
        m3_metrics = {}
        if m3_res is not None:  # a CLaMP init has no M3 phase
            save_pth(m3_res.model, model_dir / "m3.pth", m3cfg.steps, m3_res.val_loss)
            m3_metrics = write_training_outputs(m3_res, report_dir / "m3", m3cfg.steps)
        first = res.history[0] if res.history else {}
        extra = {
            "m3_val_loss": m3_metrics.get("val_loss"),
            "m3_val_char_acc": m3_metrics.get("val_char_acc"),
            "first_train_loss": first.get("train_loss"),
            "loss_at_chance": float(np.log(pairs.batch_size)),
            "train_pieces": len(train_p),
            "val_pieces": len(val_p),
        }
        metrics = write_training_outputs(res, report_dir, tcfg.steps, extra)
        own = p.model_dump(exclude=set(StageTrainParams.model_fields))  # the model and data keys of the section
        write_json(
            model_dir / "config.json",
            {
                "model": cfg.to_dict(),
                "params": own,
                "metrics": split_timings(metrics)[0],
                "text": "metadata lines, character vocabulary (pipeline/clamp/text.py)",
                **({"init": Path(job.inputs["init"]).name} if job.inputs.get("init") else {}),
            },
        )
        return metrics


def phase_m3(job: TrainJob, cfg: ClampConfig, m3cfg, start: M3Model | None, train_p, val_p, info, kw):
    """Phase 1: masked-patch training of M3 (from ``start``, released M3 weights, when given)."""
    p = job.p
    torch.manual_seed(m3cfg.seed)
    m3 = start if start is not None else M3Model(cfg)
    masked = MaskedPatchBatches(train_p, p.batch_size, cfg.patch_length, mask_ratio=p.mask_ratio, **kw)
    m3_val = MaskedPatchBatches(val_p, p.batch_size, cfg.patch_length, mask_ratio=p.mask_ratio, **kw) if val_p else None
    return train(
        m3,
        MaskedPatchObjective(),
        masked,
        m3cfg,
        Path(job.ckpt_dir) / "m3",
        resume=job.resume,
        val=m3_val,
        fingerprint_extra=job.fingerprint,
        dist_info=info,
    )
