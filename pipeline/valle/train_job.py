"""The VALL-E training job on the core loop (in-process or under torchrun, like the Aria LM).

Reads ``job.p`` (``valle_train``) and ``job.inputs``: ``tokens`` (the data/codec_tokenize dir),
``codec`` ({sample_rate, frame_rate, n_q, bins}), ``init`` (``valle_train.init``: a VALL-E
checkpoint to start from, ours or MIDI-VALLE's .pt; absent or None = from scratch). Rank 0 writes
``<model_dir>/model.safetensors`` (+ config.json) and the report (metrics.json, plots/loss.csv,
quarantine.json).
"""

from __future__ import annotations

import torch

from pipeline.data.jsonl import write_json
from pipeline.params.valle import ValleTrainParams
from pipeline.train import distributed as D
from pipeline.train.job import TrainJob, write_training_outputs
from pipeline.train.loop import train
from pipeline.valle.batches import ValleBatches
from pipeline.valle.checkpoint import save_valle
from pipeline.valle.data import load_pairs
from pipeline.valle.model import Valle, ValleConfig
from pipeline.valle.objective import ValleObjective
from pipeline.valle.released import checked

ENTRY = "pipeline.valle.train_job:run_job"


class NoTrainingData(ValueError):
    """Every pair of a split was quarantined (or the split is empty)."""


def codec_facts(codec) -> dict:
    """What VALL-E needs to know of its codec (JSON-able, for the job's inputs)."""
    return {
        "sample_rate": int(codec.sample_rate),
        "frame_rate": float(codec.frame_rate),
        "n_q": int(codec.n_q),
        "bins": int(codec.bins),
    }


def build_model(p: ValleTrainParams, codec: dict, init: str | None) -> Valle:
    if init:
        return checked(init, codec).train()
    return Valle(
        ValleConfig.from_name(
            p.model, **p.model_overrides, n_quantizers=int(codec["n_q"]), audio_bins=int(codec["bins"])
        )
    )


def run_job(job: TrainJob) -> dict | None:
    p, tokens, codec = job.p, job.inputs["tokens"], job.inputs["codec"]
    cfg = job.train_config()
    with D.session(job.device) as info:
        kw = {"max_frames": p.max_frames, "max_tail_s": p.max_tail_s}
        train_items, _, bad = load_pairs(tokens, "train", codec["frame_rate"], codec["n_q"], **kw)
        val_items, _, bad_val = load_pairs(tokens, "val", codec["frame_rate"], codec["n_q"], **kw)
        if not train_items:
            raise NoTrainingData(f"no usable training pairs in {tokens}/train ({len(bad)} quarantined)")
        torch.manual_seed(cfg.seed)
        model = build_model(p, codec, job.inputs.get("init"))
        model.freeze_for(p.train_stage)
        shard = {"seed": cfg.seed, "rank": info.rank, "world_size": info.world_size}
        batches = ValleBatches(train_items, p.batch_size, **shard)
        val = ValleBatches(val_items or train_items, p.batch_size, shuffle=False, **shard)
        result = train(
            model,
            ValleObjective(p.train_stage),
            batches,
            cfg,
            job.ckpt_dir,
            resume=job.resume,
            val=val,
            fingerprint_extra=job.fingerprint,
            dist_info=info,
        )
        if not info.is_main:
            return None
        save_valle(
            result.model,
            job.model_dir / "model.safetensors",
            codec={"sample_rate": codec["sample_rate"], "frame_rate": codec["frame_rate"]},
        )
        write_json(
            job.model_dir / "config.json", {**result.model.cfg.to_dict(), "codec": codec, "train_stage": p.train_stage}
        )
        quarantine = bad + bad_val
        write_json(job.report_dir / "quarantine.json", quarantine)
        return write_training_outputs(
            result,
            job.report_dir,
            cfg.steps,
            extra={
                "train_items": len(train_items),
                "val_items": len(val_items),
                "quarantined": len(quarantine),
                "val_on_train": not val_items,
                "train_stage": p.train_stage,
                "model": result.model.cfg.to_dict(),
            },
        )
