"""The codec training job: SEANet + RVQ generator vs multi-scale STFT discriminator.

``run_job(job)`` runs in the stage's process or under torchrun (``pipeline.train.job.run_training``):
build (or load, to fine-tune) the codec, the discriminator, seeded audio-crop batches and the
codec objective; run :func:`pipeline.train.adversarial.train_adversarial`; on rank 0 save the
codec (``pipeline.codec.save``), measure reconstruction on the validation segments, write
example reconstructions + a spectrogram figure and the training outputs.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import soundfile as sf
import torch

from pipeline.codec.config import CodecConfig
from pipeline.codec.data import CropBatches
from pipeline.codec.discriminator import MultiScaleSTFTDiscriminator
from pipeline.codec.evaluate import recon_metrics, spectrogram_figure
from pipeline.codec.load import load, save
from pipeline.codec.model import Codec
from pipeline.codec.objective import CodecObjective, LossWeights
from pipeline.codec.segments import load_segment, to_int16
from pipeline.train import distributed as D
from pipeline.train.adversarial import AdversarialConfig, train_adversarial
from pipeline.train.job import write_json, write_training_outputs

ENTRY = "pipeline.codec.train_job:run_job"


def build_codec(job: dict) -> Codec:
    if job.get("init_from"):
        codec = load(job["init_from"])  # fine-tune a released codec: its own config wins
    else:
        codec = Codec(CodecConfig.from_dict(job["codec"]))
    codec.check_rate(job["sample_rate"])
    return codec.train()


def adversarial_config(train: dict) -> AdversarialConfig:
    names = {f.name for f in fields(AdversarialConfig)}
    return AdversarialConfig(**{k: v for k, v in train.items() if k in names})


def run_job(job: dict) -> dict | None:
    cfg = adversarial_config(job["train"])
    info = D.setup(cfg.device)
    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    codec = build_codec(job)
    disc = MultiScaleSTFTDiscriminator(job["disc_filters"], job["disc_n_ffts"], codec.cfg.channels)
    crop = int(round(job["crop_s"] * codec.sample_rate))
    train_waves = [to_int16(load_segment(s)) for s in job["train_segments"]]
    val_waves = [load_segment(s) for s in job["val_segments"]]
    batches = CropBatches(train_waves, crop, job["batch_size"], seed=cfg.seed, rank=info.rank,
                          world_size=info.world_size)
    val = (CropBatches(val_waves, crop, job["batch_size"], seed=cfg.seed, rank=info.rank,
                       world_size=info.world_size) if val_waves else None)
    objective = CodecObjective(codec.sample_rate, LossWeights(**job["weights"]), job["adv_loss"],
                               tuple(job["mel_n_ffts"]), job["n_mels"])
    result = train_adversarial(codec, disc, objective, batches, cfg, job["ckpt_dir"], resume=job.get("resume", True),
                               val=val, fingerprint_extra=job.get("fingerprint"), dist_info=info)
    metrics = None
    if info.is_main:
        codec.eval()
        save(codec, job["model_dir"], extra={"init_from": job.get("init_from"), "steps": cfg.steps,
                                             "trained_on": {"segments": len(train_waves)}})
        recon, recons = recon_metrics(codec, val_waves)
        report = Path(job["report_dir"])
        samples = _write_samples(report, job["val_segments"], val_waves, recons, codec.sample_rate, job["samples"])
        extra = {"codec": codec.cfg.to_dict(), "sample_rate": codec.sample_rate, "n_q": codec.n_q,
                 "bins": codec.bins, "frame_rate": codec.frame_rate,
                 "bandwidth_kbps": round(codec.cfg.bandwidth_kbps, 3), "train_segments": len(train_waves),
                 "val_segments": len(val_waves), "samples_per_s": round(result.tokens_per_s, 1),
                 "init_from": job.get("init_from"), **recon}
        metrics = write_training_outputs(result, report, cfg.steps, extra=extra)
        write_json(report / "samples.json", samples)
    D.barrier(info)
    D.cleanup()
    return metrics


def _write_samples(report: Path, specs: list[dict], waves, recons, sample_rate: int, n: int) -> list[dict]:
    out, pairs = [], []
    for spec, w, r in list(zip(specs, waves, recons))[:n]:
        rel = [f"samples/{spec['id']}.orig.flac", f"samples/{spec['id']}.recon.flac"]
        (report / "samples").mkdir(parents=True, exist_ok=True)
        sf.write(str(report / rel[0]), w, sample_rate, format="FLAC", subtype="PCM_16")
        sf.write(str(report / rel[1]), r.clip(-1, 1), sample_rate, format="FLAC", subtype="PCM_16")
        out.append({"name": spec["id"], "condition": spec.get("condition"), "audio": rel})
        pairs.append((spec["id"], w, r))
    if pairs:
        spectrogram_figure(report / "plots" / "spectrograms.png", pairs, sample_rate)
    return out
