"""The VALL-E training job on the core loop (in-process or under torchrun, like the Aria LM).

``job``: ``tokens`` (data/codec_tokenize), ``codec`` ({sample_rate, frame_rate, n_q, bins}),
``model`` ({name, overrides}) or ``init`` (a checkpoint to start from), ``train_stage``,
``max_frames``, ``max_tail_s``, ``batch_size``, ``train`` (TrainConfig kwargs), ``ckpt_dir``,
``model_dir``, ``report_dir``, ``fingerprint``. Rank 0 writes ``<model_dir>/model.safetensors``
(+ config.json) and the report (metrics.json, plots/loss.csv, quarantine.jsonl).
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from pathlib import Path

import torch

from pipeline.data.jsonl import write_json
from pipeline.train.job import write_training_outputs
from pipeline.valle.batches import ValleBatches
from pipeline.valle.data import load_pairs
from pipeline.valle.checkpoint import check_codec, load_valle, save_valle
from pipeline.valle.model import CONFIGS, Valle
from pipeline.valle.objective import ValleObjective

ENTRY = "pipeline.valle.train_job:run_job"


class NoTrainingData(ValueError):
    """Every pair of a split was quarantined (or the split is empty)."""


def build_model(job: dict) -> Valle:
    codec = job["codec"]
    if job.get("init"):
        model = load_valle(job["init"]).train()
        check_codec(model, SimpleNamespace(**codec))
        return model
    cfg = dataclasses.replace(CONFIGS[job["model"]["name"]], **job["model"].get("overrides", {}),
                              n_quantizers=int(codec["n_q"]), audio_bins=int(codec["bins"]))
    return Valle(cfg)


def run_job(job: dict) -> dict | None:
    from pipeline.train import distributed as D
    from pipeline.train.loop import TrainConfig, train

    tcfg = TrainConfig(**job["train"])
    info = D.setup(tcfg.device)
    codec = job["codec"]
    kw = {"max_frames": job["max_frames"], "max_tail_s": job["max_tail_s"]}
    train_items, _, bad = load_pairs(job["tokens"], "train", codec["frame_rate"], codec["n_q"], **kw)
    val_items, _, bad_val = load_pairs(job["tokens"], "val", codec["frame_rate"], codec["n_q"], **kw)
    if not train_items:
        raise NoTrainingData(f"no usable training pairs in {job['tokens']}/train ({len(bad)} quarantined)")
    torch.manual_seed(tcfg.seed)
    model = build_model(job)
    model.freeze_for(job["train_stage"])
    bs = job["batch_size"]
    batches = ValleBatches(train_items, bs, seed=tcfg.seed, rank=info.rank, world_size=info.world_size)
    val = ValleBatches(val_items or train_items, bs, seed=tcfg.seed, shuffle=False, rank=info.rank,
                       world_size=info.world_size)
    result = train(model, ValleObjective(job["train_stage"]), batches, tcfg, job["ckpt_dir"],
                   resume=job.get("resume", True), val=val, fingerprint_extra=job.get("fingerprint"),
                   dist_info=info)
    metrics = None
    if info.is_main:
        out = Path(job["model_dir"])
        save_valle(result.model, out / "model.safetensors",
                   codec={"sample_rate": codec["sample_rate"], "frame_rate": codec["frame_rate"]})
        write_json(out / "config.json", {**result.model.cfg.to_dict(), "codec": codec,
                                         "train_stage": job["train_stage"]})
        report = Path(job["report_dir"])
        quarantine = bad + bad_val
        write_json(report / "quarantine.json", quarantine)
        metrics = write_training_outputs(result, report, tcfg.steps, extra={
            "train_items": len(train_items), "val_items": len(val_items), "quarantined": len(quarantine),
            "val_on_train": not val_items, "train_stage": job["train_stage"],
            "model": result.model.cfg.to_dict()})
    D.barrier(info)
    D.cleanup()
    return metrics
